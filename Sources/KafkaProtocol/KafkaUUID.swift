// KafkaUUID: Kafka's 128-bit UUID (topic ids, directory ids) as a value type.

/// A Kafka UUID: 16 bytes, big-endian, stored as two 64-bit halves. Prints as Kafka does, in
/// URL-safe base64 without padding (22 characters).
public struct KafkaUUID: Hashable, Sendable, CustomStringConvertible {
    /// The first 8 bytes, big-endian.
    public var mostSignificantBits: UInt64
    /// The last 8 bytes, big-endian.
    public var leastSignificantBits: UInt64

    public init(mostSignificantBits: UInt64, leastSignificantBits: UInt64) {
        self.mostSignificantBits = mostSignificantBits
        self.leastSignificantBits = leastSignificantBits
    }

    /// The all-zero UUID Kafka uses for "no id".
    public static let zero = KafkaUUID(mostSignificantBits: 0, leastSignificantBits: 0)

    /// A random version-4 UUID that is neither `.zero` nor Kafka's reserved metadata topic id (1).
    public static func random() -> KafkaUUID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    /// A random version-4 UUID drawn from `generator`.
    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> KafkaUUID {
        while true {
            var high: UInt64 = generator.next()
            var low: UInt64 = generator.next()
            high = (high & ~UInt64(0xF000)) | 0x4000
            low = (low & ~(UInt64(0xC0) << 56)) | (UInt64(0x80) << 56)
            let candidate = KafkaUUID(mostSignificantBits: high, leastSignificantBits: low)
            // Kafka reserves ids whose base64 form starts with "-" (command line ambiguity) and 0/1.
            if candidate.description.first != "-" && high != 0 { return candidate }
        }
    }

    private static let alphabet: [Character] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    /// The 16 bytes, big-endian.
    public var bytes: [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(16)
        for shift in stride(from: 56, through: 0, by: -8) { result.append(UInt8(truncatingIfNeeded: mostSignificantBits >> UInt64(shift))) }
        for shift in stride(from: 56, through: 0, by: -8) { result.append(UInt8(truncatingIfNeeded: leastSignificantBits >> UInt64(shift))) }
        return result
    }

    /// URL-safe base64 without padding, as Kafka's `Uuid.toString()`.
    public var description: String {
        let input = bytes
        var output = ""
        var index = 0
        while index < input.count {
            let b0 = Int(input[index])
            let b1 = index + 1 < input.count ? Int(input[index + 1]) : 0
            let b2 = index + 2 < input.count ? Int(input[index + 2]) : 0
            let remaining = input.count - index
            output.append(Self.alphabet[b0 >> 2])
            output.append(Self.alphabet[((b0 & 0x03) << 4) | (b1 >> 4)])
            if remaining > 1 { output.append(Self.alphabet[((b1 & 0x0F) << 2) | (b2 >> 6)]) }
            if remaining > 2 { output.append(Self.alphabet[b2 & 0x3F]) }
            index += 3
        }
        return output
    }

    /// Parses Kafka's 22-character URL-safe base64 form; nil when malformed.
    public init?(base64 text: String) {
        var values: [UInt8] = []
        for character in text {
            guard let position = Self.alphabet.firstIndex(of: character) else { return nil }
            values.append(UInt8(position))
        }
        guard values.count == 22 else { return nil }
        var bits: [UInt8] = []
        var accumulator = 0
        var count = 0
        for value in values {
            accumulator = (accumulator << 6) | Int(value)
            count += 6
            if count >= 8 {
                count -= 8
                bits.append(UInt8(truncatingIfNeeded: accumulator >> count))
                accumulator &= (1 << count) - 1
            }
        }
        guard bits.count == 16, accumulator == 0 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for i in 0..<8 { high = (high << 8) | UInt64(bits[i]) }
        for i in 8..<16 { low = (low << 8) | UInt64(bits[i]) }
        self.init(mostSignificantBits: high, leastSignificantBits: low)
    }
}
