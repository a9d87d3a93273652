// Murmur2 and the default partitioner agree with the Java client's known vectors.
import NIOCore
import RunnelClient
import Testing

@Suite struct Murmur2Tests {
    /// Kafka's own `UtilsTest.testMurmur2` vectors.
    @Test(arguments: [
        ("21", Int32(-973_932_308)),
        ("foobar", -790_332_482),
        ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
        ("abc", 479_470_107),
    ])
    func hashMatchesJavaUtilsMurmur2(input: String, expected: Int32) {
        #expect(Murmur2.hash(Array(input.utf8)) == expected)
        #expect(Murmur2.hash(ByteBuffer(string: input)) == expected)
    }

    /// kafka-python's `test_murmur2_java_compatibility`: partitions out of 1000 as the Java client picks.
    static let kafkaPythonVectors: [([UInt8], Int32)] = [
        ([], 681), (Array("a".utf8), 524), (Array("ab".utf8), 434), (Array("abc".utf8), 107),
        (Array("123456789".utf8), 566), ([0x00, 0x20], 742),
    ]

    @Test(arguments: kafkaPythonVectors)
    func keyedPartitionMatchesJavaAndKafkaPython(key: [UInt8], partition: Int32) {
        #expect(Murmur2.partition(forKey: ByteBuffer(bytes: key), partitionCount: 1000) == partition)
    }

    @Test func toPositiveClearsTheSignBitUnlikeAbs() {
        #expect(Murmur2.toPositive(Int32.min) == 0)
        #expect(Murmur2.toPositive(-1) == Int32.max)
        #expect(Murmur2.toPositive(42) == 42)
    }

    @Test func hashOfNonASCIIBytesIsStableAcrossSliceAndArray() {
        let bytes: [UInt8] = [0xa4, 0x81, 0xff, 0x00, 0x7f]
        var buffer = ByteBuffer(bytes: [9, 9] + bytes)
        buffer.moveReaderIndex(forwardBy: 2)
        #expect(Murmur2.hash(buffer) == Murmur2.hash(bytes))
    }
}

@Suite struct DefaultPartitionerTests {
    @Test func sameKeyAlwaysLandsOnTheSamePartition() {
        var partitioner = DefaultPartitioner()
        let key = ByteBuffer(string: "customer-42")
        let first = partitioner.partition(topic: "t", key: key, partitionCount: 12)
        for _ in 0..<20 { #expect(partitioner.partition(topic: "t", key: key, partitionCount: 12) == first) }
        #expect(first == Murmur2.partition(forKey: key, partitionCount: 12))
    }

    @Test func nullKeysStickToOnePartitionUntilTheBatchCloses() {
        var partitioner = DefaultPartitioner()
        let first = partitioner.partition(topic: "t", key: nil, partitionCount: 8)
        for _ in 0..<50 { #expect(partitioner.partition(topic: "t", key: nil, partitionCount: 8) == first) }
        let next = partitioner.nextStickyPartition(topic: "t", partitionCount: 8)
        #expect(next != first)
        #expect(partitioner.partition(topic: "t", key: nil, partitionCount: 8) == next)
    }

    @Test func nullKeysPreferAvailablePartitions() {
        var partitioner = DefaultPartitioner()
        for _ in 0..<20 {
            let partition = partitioner.partition(topic: "t", key: nil, partitionCount: 8, available: [3, 5])
            #expect(partition == 3 || partition == 5)
            partitioner.nextStickyPartition(topic: "t", partitionCount: 8, available: [3, 5])
        }
    }

    @Test func singlePartitionTopicAlwaysGetsPartitionZero() {
        var partitioner = DefaultPartitioner()
        #expect(partitioner.partition(topic: "t", key: nil, partitionCount: 1) == 0)
        #expect(partitioner.nextStickyPartition(topic: "t", partitionCount: 1) == 0)
    }
}
