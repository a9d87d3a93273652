// Kafka's murmur2 hash, bit for bit as the Java client's `Utils.murmur2`, so keyed records land on the same
// partition whichever client produced them.
import NIOCore

/// The 32-bit murmur2 variant the Java producer uses to hash record keys (seed 0x9747b28c).
public enum Murmur2 {
    /// The signed 32-bit hash, equal to Java's `Utils.murmur2(bytes)`.
    public static func hash<Bytes: Collection>(_ bytes: Bytes) -> Int32 where Bytes.Element == UInt8 {
        let m: UInt32 = 0x5bd1_e995
        let length = bytes.count
        var h: UInt32 = 0x9747_b28c ^ UInt32(truncatingIfNeeded: length)
        var index = bytes.startIndex
        var remaining = length
        while remaining >= 4 {
            let b0 = UInt32(bytes[index]); index = bytes.index(after: index)
            let b1 = UInt32(bytes[index]); index = bytes.index(after: index)
            let b2 = UInt32(bytes[index]); index = bytes.index(after: index)
            let b3 = UInt32(bytes[index]); index = bytes.index(after: index)
            var k = b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)
            k &*= m
            k ^= k >> 24
            k &*= m
            h &*= m
            h ^= k
            remaining -= 4
        }
        if remaining > 0 {
            // Java's fall-through switch on length % 4, reading the tail bytes without allocating.
            let t0 = UInt32(bytes[index])
            if remaining >= 2 {
                let second = bytes.index(after: index)
                if remaining == 3 { h ^= UInt32(bytes[bytes.index(after: second)]) << 16 }
                h ^= UInt32(bytes[second]) << 8
            }
            h ^= t0
            h &*= m
        }
        h ^= h >> 13
        h &*= m
        h ^= h >> 15
        return Int32(bitPattern: h)
    }

    /// The hash of the readable bytes of `buffer`.
    public static func hash(_ buffer: ByteBuffer) -> Int32 {
        buffer.withUnsafeReadableBytes { hash($0) }
    }

    /// Java's `Utils.toPositive`: clears the sign bit (not `abs`, which differs for negative values).
    @inlinable
    public static func toPositive(_ value: Int32) -> Int32 { value & 0x7fff_ffff }

    /// The partition the Java client picks for a keyed record: `toPositive(murmur2(key)) % numPartitions`.
    public static func partition(forKey key: ByteBuffer, partitionCount: Int32) -> Int32 {
        guard partitionCount > 0 else { return 0 }
        return toPositive(hash(key)) % partitionCount
    }
}
