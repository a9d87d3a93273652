// Minimal JSON string writing for per-record output, without building intermediate objects.
import NIOCore

/// Writes JSON string literals into a ByteBuffer.
public enum JSONText {
    /// Writes `text` as a quoted, escaped JSON string.
    public static func writeString(_ text: String, to output: inout ByteBuffer) {
        output.writeInteger(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { writeEscaped($0, to: &output) }
        output.writeInteger(UInt8(ascii: "\""))
    }

    /// Writes bytes as a JSON string (invalid UTF-8 replaced by U+FFFD), or `null`.
    public static func writeBytes(_ bytes: ByteBuffer?, to output: inout ByteBuffer) {
        guard let bytes else { output.writeString("null"); return }
        let text = String(decoding: bytes.readableBytesView, as: UTF8.self)
        writeString(text, to: &output)
    }

    private static func writeEscaped(_ utf8: UnsafeBufferPointer<UInt8>, to output: inout ByteBuffer) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\""): output.writeString("\\\"")
            case UInt8(ascii: "\\"): output.writeString("\\\\")
            case 10: output.writeString("\\n")
            case 13: output.writeString("\\r")
            case 9: output.writeString("\\t")
            case 0..<0x20:
                output.writeString("\\u00")
                output.writeInteger(hex[Int(byte >> 4)])
                output.writeInteger(hex[Int(byte & 0x0f)])
            default: output.writeInteger(byte)
            }
        }
    }
}
