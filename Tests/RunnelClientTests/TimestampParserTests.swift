// Parsing of user-typed times (`--from -1h`, ISO 8601) and start positions.
import RunnelClient
import Testing

@Suite struct TimestampParserTests {
    let now: Int64 = 1_767_225_600_000  // 2026-01-01T00:00:00Z

    @Test(arguments: [
        ("-1h", Int64(3_600_000)), ("-30m", 1_800_000), ("-90s", 90_000), ("-2d", 172_800_000),
        ("-500ms", 500), ("-1w", 604_800_000), ("-1.5h", 5_400_000),
    ])
    func relativeTimesCountBackFromNow(input: String, millisBefore: Int64) throws {
        #expect(try TimestampParser.parse(input, now: now) == now - millisBefore)
    }

    @Test func plusCountsForward() throws {
        #expect(try TimestampParser.parse("+10s", now: now) == now + 10_000)
    }

    @Test(arguments: [
        ("2026-01-01T00:00:00Z", Int64(1_767_225_600_000)),
        ("2026-01-01T01:00:00+01:00", 1_767_225_600_000),
        ("2026-01-01T00:00:00.250Z", 1_767_225_600_250),
        ("2026-01-01", 1_767_225_600_000),
        ("@1767225600123", 1_767_225_600_123),
    ])
    func absoluteTimesParse(input: String, expected: Int64) throws {
        #expect(try TimestampParser.parse(input, now: now) == expected)
    }

    @Test func nowIsNow() throws {
        #expect(try TimestampParser.parse("now", now: now) == now)
    }

    @Test(arguments: ["yesterday", "-1", "-1x", "2026-13-01T00:00:00Z", "", "@abc", "1h"])
    func badTimesAreRejectedWithTheInputInTheMessage(input: String) {
        #expect(throws: TimeParseError.self) { try TimestampParser.parse(input, now: now) }
        do {
            _ = try TimestampParser.parse(input, now: now)
        } catch {
            #expect(error.description.contains("'\(input)'"))
        }
    }

    @Test func formatRoundTripsThroughParse() throws {
        let text = TimestampParser.format(1_767_225_600_250)
        #expect(text == "2026-01-01T00:00:00.250Z")
        #expect(try TimestampParser.parse(text) == 1_767_225_600_250)
    }
}

@Suite struct StartPositionTests {
    let now: Int64 = 1_767_225_600_000

    @Test func namedPositions() throws {
        #expect(try StartPosition.parse("beginning", now: now) == .beginning)
        #expect(try StartPosition.parse("earliest", now: now) == .beginning)
        #expect(try StartPosition.parse("end", now: now) == .end)
        #expect(try StartPosition.parse("latest", now: now) == .end)
    }

    @Test func numbersAreOffsetsAndNegativeNumbersCountFromTheEnd() throws {
        #expect(try StartPosition.parse("42", now: now) == .offset(42))
        #expect(try StartPosition.parse("-10", now: now) == .fromEnd(10))
    }

    @Test func timesBecomeTimestamps() throws {
        #expect(try StartPosition.parse("-1h", now: now) == .timestamp(now - 3_600_000))
        #expect(try StartPosition.parse("2026-01-01T00:00:00Z", now: now) == .timestamp(1_767_225_600_000))
    }

    @Test func garbageIsAnError() {
        #expect(throws: TimeParseError.self) { try StartPosition.parse("sometime", now: now) }
    }
}
