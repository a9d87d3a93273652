// Shared helpers for KafkaRecords tests: sample batches and byte-level corruption.
import KafkaRecords
import NIOCore

enum Sample {
    /// A batch of `count` records with keys, values (every third value null) and a header on even records.
    static func batch(count: Int = 5, compression: CompressionCodec = .none, baseTimestamp: Int64 = 1_700_000_000_000,
                      producerId: Int64 = -1, producerEpoch: Int16 = -1, baseSequence: Int32 = -1,
                      isTransactional: Bool = false) throws -> ByteBuffer {
        var builder = RecordBatchBuilder(compression: compression, producerId: producerId, producerEpoch: producerEpoch,
                                         baseSequence: baseSequence, isTransactional: isTransactional)
        for index in 0..<count {
            builder.append(key: ByteBuffer(string: "key-\(index)"),
                           value: index % 3 == 2 ? nil : ByteBuffer(string: "value-\(index)-" + String(repeating: "x", count: index)),
                           headers: index % 2 == 0 ? [RecordHeader(key: "h\(index)", value: ByteBuffer(string: "hv")),
                                                     RecordHeader(key: "null", value: nil)] : [],
                           timestamp: baseTimestamp + Int64(index * 10))
        }
        return try builder.build()
    }

    /// Concatenates buffers.
    static func concat(_ parts: [ByteBuffer]) -> ByteBuffer {
        var out = ByteBuffer()
        for var part in parts { out.writeBuffer(&part) }
        return out
    }

    /// Flips bit `bit` of the byte at `offset` (relative to the reader index).
    static func flip(_ buffer: ByteBuffer, byte offset: Int, bit: Int = 0) -> ByteBuffer {
        var copy = buffer
        let index = copy.readerIndex + offset
        let old = copy.getInteger(at: index, as: UInt8.self) ?? 0
        copy.setInteger(old ^ UInt8(1 << bit), at: index)
        return copy
    }

    static func bytes(_ buffer: ByteBuffer) -> [UInt8] { buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes) ?? [] }
    static func string(_ buffer: ByteBuffer?) -> String? { buffer.map { String(buffer: $0) } }
}
