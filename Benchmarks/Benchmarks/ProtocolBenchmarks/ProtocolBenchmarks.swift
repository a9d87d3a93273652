// ProtocolBenchmarks: decoding a ProduceRequest with 1 MiB of record batches down to validated batch
// headers (magic, length, CRC-32C), against a plain 1 MiB memcpy in the same run.
import Benchmark
import KafkaProtocol
import KafkaRecords
import NIOCore

/// Builds `count` record batches of `batchSize` bytes each with valid headers and CRCs.
func makeBatches(count: Int, batchSize: Int) -> ByteBuffer {
    var buffer = ByteBuffer()
    for index in 0..<count {
        let start = buffer.writerIndex
        buffer.writeInteger(Int64(index * 100))                       // baseOffset
        buffer.writeInteger(Int32(batchSize - RecordBatchLayout.logOverhead))
        buffer.writeInteger(Int32(0))                                  // partitionLeaderEpoch
        buffer.writeInteger(Int8(2))                                   // magic
        buffer.writeInteger(UInt32(0))                                 // crc, patched below
        buffer.writeInteger(Int16(0))                                  // attributes
        buffer.writeInteger(Int32(99))                                 // lastOffsetDelta
        buffer.writeInteger(Int64(1_700_000_000_000))
        buffer.writeInteger(Int64(1_700_000_000_100))
        buffer.writeInteger(Int64(-1))                                 // producerId
        buffer.writeInteger(Int16(-1))
        buffer.writeInteger(Int32(-1))
        buffer.writeInteger(Int32(100))                                // recordsCount
        buffer.writeRepeatingByte(0x5A, count: batchSize - RecordBatchLayout.headerSize)
        let crcStart = start + RecordBatchLayout.attributes
        let crc = CRC32C.checksum(of: buffer, at: crcStart, length: buffer.writerIndex - crcStart) ?? 0
        buffer.setInteger(crc, at: start + RecordBatchLayout.crc)
    }
    return buffer
}

/// Decodes the request and validates every batch header; returns the number of valid batches.
@inline(never)
func decodeAndValidate(_ frame: ByteBuffer, version: Int16) -> Int {
    var input = frame
    guard let request = try? ProduceRequest(from: &input, version: version) else { return -1 }
    var valid = 0
    for topic in request.topicData {
        for partition in topic.partitionData {
            guard let records = partition.records else { continue }
            var index = records.readerIndex
            while index < records.writerIndex {
                guard let header = RecordBatchHeader(from: records, at: index), header.magic == 2,
                      header.totalSize >= RecordBatchLayout.minimumBatchSize,
                      index + header.totalSize <= records.writerIndex
                else { return -1 }
                let crcStart = index + RecordBatchLayout.attributes
                let crcLength = header.totalSize - RecordBatchLayout.attributes
                guard CRC32C.checksum(of: records, at: crcStart, length: crcLength) == header.crc else { return -1 }
                valid += 1
                index += header.totalSize
            }
        }
    }
    return valid
}

let benchmarks: @Sendable () -> Void = {
    let mebibyte = 1 << 20
    let version: Int16 = 11
    var request = ProduceRequest()
    request.acks = -1
    request.timeoutMs = 30_000
    var topic = ProduceRequest.TopicProduceData()
    topic.name = "bench"
    var partition = ProduceRequest.PartitionProduceData()
    partition.index = 0
    partition.records = makeBatches(count: 16, batchSize: mebibyte / 16)
    topic.partitionData = [partition]
    request.topicData = [topic]
    var frame = ByteBuffer()
    try? request.encode(to: &frame, version: version)
    precondition(decodeAndValidate(frame, version: version) == 16, "benchmark setup produced invalid batches")

    let configuration = Benchmark.Configuration(metrics: [.throughput, .wallClock, .mallocCountTotal], scalingFactor: .one)

    Benchmark("ProduceRequest 1 MiB decode + batch header/CRC validation", configuration: configuration) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(decodeAndValidate(frame, version: version))
        }
    }

    Benchmark("memcpy 1 MiB (machine reference)", configuration: configuration) { benchmark in
        let source = [UInt8](repeating: 7, count: mebibyte)
        var destination = [UInt8](repeating: 0, count: mebibyte)
        for _ in benchmark.scaledIterations {
            destination.withUnsafeMutableBytes { d in source.withUnsafeBytes { s in d.copyMemory(from: s) } }
            blackHole(destination[Int.random(in: 0..<mebibyte)])
        }
    }
}
