import Testing
import KafkaRecords

@Suite struct CRC32CTests {
    // Known vectors: RFC 3720 (iSCSI) appendix B.4 and the classic "123456789" check value.
    static let vectors: [([UInt8], UInt32)] = [
        (Array("123456789".utf8), 0xE306_9283),
        ([UInt8](repeating: 0, count: 32), 0x8A91_36AA),
        ([UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
        ((0..<32).map { UInt8($0) }, 0x46DD_794E),
        ((0..<32).map { UInt8(31 - $0) }, 0x113F_DB5C),
        ([], 0),
    ]

    @Test(arguments: vectors)
    func hardwareAndPortableMatchKnownVectors(input: [UInt8], expected: UInt32) {
        input.withUnsafeBytes { raw in
            #expect(CRC32C.checksum(raw) == expected)
            #expect(CRC32C.portableChecksum(raw) == expected)
        }
    }

    @Test("the interleaved hardware path matches the portable one around every block boundary")
    func hardwareMatchesPortableAcrossBlockSizes() {
        #expect(CRC32C.isHardwareAccelerated, "this machine has SSE4.2: the fast path is the one under test")
        var generator = SystemRandomNumberGenerator()
        let data = (0..<(3 * 8192 * 2 + 3 * 256 * 3 + 128)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let lengths = [0, 1, 7, 8, 767, 768, 769, 3 * 256 * 2 + 5, 3 * 8192 - 1, 3 * 8192, 3 * 8192 + 1,
                       3 * 8192 + 3 * 256, 3 * 8192 * 2 + 3 * 256 * 3 + 63, data.count - 3]
        for length in lengths {
            for offset in [0, 1, 3] {
                data.withUnsafeBytes { raw in
                    let slice = UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + length)])
                    let fast = CRC32C.checksum(slice, continuing: 0x1234_5678)
                    let slow = CRC32C.portableChecksum(slice, continuing: 0x1234_5678)
                    #expect(fast == slow, "length \(length) at offset \(offset)")
                }
            }
        }
    }

    @Test func incrementalChecksumEqualsOneShot() {
        let data = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        data.withUnsafeBytes { raw in
            let whole = CRC32C.checksum(raw)
            for split in [0, 1, 7, 8, 9, 4_999, 10_000] {
                let first = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<split]))
                let both = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[split...]), continuing: first)
                #expect(both == whole)
                #expect(CRC32C.portableChecksum(UnsafeRawBufferPointer(rebasing: raw[split...]),
                                                continuing: CRC32C.portableChecksum(UnsafeRawBufferPointer(rebasing: raw[0..<split]))) == whole)
            }
        }
    }
}
