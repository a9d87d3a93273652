// Round trips of every generated message in every valid version against an independent,
// schema-interpreting sample writer: decode(sample) re-encodes to the same bytes and decodes equal.
import KafkaCodegen
import KafkaProtocol
import NIOCore
import Testing

/// Opens the existential so two messages of the same dynamic type can be compared.
func messagesEqual<T: KafkaMessage>(_ lhs: T, _ rhs: any KafkaMessage) -> Bool {
    guard let rhs = rhs as? T else { return false }
    return lhs == rhs
}

@Suite struct GeneratedRoundTripTests {
    static func loadSchemas() throws -> [MessageSchema]? {
        guard let directories = SchemaLocation.schemaDirectories else { return nil }
        return try KafkaCodegen.loadSchemas(from: directories)
    }

    @Test(.enabled(if: SchemaLocation.isRequiredOrPresent, SchemaLocation.missingReason))
    func everyMessageRoundTripsInEveryValidVersionWithNonDefaultValues() throws {
        let schemas = try #require(try Self.loadSchemas(), SchemaLocation.missingReason)
        var checked = 0
        for schema in schemas where schema.kind != "header" && !schema.validVersions.isEmpty {
            guard let type = KafkaMessageDecoder.messageType(named: schema.name) else {
                Issue.record("no generated type for \(schema.name)")
                continue
            }
            let high = schema.validVersions.highest ?? schema.validVersions.lowest
            for version in schema.validVersions.lowest...high {
                let sample = SchemaSampleWriter.sample(schema, version: version)
                checkRoundTrip(type, name: schema.name, version: Int16(version), sample: sample)
                checked += 1
            }
        }
        #expect(checked >= 600)
    }

    func checkRoundTrip(_ type: any KafkaMessage.Type, name: String, version: Int16, sample: [UInt8]) {
        var input = ByteBuffer(bytes: sample)
        do {
            let decoded = try type.init(from: &input, version: version)
            #expect(input.readableBytes == 0, "\(name) v\(version): \(input.readableBytes) bytes left after decoding")
            var output = ByteBuffer()
            try decoded.encode(to: &output, version: version)
            let encoded = Array(output.readableBytesView)
            #expect(encoded == sample, "\(name) v\(version): re-encoded bytes differ (\(encoded.count) vs \(sample.count))")
            let again = try type.init(from: &output, version: version)
            let same: Bool = messagesEqual(again, decoded)
            #expect(same, "\(name) v\(version): decode(encode(x)) != x")
        } catch {
            Issue.record("\(name) v\(version): \(error)")
        }
    }

    @Test func dispatchDecodesEveryRequestApiAndRejectsVersionsOutsideTheRange() throws {
        for key in ApiKey.all {
            guard let range = key.validVersions, let type = KafkaMessageDecoder.requestType(for: key) else { continue }
            #expect(type.apiKey == key)
            var empty = ByteBuffer()
            #expect(throws: KafkaDecodingError.unsupportedVersion(apiKey: key.rawValue, version: range.upperBound + 1)) {
                _ = try KafkaMessageDecoder.decodeRequest(apiKey: key.rawValue, version: range.upperBound + 1, from: &empty)
            }
        }
        var empty = ByteBuffer()
        #expect(throws: KafkaDecodingError.unsupportedVersion(apiKey: 999, version: 0)) {
            _ = try KafkaMessageDecoder.decodeRequest(apiKey: 999, version: 0, from: &empty)
        }
    }
}
