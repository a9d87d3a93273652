// Scenarios: the storage benchmarks of issue 3 that take seconds to minutes — append throughput
// (page-cache and durable acknowledgement, 1 or many partitions, several appenders), sequential read,
// offset-by-timestamp latency on a large log, recovery of an unflushed tail, clean open of many
// partitions. Each prints one JSON line; tools/bench/storage_bench.py turns them into ratios.
import Foundation
import KafkaRecords
import NIOCore
import RunnelStorage

enum Scenarios {
    static let base: Int64 = 1_700_000_000_000

    static func config(durable: Bool) -> LogConfig {
        var config = LogConfig()
        config.flushMessages = durable ? 1 : Int64.max
        config.flushMs = Int64.max
        return config
    }

    /// Appends `batches` batches across `logs` from `appenders` threads, each keeping `window` in flight.
    /// `next(i)` gives the batch for the i-th append (shared buffers are never modified).
    static func appendAll(_ logs: [PartitionLog], batches: Int, appenders: Int, window: Int,
                          next: @escaping @Sendable (Int) -> ValidatedBatches?) -> Int {
        let failures = ManagedAtomicCounter()
        let group = DispatchGroup()
        for appender in 0..<appenders {
            group.enter()
            let thread = Thread {
                let slots = DispatchSemaphore(value: window)
                let mine = DispatchGroup()
                var index = appender
                var turn = 0
                while index < batches {
                    slots.wait()
                    mine.enter()
                    let log = logs[(appender + turn * appenders) % logs.count]
                    guard let batches = next(index) else {
                        failures.increment()
                        slots.signal()
                        mine.leave()
                        index += appenders
                        turn += 1
                        continue
                    }
                    log.append(batches, leaderEpoch: 0) { result in
                        if case .failure = result { failures.increment() }
                        slots.signal()
                        mine.leave()
                    }
                    index += appenders
                    turn += 1
                }
                mine.wait()
                group.leave()
            }
            thread.start()
        }
        group.wait()
        return failures.value
    }

    static func createLogs(_ manager: LogManager, count: Int) throws -> [PartitionLog] {
        try (0..<count).map { try manager.createLog(topic: "bench", partition: Int32($0), topicId: nil) }
    }

    /// `append`: throughput and CPU per batch.
    static func append(_ options: Options, dir: String, engine: IOEngineKind) throws {
        let durable = options.string("ack", "page") == "durable"
        let partitions = options.int("partitions", 1)
        let appenders = options.int("appenders", 1)
        let window = options.int("in-flight", 16)
        let batch = makeBatch(count: options.int("records", 16), valueSize: options.int("value-bytes", 1000))
        let batches = max(options.int("bytes", 1 << 30) / batch.readableBytes, 1)
        let manager = try makeManager(dir: dir, engine: engine, config: config(durable: durable),
                                      syncfsMinFiles: options.values["syncfs-min-files"].flatMap { Int($0) })
        let logs = try createLogs(manager, count: partitions)
        // Warm-up: the first append of a leader epoch writes each partition's leader-epoch-checkpoint
        // (fsync + rename + directory fsync), a one-time cost kept out of the steady-state figures.
        let warmup = try validated(makeBatch(count: 1, valueSize: 10))
        _ = appendAll(logs, batches: partitions, appenders: 1, window: 64) { _ in warmup }
        FileHandle.standardError.write(Data("timed phase starts\n".utf8))  // for `perf record -p` after setup
        let cpu0 = processCPUNanos(), switches0 = contextSwitches(), start = nowNanos()
        let checked = try validated(batch)
        let failures = appendAll(logs, batches: batches, appenders: appenders, window: window) { _ in checked }
        let elapsed = nowNanos() - start, cpu = processCPUNanos() - cpu0, switches = contextSwitches() - switches0
        let bytes = batches * batch.readableBytes
        manager.shutdown()
        emit(["scenario": "append", "engine": manager.engineKinds.values.first?.rawValue ?? engine.rawValue,
              "ack": durable ? "durable" : "page", "partitions": partitions, "appenders": appenders, "inFlight": window,
              "batchBytes": batch.readableBytes, "batches": batches, "bytes": bytes, "failures": failures,
              "seconds": Double(elapsed) / 1e9, "MBps": Double(bytes) / Double(elapsed) * 1e9 / 1e6,
              "cpuNsPerBatch": cpu / UInt64(batches), "contextSwitchesPerBatch": Double(switches) / Double(batches)])
    }

    /// `read`: writes the log, then reads it from offset 0 to the end in `max-bytes` fetches, copying
    /// each slice into a buffer with pread (as a consumer's fetch would), page cache warm.
    static func read(_ options: Options, dir: String, engine: IOEngineKind) throws {
        let batch = makeBatch(count: 16, valueSize: 1000)
        let batches = max(options.int("bytes", 1 << 30) / batch.readableBytes, 1)
        let maxBytes = options.int("max-bytes", 1 << 20)
        let manager = try makeManager(dir: dir, engine: engine, config: config(durable: false))
        let log = try manager.createLog(topic: "bench", partition: 0, topicId: nil)
        let checked = try validated(batch)
        _ = appendAll([log], batches: batches, appenders: 1, window: 64) { _ in checked }
        log.updateHighWatermark(log.logEndOffset)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: maxBytes + (1 << 20), alignment: 4096)
        defer { buffer.deallocate() }
        var best: (seconds: Double, bytes: Int, fetches: Int) = (.infinity, 0, 0)
        for _ in 0..<options.int("passes", 3) {
            var offset: Int64 = 0
            var bytes = 0
            var fetches = 0
            let start = nowNanos()
            while offset < log.highWatermark {
                let result = try log.read(from: offset, maxBytes: maxBytes)
                guard let slice = result.slices.first else { break }
                let n = pread(slice.file.descriptor, buffer.baseAddress, slice.length, off_t(slice.position))
                guard n == slice.length else { throw StorageError.partitionOffline("short read") }
                fetches += 1
                let (next, consumed) = nextOffset(in: UnsafeRawBufferPointer(rebasing: buffer[0..<n]), after: offset)
                offset = next
                bytes += consumed
            }
            let seconds = Double(nowNanos() - start) / 1e9
            if seconds < best.seconds { best = (seconds, bytes, fetches) }
        }
        manager.shutdown()
        emit(["scenario": "read", "engine": engine.rawValue, "bytes": best.bytes, "fetches": best.fetches,
              "maxBytes": maxBytes, "seconds": best.seconds, "MBps": Double(best.bytes) / best.seconds / 1e6])
    }

    /// The offset after the last whole batch in `bytes` (what a consumer fetches next) and the bytes of
    /// the whole batches (a partial batch at the end is fetched again).
    static func nextOffset(in bytes: UnsafeRawBufferPointer, after fallback: Int64) -> (Int64, Int) {
        var position = 0
        var next = fallback
        while position + 61 <= bytes.count {
            let length = Int(Int32(bigEndian: bytes.loadUnaligned(fromByteOffset: position + 8, as: Int32.self)))
            guard length > 0, position + 12 + length <= bytes.count else { break }
            let base = Int64(bigEndian: bytes.loadUnaligned(fromByteOffset: position, as: Int64.self))
            let delta = Int32(bigEndian: bytes.loadUnaligned(fromByteOffset: position + 23, as: Int32.self))
            next = base + Int64(delta) + 1
            position += 12 + length
        }
        return (next, position)
    }

    /// `timestamp`: offset-by-timestamp latency on a log of `bytes` (one timestamp per batch, ascending),
    /// in the writing process and again after a clean reopen (first lookups load segments).
    static func timestamp(_ options: Options, dir: String, engine: IOEngineKind) throws {
        let template = makeBatch(count: 16, valueSize: 1000, timestamp: base)
        let batches = max(options.int("bytes", 10 << 30) / template.readableBytes, 1)
        let lookups = options.int("lookups", 20_000)
        var manager = try makeManager(dir: dir, engine: engine, config: config(durable: false))
        var log = try manager.createLog(topic: "bench", partition: 0, topicId: nil)
        let writeStart = nowNanos()
        _ = appendAll([log], batches: batches, appenders: 1, window: 64) { index in
            var copy = template
            restamp(&copy, timestamp: base + Int64(index))
            return try? validated(copy)
        }
        let writeSeconds = Double(nowNanos() - writeStart) / 1e9
        var results: [String: Any] = ["scenario": "timestamp", "engine": engine.rawValue, "bytes": batches * template.readableBytes,
                                      "segments": log.segmentBaseOffsets.count, "lookups": lookups, "writeSeconds": writeSeconds]
        for phase in ["warm", "reopened"] {
            if phase == "reopened" {
                manager.shutdown()
                manager = try makeManager(dir: dir, engine: engine, config: config(durable: false))
                guard let reopened = try manager.log(topic: "bench", partition: 0) else { throw StorageError.partitionOffline("gone") }
                log = reopened
            }
            var generator = SplitMix(seed: 42)
            var latencies: [UInt64] = []
            latencies.reserveCapacity(lookups)
            var wrong = 0
            for _ in 0..<lookups {
                let index = Int64(generator.next() % UInt64(batches))
                let target = base + index
                let start = nowNanos()
                let found = try log.offset(for: .timestamp(target))
                latencies.append(nowNanos() - start)
                if found?.offset != index * 16 { wrong += 1 }
            }
            latencies.sort()
            results[phase + "P50us"] = Double(percentile(latencies, 50)) / 1000
            results[phase + "P99us"] = Double(percentile(latencies, 99)) / 1000
            results[phase + "MaxUs"] = Double(latencies.last ?? 0) / 1000
            results[phase + "Wrong"] = wrong
        }
        manager.shutdown()
        emit(results)
    }

    /// `recovery`: writes `bytes` with page-cache acknowledgement and no flush, abandons the manager
    /// (no clean shutdown, no checkpoint), then times opening the log with a new manager.
    static func recovery(_ options: Options, dir: String, engine: IOEngineKind) throws {
        let batch = makeBatch(count: 16, valueSize: 1000)
        let batches = max(options.int("bytes", 1 << 30) / batch.readableBytes, 1)
        let first = try makeManager(dir: dir, engine: engine, config: config(durable: false))
        let log = try first.createLog(topic: "bench", partition: 0, topicId: nil)
        let checked = try validated(batch)
        _ = appendAll([log], batches: batches, appenders: 1, window: 64) { _ in checked }
        let expected = log.logEndOffset
        var cold = false
        if options.string("drop-caches", "no") == "yes" {
            sync()
            if let handle = FileHandle(forWritingAtPath: "/proc/sys/vm/drop_caches") {
                handle.write(Data("3\n".utf8))
                try? handle.close()
                cold = true
            }
        }
        let start = nowNanos()
        let second = try makeManager(dir: dir, engine: engine, config: config(durable: false))
        let recovered = try second.log(topic: "bench", partition: 0)
        let seconds = Double(nowNanos() - start) / 1e9
        let end = recovered?.logEndOffset ?? -1
        second.shutdown()
        emit(["scenario": "recovery", "engine": engine.rawValue, "bytes": batches * batch.readableBytes, "coldCache": cold,
              "seconds": seconds, "logEndOffsetMatches": end == expected])
        _ = first
    }

    /// `open`: `partitions` × `segments` written and shut down cleanly; times a new manager plus opening
    /// every partition (`threads` opening in parallel).
    static func open(_ options: Options, dir: String, engine: IOEngineKind) throws {
        let partitions = options.int("partitions", 1000)
        let segments = options.int("segments", 10)
        let batch = makeBatch(count: 4, valueSize: 200)
        var config = config(durable: false)
        config.segmentBytes = batch.readableBytes
        let setupStart = nowNanos()
        let manager = try makeManager(dir: dir, engine: engine, config: config)
        let logs = try createLogs(manager, count: partitions)
        let checked = try validated(batch)
        _ = appendAll(logs, batches: partitions * segments, appenders: 8, window: 1) { _ in checked }
        let segmentCount = logs.reduce(0) { $0 + $1.segmentBaseOffsets.count }
        manager.shutdown()
        let setupSeconds = Double(nowNanos() - setupStart) / 1e9
        var results: [String: Any] = ["scenario": "open", "engine": engine.rawValue, "partitions": partitions,
                                      "segments": segmentCount, "setupSeconds": setupSeconds]
        for threads in [1, options.int("threads", 4)] {
            let start = nowNanos()
            let reopened = try makeManager(dir: dir, engine: engine, config: config)
            let keys = reopened.partitions
            let opened = ManagedAtomicCounter()
            DispatchQueue.concurrentPerform(iterations: threads) { worker in
                for (index, key) in keys.enumerated() where index % threads == worker {
                    if (try? reopened.log(topic: key.topic, partition: key.partition)) != nil { opened.increment() }
                }
            }
            results["seconds\(threads)Thread"] = Double(nowNanos() - start) / 1e9
            results["opened\(threads)Thread"] = opened.value
            reopened.shutdown()
        }
        emit(results)
    }
}

/// A tiny thread-safe counter.
final class ManagedAtomicCounter: @unchecked Sendable {
    // @unchecked: `count` is only touched under `lock`.
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

/// Deterministic pseudo-random numbers.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
