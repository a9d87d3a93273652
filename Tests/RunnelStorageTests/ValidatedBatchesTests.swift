// Appends of raw bytes are checked once, by KafkaRecords' validator, with the error each origin gets
// today: a client's control batch is `invalidRecord` (INVALID_RECORD), a batch over max.message.bytes
// `messageTooLarge` (MESSAGE_TOO_LARGE), torn or corrupt bytes `corruptMessage` (CORRUPT_MESSAGE); coordinators may write markers; replication is not size-limited.
import Foundation
import KafkaRecords
import NIOCore
import Synchronization
import Testing
@testable import RunnelStorage

@Suite struct ValidatedBatchesTests {
    @Test func eachOriginGetsTheErrorCodesClientsSeeToday() throws {
        let marker = TestBatches.marker(commit: true, producerId: 3, producerEpoch: 0)
        do {
            _ = try ValidatedBatches.validate(marker, origin: .client, maxMessageBytes: 1 << 20)
            Issue.record("a client's control batch was accepted")
        } catch {
            guard case .invalidRecord = error else { Issue.record("unexpected \(error)"); return }
        }
        #expect(try ValidatedBatches.validate(marker, origin: .coordinator, maxMessageBytes: 1 << 20).headers.count == 1)
        let big = TestBatches.simple(count: 4, valueSize: 500)
        do {
            _ = try ValidatedBatches.validate(big, origin: .client, maxMessageBytes: 100)
            Issue.record("a batch over max.message.bytes was accepted")
        } catch {
            guard case let .messageTooLarge(size, 100) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(size == big.readableBytes)
        }
        #expect(try ValidatedBatches.validate(big, origin: .replication, maxMessageBytes: 100).headers.count == 1)
        var torn = big
        torn.moveWriterIndex(to: torn.writerIndex - 7)
        do {
            _ = try ValidatedBatches.validate(torn, origin: .client, maxMessageBytes: 1 << 20)
            Issue.record("a torn batch was accepted")
        } catch {
            guard case .corruptMessage = error else { Issue.record("unexpected \(error)"); return }
        }
    }

    @Test func theLogAppendsValidatedBatchesWithoutCheckingThemAgain() throws {
        let dir = TemporaryDirectory()
        let manager = try TestManagers.make(dir.path)
        defer { manager.shutdown() }
        let log = try manager.createLog(topic: "v", partition: 0, topicId: nil)
        let batches = try ValidatedBatches.validate(TestBatches.simple(count: 3), options: .init(origin: .client))
        let done = DispatchSemaphore(value: 0)
        let appended = Mutex<Result<AppendResult, StorageError>?>(nil)
        log.append(batches, leaderEpoch: 0) { result in
            appended.withLock { $0 = result }
            done.signal()
        }
        #expect(done.wait(timeout: .now() + 30) == .success)
        #expect(try appended.withLock { $0 }?.get().lastOffset == 2)
        #expect(log.highWatermark == 3)
    }
}
