// Golden bytes captured from real clients (Java 4.3, confluent-kafka/librdkafka 2.16, kafka-python 3.0,
// kcat/librdkafka 2.0) by tools/capture/capture_clients.py: each request decodes fully and re-encodes
// to exactly the bytes the client sent.
import Foundation
import KafkaProtocol
import NIOCore
import Testing

@Suite struct GoldenCaptureTests {
    /// `<client>-<ApiName>-v<version>-<n>.bin` files, without the size prefix.
    static let captures: [URL] = {
        guard let folder = Bundle.module.url(forResource: "Fixtures", withExtension: nil)?
            .appendingPathComponent("captured"),
              let files = try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
        else { return [] }
        return files.filter { $0.pathExtension == "bin" && !$0.lastPathComponent.contains(".response") }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }()

    @Test func capturesFromFourClientImplementationsArePresent() {
        let clients = Set(Self.captures.map { $0.lastPathComponent.split(separator: "-").first.map(String.init) ?? "" })
        #expect(clients.isSuperset(of: ["java", "confluent", "kafka", "kcat"]), "found \(clients.sorted())")
        #expect(Self.captures.count >= 20)
    }

    @Test(arguments: captures)
    func captureDecodesAndReencodesByteForByte(file: URL) throws {
        let data = try Data(contentsOf: file)
        let original = ByteBuffer(bytes: data)
        var input = original
        let header = try RequestHeader(from: &input)
        let request = try KafkaMessageDecoder.decodeRequest(apiKey: header.apiKey, version: header.apiVersion,
                                                            from: &input)
        #expect(input.readableBytes == 0, "\(file.lastPathComponent): \(input.readableBytes) bytes left undecoded")
        #expect(ApiKey(rawValue: header.apiKey).name == file.lastPathComponent.split(separator: "-").dropFirst()
            .first { ApiKey.all.map(\.name).contains(String($0)) }.map(String.init))
        var output = ByteBuffer()
        header.encode(to: &output)
        try request.encode(to: &output, version: header.apiVersion)
        #expect(output == original, "\(file.lastPathComponent) re-encodes differently")
    }
}
