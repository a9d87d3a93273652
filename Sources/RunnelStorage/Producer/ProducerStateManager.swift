// ProducerStateManager: the producer state of one partition — entries per producer id, open
// transactions (for the last stable offset), `<offset>.snapshot` files in Kafka's v1 layout written at
// each roll and at shutdown, and expiry after producer.id.expiration.ms.
import KafkaRecords
import NIOCore

/// Producer ids and transactions of one partition. Used only under its partition's lock.
final class ProducerStateManager {
    let directory: String
    private(set) var producers: [Int64: ProducerStateEntry] = [:]
    /// Offset up to which (exclusive) the state reflects the log.
    var mapEndOffset: Int64 = 0
    /// Writes snapshots through the log dir's I/O engine once the log is open (nil: write inline, as
    /// recovery and shutdown do).
    var writer: AtomicFileWriter?

    /// KIP-890 part 1: transactional producers being verified with the transaction coordinator, or
    /// verified (producer id → epoch, a token, whether verified, and when). In memory only. A marker of
    /// the producer removes its entry, so a verification that straddles the end of the transaction it
    /// checked fails (Kafka's verification guard).
    private var verifications: [Int64: (epoch: Int16, token: UInt64, verified: Bool, atMs: Int64)] = [:]
    private var nextVerificationToken: UInt64 = 1

    init(directory: String) { self.directory = directory }

    /// Whether a transactional batch of `producerId` at `epoch` may open a transaction here: the
    /// producer already has one open at this epoch, or the coordinator verified the partition is in it.
    func mayAppendTransactional(producerId: Int64, epoch: Int16, entry: ProducerStateEntry?) -> Bool {
        if let entry, entry.currentTxnFirstOffset != nil, entry.producerEpoch == epoch { return true }
        guard let verification = verifications[producerId] else { return false }
        return verification.verified && verification.epoch == epoch
    }

    /// Starts a verification of `producerId`'s transaction at `epoch`; nil when none is needed.
    func beginVerification(producerId: Int64, epoch: Int16, nowMs: Int64) -> UInt64? {
        guard !mayAppendTransactional(producerId: producerId, epoch: epoch, entry: producers[producerId]) else { return nil }
        let token = nextVerificationToken
        nextVerificationToken += 1
        verifications[producerId] = (epoch, token, false, nowMs)
        return token
    }

    /// The coordinator confirmed the verification started with `token`; false when a marker ended the
    /// producer's transaction meanwhile (or a newer verification replaced this one).
    func completeVerification(producerId: Int64, token: UInt64) -> Bool {
        guard var verification = verifications[producerId], verification.token == token else { return false }
        verification.verified = true
        verifications[producerId] = verification
        return true
    }

    /// Offset of the first batch of the oldest open transaction.
    var firstUnstableOffset: Int64? {
        producers.values.compactMap(\.currentTxnFirstOffset).min()
    }

    /// Transactions whose marker is appended but may not be below the high watermark yet (Kafka's
    /// "unreplicated" transactions): first offset and marker offset. The marker closes the transaction in
    /// the producer state as soon as it is appended, but until the high watermark passes it a reader sees
    /// the transaction's records without their marker, so the last stable offset must stay put.
    private var completing: [(firstOffset: Int64, markerOffset: Int64)] = []

    /// The offset the last stable offset cannot pass: the first offset of the oldest transaction that is
    /// open, or whose marker is not yet below `highWatermark`.
    func firstUnstableOffset(highWatermark: Int64) -> Int64? {
        let pending = completing.lazy.filter { $0.markerOffset >= highWatermark }.map(\.firstOffset).min()
        switch (firstUnstableOffset, pending) {
        case let (open?, pending?): return min(open, pending)
        case let (open, pending): return open ?? pending
        }
    }

    /// Forgets completed transactions whose marker is below `highWatermark` (it only moves forward, and a
    /// truncation rebuilds this state).
    func forgetCompletedTransactions(below highWatermark: Int64) {
        completing.removeAll { $0.markerOffset < highWatermark }
    }

    func entry(for producerId: Int64) -> ProducerStateEntry? { producers[producerId] }

    func set(_ entry: ProducerStateEntry) { producers[entry.producerId] = entry }

    /// Applies a batch with offsets assigned; for a marker (`marker` read from its control record)
    /// records the coordinator epoch that wrote it and returns the completed transaction (producer id,
    /// first offset, marker offset, whether it was aborted).
    func apply(_ header: RecordBatchHeader, marker: TransactionMarkerScan?, nowMs: Int64) -> (AbortedTransaction, Bool)? {
        guard header.hasProducerId else { return nil }
        var entry = producers[header.producerId]
            ?? ProducerStateEntry(producerId: header.producerId, producerEpoch: header.producerEpoch, lastUpdateMs: nowMs)
        var completed: (AbortedTransaction, Bool)?
        if header.isControl {
            // The transaction this marker ends needs a new verification before its producer writes again.
            verifications[header.producerId] = nil
            if header.producerEpoch != entry.producerEpoch {
                entry.producerEpoch = header.producerEpoch
                entry.batches.removeAll()
            }
            entry.lastUpdateMs = nowMs
            if let coordinatorEpoch = marker?.coordinatorEpoch { entry.coordinatorEpoch = coordinatorEpoch }
            if let first = entry.currentTxnFirstOffset, let control = marker?.type {
                entry.currentTxnFirstOffset = nil
                producers[header.producerId] = entry
                let lso = firstUnstableOffset ?? (header.lastOffset + 1)
                completed = (AbortedTransaction(producerId: header.producerId, firstOffset: first,
                                                lastOffset: header.lastOffset, lastStableOffset: lso), control == .abort)
                completing.append((first, header.lastOffset))
            }
        } else {
            entry.add(header, nowMs: nowMs)
        }
        producers[header.producerId] = entry
        mapEndOffset = max(mapEndOffset, header.lastOffset + 1)
        return completed
    }

    /// Drops producers idle for longer than their expiration with no open transaction.
    func expire(nowMs: Int64, producerIdExpirationMs: Int64) {
        producers = producers.filter { _, entry in
            entry.currentTxnFirstOffset != nil || nowMs - entry.lastUpdateMs < producerIdExpirationMs
        }
        verifications = verifications.filter { nowMs - $0.value.atMs < producerIdExpirationMs }
    }

    func reset(to offset: Int64) {
        producers = [:]
        completing = []
        mapEndOffset = offset
    }

    // MARK: Snapshots

    static func snapshotName(_ offset: Int64) -> String { LogSegment.fileName(offset, ".snapshot") }

    /// Offsets of the snapshot files present, ascending.
    func snapshotOffsets() throws(StorageError) -> [Int64] {
        try FileSystem.list(directory).compactMap { name -> Int64? in
            guard name.hasSuffix(".snapshot") else { return nil }
            return Int64(name.dropLast(".snapshot".count))
        }.sorted()
    }

    /// Writes `<mapEndOffset>.snapshot`: through the engine when a writer is set and `inline` is false
    /// (a roll: the caller only enqueues; until the file is in place, recovery uses an older snapshot and
    /// replays), else at once (shutdown).
    func writeSnapshot(inline: Bool = false) throws(StorageError) {
        let bytes = snapshotBytes()
        let path = directory + "/" + Self.snapshotName(mapEndOffset)
        if !inline, let writer {
            writer.write(bytes, to: path)
        } else {
            try FileSystem.writeAtomically(path, bytes: bytes, directory: directory)
        }
    }

    /// The snapshot file's bytes: version 2, CRC-32C of the rest, the producer count, then per producer its
    /// id, epoch, coordinator epoch, open transaction's first offset (-1 none), last update time and every
    /// retained batch (up to five: first/last sequence, first/last offset, max timestamp). Kafka's own v1
    /// keeps only the last batch; keeping all five lets a producer's retries of batches written just
    /// before a restart be recognized as duplicates after it, not answered OUT_OF_ORDER_SEQUENCE (which
    /// makes the Java client bump its epoch and write them again).
    func snapshotBytes() -> ByteBuffer {
        var body = ByteBufferAllocator().buffer(capacity: 4 + producers.count * (Self.producerBytes + 5 * Self.batchBytes))
        body.writeInteger(Int32(producers.count))
        for entry in producers.values.sorted(by: { $0.producerId < $1.producerId }) {
            body.writeInteger(entry.producerId)
            body.writeInteger(entry.producerEpoch)
            body.writeInteger(entry.coordinatorEpoch)
            body.writeInteger(entry.currentTxnFirstOffset ?? -1)
            body.writeInteger(entry.lastUpdateMs)
            body.writeInteger(UInt8(entry.batches.count))
            for batch in entry.batches {
                body.writeInteger(batch.firstSequence)
                body.writeInteger(batch.lastSequence)
                body.writeInteger(batch.firstOffset)
                body.writeInteger(batch.lastOffset)
                body.writeInteger(batch.timestamp)
            }
        }
        var file = ByteBufferAllocator().buffer(capacity: body.readableBytes + 6)
        file.writeInteger(Int16(2))
        file.writeInteger(CRC32C.checksum(of: body, at: body.readerIndex, length: body.readableBytes) ?? 0)
        file.writeImmutableBuffer(body)
        return file
    }

    /// Bytes of a producer's fixed fields in a v2 snapshot (id, epoch, coordinator epoch, transaction
    /// first offset, last update time, batch count).
    static let producerBytes = 8 + 2 + 4 + 8 + 8 + 1
    /// Bytes of one batch in a v2 snapshot.
    static let batchBytes = 4 + 4 + 8 + 8 + 8

    /// Loads the snapshot at `offset` (version 2, or version 1 written before it); false when it is
    /// corrupt (the caller deletes it and scans instead).
    func loadSnapshot(at offset: Int64) throws(StorageError) -> Bool {
        guard let buffer = try FileSystem.readAll(directory + "/" + Self.snapshotName(offset)),
              let version = buffer.getInteger(at: buffer.readerIndex, as: Int16.self), version == 1 || version == 2,
              let crc = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt32.self),
              CRC32C.checksum(of: buffer, at: buffer.readerIndex + 6, length: buffer.readableBytes - 6) == crc,
              let count = buffer.getInteger(at: buffer.readerIndex + 6, as: Int32.self), count >= 0,
              let loaded = version == 1 ? Self.entriesV1(buffer, count: Int(count)) : Self.entriesV2(buffer, count: Int(count))
        else { return false }
        producers = loaded
        completing = []
        mapEndOffset = offset
        return true
    }

    /// Version 1: fixed 54-byte entries holding the last batch only.
    private static func entriesV1(_ buffer: ByteBuffer, count: Int) -> [Int64: ProducerStateEntry]? {
        guard buffer.readableBytes == 10 + count * 54 else { return nil }
        var loaded: [Int64: ProducerStateEntry] = [:]
        var index = buffer.readerIndex + 10
        for _ in 0..<count {
            guard let pid = buffer.getInteger(at: index, as: Int64.self),
                  let epoch = buffer.getInteger(at: index + 8, as: Int16.self),
                  let lastSeq = buffer.getInteger(at: index + 10, as: Int32.self),
                  let lastOffset = buffer.getInteger(at: index + 14, as: Int64.self),
                  let delta = buffer.getInteger(at: index + 22, as: Int32.self),
                  let timestamp = buffer.getInteger(at: index + 26, as: Int64.self),
                  let coordinatorEpoch = buffer.getInteger(at: index + 34, as: Int32.self),
                  let txnFirst = buffer.getInteger(at: index + 38, as: Int64.self),
                  let updated = buffer.getInteger(at: index + 46, as: Int64.self) else { return nil }
            var entry = ProducerStateEntry(producerId: pid, producerEpoch: epoch, lastUpdateMs: updated)
            entry.coordinatorEpoch = coordinatorEpoch
            entry.currentTxnFirstOffset = txnFirst >= 0 ? txnFirst : nil
            if lastOffset >= 0 {
                entry.batches = [ProducerBatchMetadata(firstSequence: lastSeq &- delta, lastSequence: lastSeq,
                                                       firstOffset: lastOffset - Int64(delta), lastOffset: lastOffset,
                                                       timestamp: timestamp)]
            }
            loaded[pid] = entry
            index += 54
        }
        return loaded
    }

    /// Version 2: each producer with every retained batch; every length is checked against the bytes present.
    private static func entriesV2(_ buffer: ByteBuffer, count: Int) -> [Int64: ProducerStateEntry]? {
        var loaded: [Int64: ProducerStateEntry] = [:]
        var index = buffer.readerIndex + 10
        for _ in 0..<count {
            guard buffer.writerIndex - index >= producerBytes,
                  let pid = buffer.getInteger(at: index, as: Int64.self),
                  let epoch = buffer.getInteger(at: index + 8, as: Int16.self),
                  let coordinatorEpoch = buffer.getInteger(at: index + 10, as: Int32.self),
                  let txnFirst = buffer.getInteger(at: index + 14, as: Int64.self),
                  let updated = buffer.getInteger(at: index + 22, as: Int64.self),
                  let batchCount = buffer.getInteger(at: index + 30, as: UInt8.self),
                  Int(batchCount) <= ProducerStateEntry.batchesRetained,
                  buffer.writerIndex - index - producerBytes >= Int(batchCount) * batchBytes else { return nil }
            var entry = ProducerStateEntry(producerId: pid, producerEpoch: epoch, lastUpdateMs: updated)
            entry.coordinatorEpoch = coordinatorEpoch
            entry.currentTxnFirstOffset = txnFirst >= 0 ? txnFirst : nil
            index += producerBytes
            for _ in 0..<Int(batchCount) {
                guard let firstSequence = buffer.getInteger(at: index, as: Int32.self),
                      let lastSequence = buffer.getInteger(at: index + 4, as: Int32.self),
                      let firstOffset = buffer.getInteger(at: index + 8, as: Int64.self),
                      let lastOffset = buffer.getInteger(at: index + 16, as: Int64.self),
                      let timestamp = buffer.getInteger(at: index + 24, as: Int64.self) else { return nil }
                entry.batches.append(ProducerBatchMetadata(firstSequence: firstSequence, lastSequence: lastSequence,
                                                           firstOffset: firstOffset, lastOffset: lastOffset,
                                                           timestamp: timestamp))
                index += batchBytes
            }
            loaded[pid] = entry
        }
        return index == buffer.writerIndex ? loaded : nil
    }

    /// Removes snapshots at offsets above `offset` (after truncation) or below `before` (retention).
    func deleteSnapshots(above offset: Int64 = .max, below before: Int64 = .min) throws(StorageError) {
        writer?.cancel { path in
            guard let name = path.split(separator: "/").last, name.hasSuffix(".snapshot"),
                  let snapshot = Int64(name.dropLast(".snapshot".count)) else { return false }
            return snapshot > offset || snapshot < before
        }
        for snapshot in try snapshotOffsets() where snapshot > offset || snapshot < before {
            FileSystem.unlink(directory + "/" + Self.snapshotName(snapshot))
        }
    }
}
