// The checkable fields of one record, read without allocating: for validation passes (produce-side
// record checks, recompression) that walk every record but never need its key, value or headers.
import NIOCore

/// One record's offset delta, timestamp delta and key nullness, read from its encoding as strictly as
/// `Record` reads it (every length checked, the body consumed exactly) but without building headers,
/// strings or slices.
public struct RecordFrame: Sendable, Equatable {
    /// Offset relative to the batch's base offset.
    public var offsetDelta: Int32
    /// Timestamp relative to the batch's base timestamp.
    public var timestampDelta: Int64
    /// False for a null key (which a compacted topic rejects).
    public var hasKey: Bool
    /// Size of the record including its length varint.
    public var sizeInBytes: Int

    /// Reads one length-prefixed record at the reader index of `buffer`, advancing past it.
    public static func read(from buffer: inout ByteBuffer) throws(RecordBatchError) -> RecordFrame {
        let start = buffer.readerIndex
        guard let length = buffer.readVarint() else { throw .corruptRecord("malformed record length varint") }
        guard length >= 0, Int(length) <= buffer.readableBytes, var body = buffer.readSlice(length: Int(length)) else {
            throw .corruptRecord("record length \(length) exceeds the \(buffer.readableBytes) bytes left in the batch")
        }
        guard body.readInteger(as: Int8.self) != nil,
              let timestampDelta = body.readVarlong(),
              let offsetDelta = body.readVarint()
        else { throw .corruptRecord("record of \(length) bytes ends inside its fixed fields") }
        let hasKey = try skipNullableBytes(in: &body, what: "key")
        _ = try skipNullableBytes(in: &body, what: "value")
        guard let headerCount = body.readVarint() else { throw .corruptRecord("malformed header count") }
        guard headerCount >= 0, Int(headerCount) * 2 <= body.readableBytes else {
            throw .corruptRecord("invalid header count \(headerCount) for \(body.readableBytes) remaining bytes")
        }
        for _ in 0..<headerCount {
            guard let keyLength = body.readVarint(), keyLength >= 0, body.readSlice(length: Int(keyLength)) != nil else {
                throw .corruptRecord("invalid or null record header key")
            }
            _ = try skipNullableBytes(in: &body, what: "header value")
        }
        guard body.readableBytes == 0 else {
            throw .corruptRecord("record declared \(length) bytes but \(body.readableBytes) were left unread")
        }
        return RecordFrame(offsetDelta: offsetDelta, timestampDelta: timestampDelta, hasKey: hasKey,
                           sizeInBytes: buffer.readerIndex - start)
    }

    /// Skips a varint-length-prefixed byte string (-1: null); returns false when it was null.
    private static func skipNullableBytes(in body: inout ByteBuffer, what: String) throws(RecordBatchError) -> Bool {
        guard let length = body.readVarint() else { throw .corruptRecord("malformed \(what) length varint") }
        if length < 0 {
            guard length == -1 else { throw .corruptRecord("invalid \(what) length \(length)") }
            return false
        }
        guard Int(length) <= body.readableBytes else {
            throw .corruptRecord("\(what) length \(length) exceeds the \(body.readableBytes) bytes left in the record")
        }
        body.moveReaderIndex(forwardBy: Int(length))
        return true
    }
}
