// Renders consumed records as text: kcat-style `-f` templates or one JSON object per line.
import KafkaRecords
import NIOCore

/// Error for a template that cannot be compiled.
public struct RecordFormatError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Formats `ConsumerRecord`s for output. Compile once, then `write` per record into a reusable buffer.
///
/// Template tokens follow kcat's `-f`: `%t` topic, `%p` partition, `%o` offset, `%k` key, `%K` key length,
/// `%s` value, `%S` value length, `%T` timestamp (ms), `%h` headers (`k=v,k2=v2`), `%%` a percent sign;
/// plus `%d` the timestamp as ISO 8601. Escapes: `\n`, `\t`, `\r`, `\\`, `\0`.
/// Null keys and values print nothing; their lengths print as -1.
public struct RecordFormatter: Sendable {
    enum Token: Sendable, Equatable {
        case literal([UInt8])
        case topic, partition, offset, key, keyLength, value, valueLength, timestamp, isoTimestamp, headers
    }

    /// Template output or JSON lines.
    public enum Style: Sendable { case template, json }

    let tokens: [Token]
    public let style: Style

    /// kcat's default when printing keys: `key<TAB>value`.
    public static let defaultTemplate = "%s\\n"

    /// A template formatter; throws for an unknown `%` token.
    public init(template: String) throws(RecordFormatError) {
        style = .template
        tokens = try Self.compile(template)
    }

    /// A formatter printing one JSON object per record per line.
    public static var json: RecordFormatter { RecordFormatter(style: .json) }

    private init(style: Style) {
        self.style = style
        tokens = []
    }

    static func compile(_ template: String) throws(RecordFormatError) -> [Token] {
        var tokens: [Token] = []
        var literal: [UInt8] = []
        func flush() {
            if !literal.isEmpty { tokens.append(.literal(literal)); literal.removeAll() }
        }
        let bytes = Array(template.utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if (byte == UInt8(ascii: "%") || byte == UInt8(ascii: "\\")) && index + 1 < bytes.count {
                let next = bytes[index + 1]
                index += 2
                if byte == UInt8(ascii: "\\") {
                    switch next {
                    case UInt8(ascii: "n"): literal.append(10)
                    case UInt8(ascii: "t"): literal.append(9)
                    case UInt8(ascii: "r"): literal.append(13)
                    case UInt8(ascii: "0"): literal.append(0)
                    case UInt8(ascii: "\\"): literal.append(UInt8(ascii: "\\"))
                    default: literal.append(byte); literal.append(next)
                    }
                    continue
                }
                let token: Token
                switch next {
                case UInt8(ascii: "%"): literal.append(next); continue
                case UInt8(ascii: "t"): token = .topic
                case UInt8(ascii: "p"): token = .partition
                case UInt8(ascii: "o"): token = .offset
                case UInt8(ascii: "k"): token = .key
                case UInt8(ascii: "K"): token = .keyLength
                case UInt8(ascii: "s"): token = .value
                case UInt8(ascii: "S"): token = .valueLength
                case UInt8(ascii: "T"): token = .timestamp
                case UInt8(ascii: "d"): token = .isoTimestamp
                case UInt8(ascii: "h"): token = .headers
                default:
                    throw RecordFormatError(message:
                        "unknown format token '%\(Character(Unicode.Scalar(next)))' (known: %t %p %o %k %K %s %S %T %d %h %%)")
                }
                flush()
                tokens.append(token)
            } else {
                literal.append(byte)
                index += 1
            }
        }
        flush()
        return tokens
    }

    /// Appends the rendering of `record` to `output`.
    public func write(_ record: ConsumerRecord, to output: inout ByteBuffer) {
        switch style {
        case .json: writeJSON(record, to: &output)
        case .template:
            for token in tokens {
                switch token {
                case .literal(let bytes): output.writeBytes(bytes)
                case .topic: output.writeString(record.topic)
                case .partition: output.writeString(String(record.partition))
                case .offset: output.writeString(String(record.offset))
                case .key: if var key = record.key { output.writeBuffer(&key) }
                case .keyLength: output.writeString(String(record.key?.readableBytes ?? -1))
                case .value: if var value = record.value { output.writeBuffer(&value) }
                case .valueLength: output.writeString(String(record.value?.readableBytes ?? -1))
                case .timestamp: output.writeString(String(record.timestamp))
                case .isoTimestamp: output.writeString(TimestampParser.format(record.timestamp))
                case .headers:
                    for (index, header) in record.headers.enumerated() {
                        if index > 0 { output.writeString(",") }
                        output.writeString(header.key)
                        output.writeString("=")
                        if var value = header.value { output.writeBuffer(&value) }
                    }
                }
            }
        }
    }

    /// The rendering of `record` as a String (tests, small outputs).
    public func string(for record: ConsumerRecord) -> String {
        var buffer = ByteBuffer()
        write(record, to: &buffer)
        return String(buffer: buffer)
    }

    private func writeJSON(_ record: ConsumerRecord, to output: inout ByteBuffer) {
        output.writeString("{\"topic\":")
        JSONText.writeString(record.topic, to: &output)
        output.writeString(",\"partition\":\(record.partition),\"offset\":\(record.offset)")
        output.writeString(",\"timestamp\":\(record.timestamp),\"timestampType\":")
        output.writeString(record.timestampType == .createTime ? "\"CreateTime\"" : "\"LogAppendTime\"")
        output.writeString(",\"key\":")
        JSONText.writeBytes(record.key, to: &output)
        output.writeString(",\"value\":")
        JSONText.writeBytes(record.value, to: &output)
        output.writeString(",\"headers\":[")
        for (index, header) in record.headers.enumerated() {
            if index > 0 { output.writeString(",") }
            output.writeString("{\"key\":")
            JSONText.writeString(header.key, to: &output)
            output.writeString(",\"value\":")
            JSONText.writeBytes(header.value, to: &output)
            output.writeString("}")
        }
        output.writeString("]}\n")
    }
}
