// StorageBenchmarks: PartitionLog append and read throughput next to machine references measured in
// the same run — raw pwrite + fdatasync from Swift, and `dd oflag=dsync` — so results read as ratios.
// Run: cd Benchmarks && swift package benchmark --target StorageBenchmarks
import Benchmark
import Foundation
import KafkaRecords
import NIOCore
import RunnelStorage

/// A magic-v2 batch of `count` records of `valueSize` bytes (uncompressed, valid CRC).
func makeBatch(count: Int, valueSize: Int) -> ByteBuffer {
    func varint(_ value: Int64, _ buffer: inout ByteBuffer) {
        var raw = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        while raw >= 0x80 {
            buffer.writeInteger(UInt8(raw & 0x7F) | 0x80)
            raw >>= 7
        }
        buffer.writeInteger(UInt8(raw))
    }
    var body = ByteBufferAllocator().buffer(capacity: count * (valueSize + 16))
    for index in 0..<count {
        var record = ByteBufferAllocator().buffer(capacity: valueSize + 16)
        record.writeInteger(Int8(0))
        varint(0, &record)
        varint(Int64(index), &record)
        varint(-1, &record)
        varint(Int64(valueSize), &record)
        record.writeRepeatingByte(7, count: valueSize)
        varint(0, &record)
        varint(Int64(record.readableBytes), &body)
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
    batch.writeInteger(Int64(1_700_000_000_000))
    batch.writeInteger(Int64(1_700_000_000_000))
    batch.writeInteger(Int64(-1))
    batch.writeInteger(Int16(-1))
    batch.writeInteger(Int32(-1))
    batch.writeInteger(Int32(count))
    batch.writeBuffer(&body)
    batch.setInteger(CRC32C.checksum(of: batch, at: 21, length: batch.readableBytes - 21) ?? 0, at: 17)
    return batch
}

func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "runnel-bench-" + UUID().uuidString
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func makeLog(engine: IOEngineKind, config: LogConfig = LogConfig()) throws -> (LogManager, PartitionLog, String) {
    let dir = temporaryDirectory()
    let configuration = LogManagerConfiguration.standalone(logDirs: [dir], ioEngine: engine, defaults: config)
    let manager = try LogManager(configuration: configuration)
    return (manager, try manager.createLog(topic: "bench", partition: 0, topicId: nil), dir)
}

/// Appends `batches` copies of `batch` with up to `inFlight` outstanding, waiting for all completions.
func appendAll(_ log: PartitionLog, batch: ByteBuffer, batches: Int, inFlight: Int) {
    // Checked once, as the broker's validator does before the log sees a batch.
    guard let checked = try? ValidatedBatches.validate(batch, origin: .client, maxMessageBytes: .max) else { return }
    let window = DispatchSemaphore(value: inFlight)
    let group = DispatchGroup()
    for _ in 0..<batches {
        window.wait()
        group.enter()
        log.append(checked, leaderEpoch: 0) { _ in
            window.signal()
            group.leave()
        }
    }
    group.wait()
}

let batchesPerIteration = 256

let benchmarks: @Sendable () -> Void = {
    let throughput = Benchmark.Configuration(metrics: [.throughput, .wallClock], maxDuration: .seconds(5), maxIterations: 50)

    Benchmark("reference: pwrite 64 KiB + fdatasync each (Swift)", configuration: throughput) { benchmark in
        let dir = temporaryDirectory()
        let fd = open(dir + "/raw", O_RDWR | O_CREAT, 0o644)
        let block = [UInt8](repeating: 7, count: 64 * 1024)
        var position: off_t = 0
        for _ in benchmark.scaledIterations {
            for _ in 0..<batchesPerIteration / 8 {
                _ = block.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, position) }
                position += off_t(block.count)
                _ = fdatasync(fd)
            }
        }
        close(fd)
        try? FileManager.default.removeItem(atPath: dir)
    }

    Benchmark("reference: dd bs=64k count=32 oflag=dsync", configuration: throughput) { benchmark in
        let dir = temporaryDirectory()
        for _ in benchmark.scaledIterations {
            let dd = Process()
            dd.executableURL = URL(fileURLWithPath: "/bin/dd")
            dd.arguments = ["if=/dev/zero", "of=\(dir)/dd", "bs=64k", "count=32", "oflag=dsync", "status=none"]
            try? dd.run()
            dd.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    for engine in [IOEngineKind.posix, .ioUring] {
        Benchmark("append 64 KiB batches, durable, 1 in flight (\(engine.rawValue))", configuration: throughput) { benchmark in
            guard let (manager, log, dir) = try? makeLog(engine: engine) else { return }
            let batch = makeBatch(count: 64, valueSize: 1_000)
            for _ in benchmark.scaledIterations { appendAll(log, batch: batch, batches: batchesPerIteration / 8, inFlight: 1) }
            manager.shutdown()
            try? FileManager.default.removeItem(atPath: dir)
        }

        Benchmark("append 1 KiB batches, durable, 64 in flight / group commit (\(engine.rawValue))", configuration: throughput) { benchmark in
            guard let (manager, log, dir) = try? makeLog(engine: engine) else { return }
            let batch = makeBatch(count: 1, valueSize: 1_000)
            for _ in benchmark.scaledIterations { appendAll(log, batch: batch, batches: batchesPerIteration, inFlight: 64) }
            manager.shutdown()
            try? FileManager.default.removeItem(atPath: dir)
        }

        Benchmark("append 64 KiB batches, page cache ack (\(engine.rawValue))", configuration: throughput) { benchmark in
            var config = LogConfig()
            config.flushMessages = Int64.max
            guard let (manager, log, dir) = try? makeLog(engine: engine, config: config) else { return }
            let batch = makeBatch(count: 64, valueSize: 1_000)
            for _ in benchmark.scaledIterations { appendAll(log, batch: batch, batches: batchesPerIteration, inFlight: 16) }
            manager.shutdown()
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    Benchmark("read 1 MiB slices from offset lookups", configuration: throughput) { benchmark in
        var config = LogConfig()
        config.flushMessages = Int64.max
        guard let (manager, log, dir) = try? makeLog(engine: .posix, config: config) else { return }
        appendAll(log, batch: makeBatch(count: 16, valueSize: 1_000), batches: 1_024, inFlight: 16)
        log.updateHighWatermark(log.logEndOffset)
        let end = log.logEndOffset
        for _ in benchmark.scaledIterations {
            for _ in 0..<64 {
                let result = try? log.read(from: Int64.random(in: 0..<end), maxBytes: 1 << 20)
                blackHole(result?.byteCount)
            }
        }
        manager.shutdown()
        try? FileManager.default.removeItem(atPath: dir)
    }
}
