// TestBatches: builds magic-v2 record batches (uncompressed, correct CRC) and temporary log dirs for
// the storage tests, until KafkaRecords' builder lands.
import Foundation
import KafkaRecords
import NIOCore
@testable import RunnelStorage

struct TestRecord {
    var key: [UInt8]?
    var value: [UInt8]?
    var timestamp: Int64
}

enum TestBatches {
    static func writeVarint(_ value: Int64, into buffer: inout ByteBuffer) {
        var raw = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        while raw >= 0x80 {
            buffer.writeInteger(UInt8(raw & 0x7F) | 0x80)
            raw >>= 7
        }
        buffer.writeInteger(UInt8(raw))
    }

    /// One batch of `records`; offsets start at 0 (the log assigns them) unless `baseOffset` is given.
    static func batch(_ records: [TestRecord], baseOffset: Int64 = 0, producerId: Int64 = -1, producerEpoch: Int16 = -1,
                      baseSequence: Int32 = -1, transactional: Bool = false, control: Bool = false,
                      partitionLeaderEpoch: Int32 = -1) -> ByteBuffer {
        let baseTimestamp = records.first?.timestamp ?? 0
        var body = ByteBufferAllocator().buffer(capacity: 256)
        for (index, record) in records.enumerated() {
            var one = ByteBufferAllocator().buffer(capacity: 64)
            one.writeInteger(Int8(0))
            writeVarint(record.timestamp - baseTimestamp, into: &one)
            writeVarint(Int64(index), into: &one)
            if let key = record.key {
                writeVarint(Int64(key.count), into: &one)
                one.writeBytes(key)
            } else {
                writeVarint(-1, into: &one)
            }
            if let value = record.value {
                writeVarint(Int64(value.count), into: &one)
                one.writeBytes(value)
            } else {
                writeVarint(-1, into: &one)
            }
            writeVarint(0, into: &one)
            writeVarint(Int64(one.readableBytes), into: &body)
            body.writeBuffer(&one)
        }
        var attributes: Int16 = 0
        if transactional { attributes |= 0x10 }
        if control { attributes |= 0x20 }
        var batch = ByteBufferAllocator().buffer(capacity: 61 + body.readableBytes)
        batch.writeInteger(baseOffset)
        batch.writeInteger(Int32(49 + body.readableBytes))
        batch.writeInteger(partitionLeaderEpoch)
        batch.writeInteger(Int8(2))
        batch.writeInteger(UInt32(0))
        batch.writeInteger(attributes)
        batch.writeInteger(Int32(max(records.count - 1, 0)))
        batch.writeInteger(baseTimestamp)
        batch.writeInteger(records.map(\.timestamp).max() ?? baseTimestamp)
        batch.writeInteger(producerId)
        batch.writeInteger(producerEpoch)
        batch.writeInteger(baseSequence)
        batch.writeInteger(Int32(records.count))
        batch.writeBuffer(&body)
        let crc = CRC32C.checksum(of: batch, at: 21, length: batch.readableBytes - 21)!
        batch.setInteger(crc, at: 17)
        return batch
    }

    /// `count` records with values "v<i>" and timestamps `timestamp + i`.
    static func simple(count: Int, timestamp: Int64 = 1_000, valueSize: Int = 8, producerId: Int64 = -1,
                       producerEpoch: Int16 = -1, baseSequence: Int32 = -1, transactional: Bool = false) -> ByteBuffer {
        let records = (0..<count).map { index in
            TestRecord(key: Array("k\(index)".utf8), value: Array(repeating: UInt8(truncatingIfNeeded: index), count: valueSize),
                       timestamp: timestamp + Int64(index))
        }
        return batch(records, producerId: producerId, producerEpoch: producerEpoch, baseSequence: baseSequence,
                     transactional: transactional)
    }

    /// A transaction marker (control batch) with one record: key = version 0 + type, value = version 0 +
    /// the coordinator epoch.
    static func marker(commit: Bool, producerId: Int64, producerEpoch: Int16, coordinatorEpoch: Int32 = 0,
                       timestamp: Int64 = 2_000) -> ByteBuffer {
        var key = ByteBufferAllocator().buffer(capacity: 4)
        key.writeInteger(Int16(0))
        key.writeInteger(Int16(commit ? 1 : 0))
        var value = ByteBufferAllocator().buffer(capacity: 6)
        value.writeInteger(Int16(0))
        value.writeInteger(coordinatorEpoch)
        return batch([TestRecord(key: Array(key.readableBytesView), value: Array(value.readableBytesView), timestamp: timestamp)],
                     producerId: producerId, producerEpoch: producerEpoch, baseSequence: -1, transactional: true, control: true)
    }

    /// Parses the batches of a read (whole ones only).
    static func headers(in buffer: ByteBuffer) -> [RecordBatchHeader] {
        var found: [RecordBatchHeader] = []
        var index = buffer.readerIndex
        while let header = RecordBatchHeader(from: buffer, at: index), index + header.totalSize <= buffer.writerIndex {
            found.append(header)
            index += header.totalSize
        }
        return found
    }

    /// True when every whole batch in `buffer` has a valid CRC.
    static func crcsValid(_ buffer: ByteBuffer) -> Bool {
        var index = buffer.readerIndex
        while let header = RecordBatchHeader(from: buffer, at: index), index + header.totalSize <= buffer.writerIndex {
            guard CRC32C.checksum(of: buffer, at: index + 21, length: header.totalSize - 21) == header.crc else { return false }
            index += header.totalSize
        }
        return true
    }
}

/// A temporary log dir removed at deinit.
final class TemporaryDirectory {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "runnel-storage-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

enum TestManagers {
    static func make(_ dir: String, engine: IOEngineKind = .posix, clock: (@Sendable () -> Int64)? = nil,
                     defaults: LogConfig = LogConfig(), faults: IOFaultInjector? = nil, moreDirs: [String] = [],
                     ioMode: LogIOMode = TestManagers.ioMode) throws -> LogManager {
        var configuration = LogManagerConfiguration.standalone(logDirs: [dir] + moreDirs, ioEngine: engine, defaults: defaults,
                                                               ioMode: ioMode)
        configuration.faultInjector = faults
        if let clock { configuration.clock = clock }
        return try LogManager(configuration: configuration)
    }

    /// The engines tests run on: posix always, io_uring when this kernel allows a ring — and always under
    /// CI=true, where a missing ring then fails the io_uring variants instead of dropping them.
    static var engines: [IOEngineKind] { IOUringAvailability.runs ? [.posix, .ioUring] : [.posix] }

    /// The `log.io.mode` of the suite's managers: RUNNEL_TEST_LOG_IO_MODE (auto, direct, buffered), so
    /// scripts/test runs the storage suite on both write paths; unset: auto (direct on ext4/XFS).
    static var ioMode: LogIOMode {
        ProcessInfo.processInfo.environment["RUNNEL_TEST_LOG_IO_MODE"].flatMap(LogIOMode.init(rawValue:)) ?? .auto
    }
}

/// A settable clock.
final class TestClock: @unchecked Sendable {
    // @unchecked: the value is only touched under `lock`.
    private let lock = NSLock()
    private var value: Int64
    init(_ start: Int64) { value = start }
    var now: Int64 { lock.withLock { value } }
    func advance(_ ms: Int64) { lock.withLock { value += ms } }
    var function: @Sendable () -> Int64 { { [self] in now } }
}

extension PartitionLog {
    /// What the broker does before a transactional batch that opens a transaction (KIP-890 part 1): the
    /// coordinator's verification, here taken as granted.
    func verifyTransaction(producerId: Int64, epoch: Int16) {
        if let token = beginTransactionVerification(producerId: producerId, epoch: epoch) {
            _ = completeTransactionVerification(producerId: producerId, token: token)
        }
    }
}
