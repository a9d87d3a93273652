// One record of a magic-v2 batch (key, value, headers, deltas) and its decoder from the batch bytes.
import NIOCore

/// A record header: a UTF-8 key and an optional value.
public struct RecordHeader: Sendable, Equatable {
    /// The header key (UTF-8; never null in Kafka).
    public var key: String
    /// The header value, nil for a null value.
    public var value: ByteBuffer?

    /// A header with `key` and `value`.
    public init(key: String, value: ByteBuffer?) {
        self.key = key
        self.value = value
    }
}

/// One record, its key and value sharing storage with the batch (or with the decompressed records).
public struct Record: Sendable, Equatable {
    /// Record-level attributes (unused by Kafka so far; always 0 when written by Runnel).
    public var attributes: Int8
    /// Timestamp relative to the batch's base timestamp.
    public var timestampDelta: Int64
    /// Offset relative to the batch's base offset.
    public var offsetDelta: Int32
    /// Absolute timestamp: base timestamp + delta, or the batch's max timestamp under LogAppendTime.
    public var timestamp: Int64
    /// Absolute offset: base offset + delta.
    public var offset: Int64
    /// The record key, nil for a null key.
    public var key: ByteBuffer?
    /// The record value, nil for a null value (a tombstone in compacted topics).
    public var value: ByteBuffer?
    /// The record headers, in order.
    public var headers: [RecordHeader]

    /// A record with all fields given (decoders and tests).
    public init(attributes: Int8 = 0, timestampDelta: Int64, offsetDelta: Int32, timestamp: Int64, offset: Int64,
                key: ByteBuffer?, value: ByteBuffer?, headers: [RecordHeader] = []) {
        self.attributes = attributes
        self.timestampDelta = timestampDelta
        self.offsetDelta = offsetDelta
        self.timestamp = timestamp
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
    }
}

extension Record {
    /// Decodes one length-prefixed record from the reader index of `buffer`, advancing past it.
    /// `logAppendTime` is the batch's max timestamp when the batch uses LogAppendTime, else nil.
    static func read(from buffer: inout ByteBuffer, baseOffset: Int64, baseTimestamp: Int64,
                     logAppendTime: Int64?) throws(RecordBatchError) -> Record {
        guard let length = buffer.readVarint() else { throw .corruptRecord("malformed record length varint") }
        guard length >= 0, Int(length) <= buffer.readableBytes,
              var body = buffer.readSlice(length: Int(length))
        else {
            throw .corruptRecord("record length \(length) exceeds the \(buffer.readableBytes) bytes left in the batch")
        }
        guard let attributes = body.readInteger(as: Int8.self),
              let timestampDelta = body.readVarlong(),
              let offsetDelta = body.readVarint()
        else { throw .corruptRecord("record of \(length) bytes ends inside its fixed fields") }
        let key = try readNullableBytes(from: &body, what: "key")
        let value = try readNullableBytes(from: &body, what: "value")
        guard let headerCount = body.readVarint() else { throw .corruptRecord("malformed header count") }
        // Each header needs at least two varint bytes; checking first keeps a lying count from allocating.
        guard headerCount >= 0, Int(headerCount) * 2 <= body.readableBytes else {
            throw .corruptRecord("invalid header count \(headerCount) for \(body.readableBytes) remaining bytes")
        }
        var headers: [RecordHeader] = []
        if headerCount > 0 {
            headers.reserveCapacity(Int(headerCount))
            for _ in 0..<headerCount {
                guard let keyLength = body.readVarint(), keyLength >= 0,
                      let keyBytes = body.readSlice(length: Int(keyLength))
                else { throw .corruptRecord("invalid or null record header key") }
                let headerValue = try readNullableBytes(from: &body, what: "header value")
                headers.append(RecordHeader(key: String(buffer: keyBytes), value: headerValue))
            }
        }
        guard body.readableBytes == 0 else {
            throw .corruptRecord("record declared \(length) bytes but \(body.readableBytes) were left unread")
        }
        let (offset, offsetOverflow) = baseOffset.addingReportingOverflow(Int64(offsetDelta))
        let (timestamp, timestampOverflow) = baseTimestamp.addingReportingOverflow(timestampDelta)
        guard !offsetOverflow, !timestampOverflow else { throw .corruptRecord("offset or timestamp delta overflows") }
        return Record(attributes: attributes, timestampDelta: timestampDelta, offsetDelta: offsetDelta,
                      timestamp: logAppendTime ?? timestamp, offset: offset, key: key, value: value,
                      headers: headers)
    }

    private static func readNullableBytes(from body: inout ByteBuffer, what: String)
        throws(RecordBatchError) -> ByteBuffer? {
        guard let length = body.readVarint() else { throw .corruptRecord("malformed \(what) length varint") }
        if length < 0 {
            guard length == -1 else { throw .corruptRecord("invalid \(what) length \(length)") }
            return nil
        }
        guard let bytes = body.readSlice(length: Int(length)) else {
            throw .corruptRecord("\(what) length \(length) exceeds the \(body.readableBytes) bytes left in the record")
        }
        return bytes
    }

    /// Encoded size of a record's body (everything after its length varint).
    static func bodySize(timestampDelta: Int64, offsetDelta: Int32, keyLength: Int?, valueLength: Int?,
                         headers: [RecordHeader]) -> Int {
        var size = 1 + Varint.size(timestampDelta) + Varint.size(offsetDelta)
        size += nullableSize(keyLength) + nullableSize(valueLength)
        size += Varint.size(Int32(truncatingIfNeeded: headers.count))
        for header in headers {
            let keyLength = header.key.utf8.count
            size += Varint.size(Int32(truncatingIfNeeded: keyLength)) + keyLength
            size += nullableSize(header.value?.readableBytes)
        }
        return size
    }

    private static func nullableSize(_ length: Int?) -> Int {
        guard let length else { return 1 }
        return Varint.size(Int32(truncatingIfNeeded: length)) + length
    }

    /// Writes one record (length varint + body) at the writer index of `buffer`.
    static func write(to buffer: inout ByteBuffer, timestampDelta: Int64, offsetDelta: Int32, key: ByteBuffer?,
                      value: ByteBuffer?, headers: [RecordHeader]) {
        let size = bodySize(timestampDelta: timestampDelta, offsetDelta: offsetDelta, keyLength: key?.readableBytes,
                            valueLength: value?.readableBytes, headers: headers)
        buffer.reserveCapacity(minimumWritableBytes: size + 5)
        buffer.writeVarint(Int32(truncatingIfNeeded: size))
        buffer.writeInteger(Int8(0))
        buffer.writeVarlong(timestampDelta)
        buffer.writeVarint(offsetDelta)
        writeNullable(key, to: &buffer)
        writeNullable(value, to: &buffer)
        buffer.writeVarint(Int32(truncatingIfNeeded: headers.count))
        for header in headers {
            buffer.writeVarint(Int32(truncatingIfNeeded: header.key.utf8.count))
            buffer.writeString(header.key)
            writeNullable(header.value, to: &buffer)
        }
    }

    private static func writeNullable(_ bytes: ByteBuffer?, to buffer: inout ByteBuffer) {
        guard var bytes else {
            buffer.writeVarint(-1)
            return
        }
        buffer.writeVarint(Int32(truncatingIfNeeded: bytes.readableBytes))
        buffer.writeBuffer(&bytes)
    }
}
