// kcat-style output templates and JSON output of consumed records.
import Foundation
import KafkaRecords
import NIOCore
import RunnelClient
import Testing

@Suite struct RecordFormatterTests {
    let record = ConsumerRecord(
        topic: "orders", partition: 3, offset: 42, timestamp: 1_767_225_600_250, key: ByteBuffer(string: "k1"),
        value: ByteBuffer(string: "hello"), headers: [RecordHeader(key: "h", value: ByteBuffer(string: "v"))])

    @Test func templateTokensRenderEveryField() throws {
        let formatter = try RecordFormatter(template: "%t/%p@%o %k=%s (%K,%S) %T %h\\n")
        #expect(formatter.string(for: record) == "orders/3@42 k1=hello (2,5) 1767225600250 h=v\n")
    }

    @Test func escapesAndPercentLiterals() throws {
        let formatter = try RecordFormatter(template: "%%\\t%s\\\\")
        #expect(formatter.string(for: record) == "%\thello\\")
    }

    @Test func isoTimestampToken() throws {
        #expect(try RecordFormatter(template: "%d").string(for: record) == "2026-01-01T00:00:00.250Z")
    }

    @Test func nullKeyPrintsNothingAndLengthMinusOne() throws {
        var keyless = record
        keyless.key = nil
        #expect(try RecordFormatter(template: "[%k][%K]").string(for: keyless) == "[][-1]")
    }

    @Test func unknownTokenIsAnError() {
        #expect(throws: RecordFormatError.self) { try RecordFormatter(template: "%q") }
    }

    @Test func jsonOutputParsesBackWithAllFields() throws {
        var tricky = record
        tricky.value = ByteBuffer(string: "line1\n\"quoted\"\t\u{01}")
        let line = RecordFormatter.json.string(for: tricky)
        #expect(line.hasSuffix("}\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["topic"] as? String == "orders")
        #expect(object["partition"] as? Int == 3)
        #expect(object["offset"] as? Int == 42)
        #expect(object["key"] as? String == "k1")
        #expect(object["value"] as? String == "line1\n\"quoted\"\t\u{01}")
        let headers = try #require(object["headers"] as? [[String: Any]])
        #expect(headers.first?["key"] as? String == "h")
    }

    @Test func jsonNullKeyIsNull() throws {
        var keyless = record
        keyless.key = nil
        let object = try #require(try JSONSerialization.jsonObject(
            with: Data(RecordFormatter.json.string(for: keyless).utf8)) as? [String: Any])
        #expect(object["key"] is NSNull)
    }
}
