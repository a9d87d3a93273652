// Wire primitives: varint boundaries, zig-zag, null vs empty, compact lengths, bounded counts.
import KafkaProtocol
import NIOCore
import Testing

@Suite struct PrimitiveTests {
    func bytes(_ buffer: ByteBuffer) -> [UInt8] { Array(buffer.readableBytesView) }

    @Test(arguments: [
        (UInt32(0), [UInt8(0x00)]),
        (UInt32(127), [0x7F]),
        (UInt32(128), [0x80, 0x01]),
        (UInt32(16_383), [0xFF, 0x7F]),
        (UInt32(16_384), [0x80, 0x80, 0x01]),
        (UInt32.max, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
    ])
    func unsignedVarintBoundariesEncodeToTheShortestForm(value: UInt32, expected: [UInt8]) throws {
        var buffer = ByteBuffer()
        buffer.writeUnsignedVarint(value)
        #expect(bytes(buffer) == expected)
        #expect(ByteBuffer.unsignedVarintSize(value) == expected.count)
        #expect(try buffer.readUnsignedVarint() == value)
        #expect(buffer.readableBytes == 0)
    }

    @Test(arguments: [
        (Int32(0), UInt32(0)), (-1, 1), (1, 2), (-2, 3), (Int32.max, UInt32.max - 1), (Int32.min, UInt32.max),
    ])
    func zigZagVarintMapsSignedValuesAsKafkaDoes(value: Int32, zigZag: UInt32) throws {
        var buffer = ByteBuffer()
        buffer.writeVarint(value)
        var raw = buffer
        #expect(try raw.readUnsignedVarint() == zigZag)
        #expect(try buffer.readVarint() == value)
    }

    @Test(arguments: [Int64(0), -1, 1, Int64.max, Int64.min, 1 << 40, -(1 << 40)])
    func varlongRoundTripsAtTheExtremes(value: Int64) throws {
        var buffer = ByteBuffer()
        buffer.writeVarlong(value)
        #expect(buffer.readableBytes <= 10)
        #expect(try buffer.readVarlong() == value)
    }

    @Test func overlongOrOverflowingVarintsAreRejected() {
        var sixBytes = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        #expect(throws: KafkaDecodingError.invalidVarint) { _ = try sixBytes.readUnsignedVarint() }
        var overflow = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0x10])
        #expect(throws: KafkaDecodingError.invalidVarint) { _ = try overflow.readUnsignedVarint() }
        var truncated = ByteBuffer(bytes: [0x80, 0x80])
        #expect(throws: KafkaDecodingError.truncated(field: "varint")) { _ = try truncated.readVarint() }
        var longVarlong = ByteBuffer(bytes: [UInt8](repeating: 0xFF, count: 10) + [0x01])
        #expect(throws: KafkaDecodingError.invalidVarint) { _ = try longVarlong.readVarlong() }
    }

    @Test func nullAndEmptyStringsAreDistinctInBothEncodings() throws {
        for compact in [false, true] {
            var buffer = ByteBuffer()
            buffer.writeKafkaString(nil, compact: compact)
            buffer.writeKafkaString("", compact: compact)
            buffer.writeKafkaString("hé", compact: compact)
            #expect(bytes(buffer) == (compact ? [0, 1, 4, 0x68, 0xC3, 0xA9] : [0xFF, 0xFF, 0, 0, 0, 3, 0x68, 0xC3, 0xA9]))
            #expect(try buffer.readKafkaNullableString(compact: compact, field: "a") == nil)
            #expect(try buffer.readKafkaNullableString(compact: compact, field: "b") == "")
            #expect(try buffer.readKafkaString(compact: compact, field: "c") == "hé")
        }
    }

    @Test func nullForANonNullableStringIsATypedError() {
        var buffer = ByteBuffer(bytes: [0xFF, 0xFF])
        #expect(throws: KafkaDecodingError.nullNotAllowed(field: "Name")) {
            _ = try buffer.readKafkaString(compact: false, field: "Name")
        }
    }

    @Test func nullAndEmptyBytesAndArraysUseTheRightLengthMarkers() throws {
        var buffer = ByteBuffer()
        buffer.writeKafkaBytes(nil, compact: false)
        buffer.writeKafkaBytes(ByteBuffer(), compact: true)
        buffer.writeKafkaArrayCount(nil, compact: true)
        buffer.writeKafkaArrayCount(0, compact: false)
        #expect(bytes(buffer) == [0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0, 0, 0])
        #expect(try buffer.readKafkaNullableBytes(compact: false, field: "a") == nil)
        #expect(try buffer.readKafkaBytes(compact: true, field: "b").readableBytes == 0)
        #expect(try buffer.readKafkaArrayCount(compact: true, minimumElementSize: 1, field: "c") == nil)
        #expect(try buffer.readKafkaArrayCount(compact: false, minimumElementSize: 1, field: "d") == 0)
    }

    @Test func anArrayCountOfTwoToTheThirtyFirstWithTenBytesLeftFailsBeforeAllocating() {
        var buffer = ByteBuffer(bytes: [0x7F, 0xFF, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 10))
        #expect(throws: KafkaDecodingError.invalidLength(field: "Topics", length: Int64(Int32.max))) {
            _ = try buffer.readKafkaArrayCount(compact: false, minimumElementSize: 1, field: "Topics")
        }
        var compact = ByteBuffer()
        compact.writeUnsignedVarint(UInt32.max)
        compact.writeBytes([UInt8](repeating: 0, count: 10))
        #expect(throws: KafkaDecodingError.invalidLength(field: "Topics", length: Int64(UInt32.max) - 1)) {
            _ = try compact.readKafkaArrayCount(compact: true, minimumElementSize: 1, field: "Topics")
        }
    }

    @Test func arrayCountsAreBoundedByTheMinimumElementSize() throws {
        var buffer = ByteBuffer(bytes: [0, 0, 0, 3] + [UInt8](repeating: 0, count: 11))
        #expect(throws: KafkaDecodingError.invalidLength(field: "x", length: 3)) {
            _ = try buffer.readKafkaArrayCount(compact: false, minimumElementSize: 4, field: "x")
        }
        var enough = ByteBuffer(bytes: [0, 0, 0, 3] + [UInt8](repeating: 0, count: 12))
        #expect(try enough.readKafkaArrayCount(compact: false, minimumElementSize: 4, field: "x") == 3)
    }

    @Test func negativeLengthsOtherThanNullAreInvalid() {
        var buffer = ByteBuffer(bytes: [0xFF, 0xFE, 0x41])
        #expect(throws: KafkaDecodingError.invalidLength(field: "s", length: -2)) {
            _ = try buffer.readKafkaNullableString(compact: false, field: "s")
        }
    }

    @Test func invalidUTF8IsRejected() {
        var buffer = ByteBuffer(bytes: [0, 2, 0xC3, 0x28])
        #expect(throws: KafkaDecodingError.invalidUTF8(field: "s")) {
            _ = try buffer.readKafkaString(compact: false, field: "s")
        }
    }

    @Test func fixedWidthReadsReportTruncation() {
        var buffer = ByteBuffer(bytes: [1, 2, 3])
        #expect(throws: KafkaDecodingError.truncated(field: "n")) { _ = try buffer.readKafkaInteger(as: Int32.self, field: "n") }
        var uuid = ByteBuffer(bytes: [UInt8](repeating: 1, count: 15))
        #expect(throws: KafkaDecodingError.truncated(field: "id")) { _ = try uuid.readKafkaUUID(field: "id") }
    }

    @Test func integersFloatsBoolsAndUUIDsAreBigEndian() throws {
        var buffer = ByteBuffer()
        buffer.writeKafkaInteger(Int16(-2))
        buffer.writeKafkaInteger(UInt32(0x0102_0304))
        buffer.writeKafkaFloat64(1.5)
        buffer.writeKafkaBool(true)
        let id = KafkaUUID(mostSignificantBits: 0x0011_2233_4455_6677, leastSignificantBits: 0x8899_AABB_CCDD_EEFF)
        buffer.writeKafkaUUID(id)
        #expect(bytes(buffer).prefix(6) == [0xFF, 0xFE, 1, 2, 3, 4])
        #expect(try buffer.readKafkaInteger(as: Int16.self, field: "a") == -2)
        #expect(try buffer.readKafkaInteger(as: UInt32.self, field: "b") == 0x0102_0304)
        #expect(try buffer.readKafkaFloat64(field: "c") == 1.5)
        #expect(try buffer.readKafkaBool(field: "d"))
        #expect(try buffer.readKafkaUUID(field: "e") == id)
    }

    @Test func uuidPrintsAsKafkasURLSafeBase64AndParsesBack() {
        let id = KafkaUUID(mostSignificantBits: 0xFBFF_FFFF_FFFF_FFFF, leastSignificantBits: 0xFFFF_FFFF_FFFF_FFFF)
        #expect(id.description == "-" + String(repeating: "_", count: 20) + "w")
        #expect(KafkaUUID(base64: id.description) == id)
        #expect(KafkaUUID.zero.description == "AAAAAAAAAAAAAAAAAAAAAA")
        let random = KafkaUUID.random()
        #expect(random != .zero)
        #expect(KafkaUUID(base64: random.description) == random)
        #expect(KafkaUUID(base64: "short") == nil)
    }

    @Test func classicStringsLongerThanInt16MaxFailToEncodeInsteadOfWrapping() throws {
        var buffer = ByteBuffer()
        let long = String(repeating: "a", count: 40_000)
        #expect(throws: KafkaEncodingError.self) { try buffer.writeKafkaString(long, compact: false, field: "Value") }
        try buffer.writeKafkaString(long, compact: true, field: "Value")
        #expect(try buffer.readKafkaString(compact: true, field: "Value").utf8.count == 40_000)
    }
}
