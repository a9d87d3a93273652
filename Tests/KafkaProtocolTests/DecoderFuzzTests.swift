// Decoder fuzzing: random and mutated frames through the dispatch decoder for every request API and
// version. Nothing may crash; every failure is a typed KafkaDecodingError; successes re-encode.
import KafkaCodegen
import KafkaProtocol
import NIOCore
import Testing

/// A small deterministic generator (SplitMix64) so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct DecoderFuzzTests {
    /// Mutations applied to a valid seed frame.
    static func mutate(_ seed: [UInt8], using random: inout SplitMix64) -> [UInt8] {
        var frame = seed
        switch random.next() % 7 {
        case 0:
            // Truncate anywhere.
            frame = Array(frame.prefix(Int(random.next() % UInt64(frame.count + 1))))
        case 1:
            // Flip one to four bits.
            for _ in 0...(random.next() % 4) where !frame.isEmpty {
                let index = Int(random.next() % UInt64(frame.count))
                frame[index] ^= UInt8(1) << UInt8(random.next() % 8)
            }
        case 2:
            // Overwrite four bytes with an absurd int32 length / count (2^31 - 1, or -2).
            if frame.count >= 4 {
                let index = Int(random.next() % UInt64(frame.count - 3))
                let absurd: [UInt8] = random.next() % 2 == 0 ? [0x7F, 0xFF, 0xFF, 0xFF] : [0xFF, 0xFF, 0xFF, 0xFE]
                frame.replaceSubrange(index..<(index + 4), with: absurd)
            }
        case 3:
            // Splice in a maximal unsigned varint (a compact length of ~2^32).
            let index = Int(random.next() % UInt64(frame.count + 1))
            frame.insert(contentsOf: [0xFF, 0xFF, 0xFF, 0xFF, 0x0F], at: index)
        case 4:
            // Random bytes of random length.
            frame = (0..<Int(random.next() % 64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        case 5:
            // Overwrite an int16 with -1 (null marker) or 0x7FFF.
            if frame.count >= 2 {
                let index = Int(random.next() % UInt64(frame.count - 1))
                let value: [UInt8] = random.next() % 2 == 0 ? [0xFF, 0xFF] : [0x7F, 0xFF]
                frame.replaceSubrange(index..<(index + 2), with: value)
            }
        default:
            // Drop a random byte from the middle.
            if !frame.isEmpty { frame.remove(at: Int(random.next() % UInt64(frame.count))) }
        }
        return frame
    }

    @Test(.enabled(if: SchemaLocation.isRequiredOrPresent, SchemaLocation.missingReason))
    func hundredThousandMutatedFramesNeverCrashAndFailOnlyWithTypedErrors() throws {
        let directories = try #require(SchemaLocation.schemaDirectories, SchemaLocation.missingReason)
        let schemas = try KafkaCodegen.loadSchemas(from: directories)
            .filter { $0.kind == "request" && !$0.validVersions.isEmpty }
        var seeds: [(apiKey: Int16, version: Int16, bytes: [UInt8])] = []
        for schema in schemas {
            let high = schema.validVersions.highest ?? schema.validVersions.lowest
            for version in schema.validVersions.lowest...high {
                seeds.append((Int16(schema.apiKey ?? -1), Int16(version), SchemaSampleWriter.sample(schema, version: version)))
            }
        }
        #expect(seeds.count > 250)
        var random = SplitMix64(state: 0x5EED)
        let total = 100_000
        var decoded = 0
        var failures: [String: Int] = [:]
        for iteration in 0..<total {
            let seed = seeds[iteration % seeds.count]
            let frame = Self.mutate(seed.bytes, using: &random)
            var buffer = ByteBuffer(bytes: frame)
            do {
                let message = try KafkaMessageDecoder.decodeRequest(apiKey: seed.apiKey, version: seed.version, from: &buffer)
                decoded += 1
                // Whatever decodes must encode again in the same version.
                var output = ByteBuffer()
                do {
                    try message.encode(to: &output, version: seed.version)
                } catch {
                    Issue.record("api \(seed.apiKey) v\(seed.version): decoded frame fails to re-encode: \(error)")
                }
            } catch {
                // `error` is statically a KafkaDecodingError (typed throws); tally the kinds.
                failures[Self.kind(of: error), default: 0] += 1
            }
        }
        let failed = failures.values.reduce(0, +)
        #expect(decoded + failed == total)
        #expect(failed > total / 4, "mutations should mostly fail to decode")
        #expect(decoded > 0, "some mutations (e.g. bit flips in values) still decode")
        #expect(failures["truncated", default: 0] > 0 && failures["invalidLength", default: 0] > 0)
        #expect(failures["unsupportedVersion", default: 0] == 0, "seeds use valid versions only")
    }

    static func kind(of error: KafkaDecodingError) -> String {
        switch error {
        case .truncated: return "truncated"
        case .invalidLength: return "invalidLength"
        case .invalidVarint: return "invalidVarint"
        case .invalidUTF8: return "invalidUTF8"
        case .nullNotAllowed: return "nullNotAllowed"
        case .unsupportedVersion: return "unsupportedVersion"
        }
    }

    @Test func absurdCountsFailFastWithInvalidLength() throws {
        // MetadataRequest v12: a compact topics array claiming 2^32 - 2 entries with ten bytes left.
        var buffer = ByteBuffer()
        buffer.writeUnsignedVarint(UInt32.max)
        buffer.writeBytes([UInt8](repeating: 0, count: 10))
        #expect(throws: KafkaDecodingError.invalidLength(field: "Topics", length: Int64(UInt32.max) - 1)) {
            _ = try KafkaMessageDecoder.decodeRequest(apiKey: ApiKey.metadata.rawValue, version: 12, from: &buffer)
        }
        // ProduceRequest v3: an int32 topic count of 2^31 - 1.
        var produce = ByteBuffer()
        produce.writeKafkaString(nil, compact: false)  // transactional id
        produce.writeKafkaInteger(Int16(-1))          // acks
        produce.writeKafkaInteger(Int32(30_000))      // timeout
        produce.writeKafkaInteger(Int32.max)          // topic count
        produce.writeBytes([UInt8](repeating: 0, count: 10))
        #expect(throws: KafkaDecodingError.self) {
            _ = try KafkaMessageDecoder.decodeRequest(apiKey: 0, version: 3, from: &produce)
        }
    }
}
