// BenchSupport: helpers of the storage-bench scenarios — batch building (valid magic-v2 batches with a
// chosen timestamp), timing (wall clock and process CPU), a log manager on a scratch directory, and
// JSON output (one object per scenario on stdout, read by tools/bench/storage_bench.py).
import Foundation
import KafkaRecords
import NIOCore
import RunnelStorage

/// A magic-v2 batch of `count` uncompressed records with `valueSize`-byte values, timestamps
/// `timestamp` (all records), offsets 0..<count, a valid CRC.
func makeBatch(count: Int, valueSize: Int, timestamp: Int64 = 1_700_000_000_000) -> ByteBuffer {
    func varint(_ value: Int64, _ buffer: inout ByteBuffer) {
        var raw = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        while raw >= 0x80 {
            buffer.writeInteger(UInt8(raw & 0x7F) | 0x80)
            raw >>= 7
        }
        buffer.writeInteger(UInt8(raw))
    }
    var body = ByteBufferAllocator().buffer(capacity: count * (valueSize + 16))
    var record = ByteBufferAllocator().buffer(capacity: valueSize + 16)
    for index in 0..<count {
        record.clear()
        record.writeInteger(Int8(0))
        varint(0, &record)
        varint(Int64(index), &record)
        varint(-1, &record)
        varint(Int64(valueSize), &record)
        record.writeRepeatingByte(UInt8(truncatingIfNeeded: index &+ 7), count: valueSize)
        varint(0, &record)
        varint(Int64(record.readableBytes), &body)
        body.writeImmutableBuffer(record)
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
    batch.setInteger(CRC32C.checksum(of: batch, at: 21, length: batch.readableBytes - 21) ?? 0, at: 17)
    return batch
}

/// Re-stamps both timestamps of a batch built by `makeBatch` and fixes its CRC (in place).
func restamp(_ batch: inout ByteBuffer, timestamp: Int64) {
    batch.setInteger(timestamp, at: batch.readerIndex + 27)
    batch.setInteger(timestamp, at: batch.readerIndex + 35)
    let crc = CRC32C.checksum(of: batch, at: batch.readerIndex + 21, length: batch.readableBytes - 21) ?? 0
    batch.setInteger(crc, at: batch.readerIndex + 17)
}

/// Monotonic nanoseconds.
func nowNanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// User + system CPU time of the whole process, in nanoseconds.
func processCPUNanos() -> UInt64 {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    func ns(_ t: timeval) -> UInt64 { UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_usec) * 1000 }
    return ns(usage.ru_utime) + ns(usage.ru_stime)
}

/// Voluntary + involuntary context switches of the process so far.
func contextSwitches() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_nvcsw + usage.ru_nivcsw
}

/// A log manager on `dir` (background thread off).
func makeManager(dir: String, engine: IOEngineKind, config: LogConfig, syncfsMinFiles: Int? = nil) throws -> LogManager {
    var configuration = LogManagerConfiguration.standalone(logDirs: [dir], ioEngine: engine, defaults: config)
    if let syncfsMinFiles { configuration.syncfsMinFiles = syncfsMinFiles }
    configuration.maxOpenFiles = 8192
    return try LogManager(configuration: configuration)
}

/// `batch` checked once, the way the broker hands produce batches to the log (so the timed appends do
/// not pay a header check per append).
func validated(_ batch: ByteBuffer) throws -> ValidatedBatches {
    try ValidatedBatches.validate(batch, origin: .client, maxMessageBytes: .max)
}

/// Prints one result object as a JSON line.
func emit(_ fields: [String: Any]) {
    if let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]),
       let text = String(data: data, encoding: .utf8) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
}

/// Percentile of sorted values (nearest rank).
func percentile(_ sorted: [UInt64], _ p: Double) -> UInt64 {
    guard !sorted.isEmpty else { return 0 }
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

/// Command-line options: `--name value` pairs.
struct Options {
    var values: [String: String] = [:]
    init(_ arguments: ArraySlice<String>) {
        var iterator = arguments.makeIterator()
        while let name = iterator.next() {
            guard name.hasPrefix("--") else { continue }
            values[String(name.dropFirst(2))] = iterator.next() ?? ""
        }
    }
    func string(_ name: String, _ fallback: String) -> String { values[name] ?? fallback }
    func int(_ name: String, _ fallback: Int) -> Int { values[name].flatMap(parseSize) ?? fallback }

    /// 123, 16k, 1m, 10g (binary units).
    private func parseSize(_ text: String) -> Int? {
        let lower = text.lowercased()
        let units: [Character: Int] = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30]
        if let last = lower.last, let unit = units[last], let value = Int(lower.dropLast()) { return value * unit }
        return Int(lower)
    }
}
