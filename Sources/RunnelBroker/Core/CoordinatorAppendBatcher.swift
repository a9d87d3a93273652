// CoordinatorAppendBatcher: coalesces the group coordinator's appends per `__consumer_offsets` partition.
// While one append to a partition waits for its fsync, later ones queue; when it completes, everything
// queued goes to the log as one record batch. One write and one completion per round, not per commit.
import NIOCore
import RunnelGroups
import Synchronization

/// Per-partition append coalescing (group commit at the record-batch level) for the coordinator's log.
///
/// Order: appends to one partition reach the log in `submit` order (a FIFO queue, one write in flight per
/// partition). Durability: a submission completes only when the write that carried its records did.
/// A failed write fails every submission it carried; the next queued ones are still attempted.
/// Transactions: only consecutive submissions of the same producer (none for plain records, or one
/// producer id and epoch for a TxnOffsetCommit's transactional batch) share a write, so a transactional
/// batch never carries another producer's or plain records.
final class CoordinatorAppendBatcher: Sendable {
    /// Completion of one submission.
    typealias Completion = @Sendable (Result<Void, GroupLogStoreError>) -> Void
    /// Appends records to a partition as one batch and calls back once they are durable (or failed).
    typealias Write = @Sendable (_ partition: Int32, _ records: [GroupLogRecord], _ producer: GroupLogProducer?,
                                 _ done: @escaping Completion) -> Void

    private struct Submission {
        var records: [GroupLogRecord]
        var producer: GroupLogProducer?
        var bytes: Int
        var completion: Completion
    }

    private struct Lane {
        var writing = false
        var queued: [Submission] = []
    }

    /// Bytes counted per record on top of its key and value: the record's own framing (length, attributes,
    /// timestamp and offset deltas, key and value lengths, header count) is at most 21 bytes.
    static let recordOverheadBytes = 24

    private let lanes = Mutex<[Int32: Lane]>([:])
    private let maxBatchBytes: @Sendable (Int32) -> Int
    private let write: Write

    /// - Parameters:
    ///   - maxBatchBytes: per partition, the most bytes (keys, values and `recordOverheadBytes` per
    ///     record) coalesced into one write; a single larger submission is still written, alone.
    ///   - write: the actual append.
    init(maxBatchBytes: @escaping @Sendable (Int32) -> Int, write: @escaping Write) {
        self.maxBatchBytes = maxBatchBytes
        self.write = write
    }

    /// Queues `records` for `partition` (as `producer`'s transactional batch when given); written at once
    /// when no write to that partition is in flight, else with what is queued behind it (of the same
    /// producer) when it completes.
    func submit(partition: Int32, records: [GroupLogRecord], producer: GroupLogProducer? = nil,
                completion: @escaping Completion) {
        let bytes = records.reduce(0) {
            $0 + $1.key.readableBytes + ($1.value?.readableBytes ?? 0) + Self.recordOverheadBytes
        }
        let submission = Submission(records: records, producer: producer, bytes: bytes, completion: completion)
        let writeNow: Bool = lanes.withLock { lanes in
            var lane = lanes[partition] ?? Lane()
            defer { lanes[partition] = lane }
            if lane.writing {
                lane.queued.append(submission)
                return false
            }
            lane.writing = true
            return true
        }
        if writeNow { start(partition, [submission]) }
    }

    /// Number of submissions waiting behind an in-flight write (tests, metrics).
    func queuedCount(partition: Int32) -> Int { lanes.withLock { $0[partition]?.queued.count ?? 0 } }

    private func start(_ partition: Int32, _ submissions: [Submission]) {
        let records = submissions.count == 1 ? submissions[0].records : submissions.flatMap(\.records)
        write(partition, records, submissions[0].producer) { [self] result in
            for submission in submissions { submission.completion(result) }
            startNext(partition)
        }
    }

    private func startNext(_ partition: Int32) {
        let limit = maxBatchBytes(partition)
        let next: [Submission]? = lanes.withLock { lanes in
            guard var lane = lanes[partition] else { return nil }
            defer { lanes[partition] = lane }
            guard !lane.queued.isEmpty else {
                lane.writing = false
                return nil
            }
            var count = 0
            var bytes = 0
            let producer = lane.queued[0].producer
            for submission in lane.queued {
                if count > 0 && (bytes + submission.bytes > limit || submission.producer != producer) { break }
                bytes += submission.bytes
                count += 1
            }
            let taken = Array(lane.queued.prefix(count))
            lane.queued.removeFirst(count)
            return taken
        }
        if let next { start(partition, next) }
    }
}
