// The broker's mapping of storage failures to the Kafka error codes clients receive.
import KafkaProtocol
import RunnelStorage
import Testing
@testable import RunnelBroker

@Suite struct StorageErrorCodeTests {
    @Test(arguments: [
        (StorageError.offsetOutOfRange(requested: 5, logStartOffset: 0, logEndOffset: 1), Int16(1)),
        (.corruptMessage("bad"), 2),
        (.messageTooLarge(size: 2, limit: 1), 10),
        (.recordListTooLarge(size: 2_000, limit: 500), 18),
        (.invalidRecord("behind"), 87),
        (.outOfOrderSequence(producerId: 9, expected: 1, received: 3), 45),
        (.invalidProducerEpoch(producerId: 9, current: 3, received: 2), 47),
        (.io(operation: "write", path: "/x", errno: 5), 56),
        (.logDirOffline(path: "/x"), 56),
        (.partitionOffline("corrupt index"), 56),
        (.unknownTopicOrPartition(topic: "t", partition: 0), 3),
        (.logAlreadyExists(topic: "t", partition: 0), 36),
        (.invalidConfig("segment.bytes"), 40),
    ])
    func storageFailuresMapToKafkasErrorCodes(_ error: StorageError, _ code: Int16) {
        #expect(ErrorCode(error).rawValue == code)
        #expect(PartitionError(error).errorCode.rawValue == code)
    }

    @Test func diskFailuresAreUnexpectedAndClientMistakesAreNot() {
        #expect(PartitionError(StorageError.io(operation: "fsync", path: "/x", errno: 5)).isUnexpected)
        #expect(!PartitionError(StorageError.offsetOutOfRange(requested: 5, logStartOffset: 0, logEndOffset: 1)).isUnexpected)
    }
}
