// storage-crash-helper: a child process for the storage crash tests. It opens a log dir, appends
// batches forever and prints "ack <last offset>" after each durable acknowledgement, until killed.
// Usage: storage-crash-helper <log dir> <posix|io_uring> <records per batch> [auto|direct|buffered]
import Foundation
import KafkaRecords
import NIOCore
import RunnelStorage

let arguments = CommandLine.arguments
guard arguments.count >= 4, let engine = IOEngineKind(rawValue: arguments[2]), let perBatch = Int(arguments[3]) else {
    FileHandle.standardError.write(Data("usage: storage-crash-helper <log dir> <posix|io_uring> <records per batch>\n".utf8))
    exit(2)
}
let ioMode = arguments.count > 4 ? LogIOMode(rawValue: arguments[4]) ?? .auto : LogManagerConfiguration.defaultLogIOMode
var configuration = LogManagerConfiguration.standalone(logDirs: [arguments[1]], ioEngine: engine, ioMode: ioMode)
configuration.defaultLogConfig.segmentBytes = 64 * 1024
configuration.defaultLogConfig.indexIntervalBytes = 512

func makeBatch(count: Int, timestamp: Int64) -> ByteBuffer {
    var body = ByteBufferAllocator().buffer(capacity: count * 40)
    for index in 0..<count {
        var record = ByteBufferAllocator().buffer(capacity: 40)
        record.writeInteger(Int8(0))
        record.writeInteger(UInt8(0))                       // timestamp delta 0
        record.writeInteger(UInt8(index * 2))               // offset delta (zigzag, < 64)
        record.writeInteger(UInt8(1))                       // key: null (-1 zigzag)
        record.writeInteger(UInt8(2 * 24))                  // value length 24
        record.writeBytes(Array(repeating: UInt8(index), count: 24))
        record.writeInteger(UInt8(0))                       // no headers
        body.writeInteger(UInt8(record.readableBytes * 2))
        body.writeBuffer(&record)
    }
    var batch = ByteBufferAllocator().buffer(capacity: 61 + body.readableBytes)
    batch.writeInteger(Int64(0))
    batch.writeInteger(Int32(49 + body.readableBytes))
    batch.writeInteger(Int32(0))
    batch.writeInteger(Int8(2))
    batch.writeInteger(UInt32(0))
    batch.writeInteger(Int16(0))
    batch.writeInteger(Int32(count - 1))
    batch.writeInteger(timestamp)
    batch.writeInteger(timestamp)
    batch.writeInteger(Int64(-1))
    batch.writeInteger(Int16(-1))
    batch.writeInteger(Int32(-1))
    batch.writeInteger(Int32(count))
    batch.writeBuffer(&body)
    let crc = CRC32C.checksum(of: batch, at: 21, length: batch.readableBytes - 21) ?? 0
    batch.setInteger(crc, at: 17)
    return batch
}

do {
    let manager = try LogManager(configuration: configuration)
    let log = try manager.log(topic: "crash", partition: 0)
        ?? manager.createLog(topic: "crash", partition: 0, topicId: nil)
    FileHandle.standardOutput.write(Data("ready \(log.logEndOffset)\n".utf8))
    while true {
        // Several appends in flight at once, so the kill lands between write and fsync too.
        let group = DispatchGroup()
        for _ in 0..<4 {
            group.enter()
            log.append(records: makeBatch(count: min(max(perBatch, 1), 30), timestamp: 1_000), leaderEpoch: 0) { result in
                if case let .success(appended) = result {
                    // Unbuffered: a line is out before the next append starts.
                    FileHandle.standardOutput.write(Data("ack \(appended.lastOffset)\n".utf8))
                }
                group.leave()
            }
        }
        group.wait()
    }
} catch {
    FileHandle.standardError.write(Data("storage-crash-helper: \(error)\n".utf8))
    exit(1)
}
