// TLSConnectionHandler's file regions: a Fetch response's log slice is read in chunks and each chunk but
// the last is flushed at once, so NIOSSL encrypts and sends it while the rest is still being read.
import Foundation
import Logging
import NIOCore
import NIOEmbedded
import Testing
@testable import RunnelBroker

@Suite struct TLSConnectionHandlerTests {
    private static func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9093)).wait()
        try channel.pipeline.syncOperations.addHandler(
            TLSConnectionHandler(session: ConnectionSession(), logger: Logger(label: "test")))
        return channel
    }

    private static func file(_ bytes: [UInt8]) throws -> (URL, NIOFileHandle) {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tls-region-\(UUID().uuidString)")
        try Data(bytes).write(to: url)
        return (url, try NIOFileHandle(_deprecatedPath: url.path))
    }

    private static func flushedParts(_ channel: EmbeddedChannel) throws -> [ByteBuffer] {
        var parts: [ByteBuffer] = []
        while let part = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(let buffer) = part else {
                Issue.record("a file region reached the TLS layer unread")
                continue
            }
            parts.append(buffer)
        }
        return parts
    }

    @Test func aRegionGoesOutInChunksFlushedAsTheyAreRead() throws {
        let chunk = TLSConnectionHandler.regionChunkBytes
        let bytes = (0..<(3 * chunk + 1_500)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        let (url, handle) = try Self.file(bytes)
        defer {
            try? handle.close()
            try? FileManager.default.removeItem(at: url)
        }
        let channel = try Self.channel()
        let written = channel.eventLoop.makePromise(of: Void.self)
        channel.write(IOData.fileRegion(FileRegion(fileHandle: handle, readerIndex: 500, endIndex: bytes.count)),
                      promise: written)
        // Before the caller's flush, every chunk but the last is already on its way.
        let early = try Self.flushedParts(channel)
        #expect(early.map(\.readableBytes) == [chunk, chunk, chunk])
        channel.flush()
        let late = try Self.flushedParts(channel)
        #expect(late.map(\.readableBytes) == [1_000])
        try written.futureResult.wait()
        var joined = ByteBuffer()
        for var part in early + late { joined.writeBuffer(&part) }
        #expect(joined.readableBytesView.elementsEqual(bytes[500...]))
        _ = try channel.finish()
    }

    @Test func anEmptyRegionCompletesItsWrite() throws {
        let (url, handle) = try Self.file([1, 2, 3])
        defer {
            try? handle.close()
            try? FileManager.default.removeItem(at: url)
        }
        let channel = try Self.channel()
        let written = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(IOData.fileRegion(FileRegion(fileHandle: handle, readerIndex: 3, endIndex: 3)),
                              promise: written)
        try written.futureResult.wait()
        #expect(try Self.flushedParts(channel).map(\.readableBytes) == [0])
        _ = try channel.finish()
    }

    @Test func aRegionPastTheFileEndFailsItsWriteAndClosesTheConnection() throws {
        let chunk = TLSConnectionHandler.regionChunkBytes
        let (url, handle) = try Self.file([UInt8](repeating: 7, count: chunk + 10))
        defer {
            try? handle.close()
            try? FileManager.default.removeItem(at: url)
        }
        let channel = try Self.channel()
        let written = channel.eventLoop.makePromise(of: Void.self)
        // The file was truncated under the region (a corrupt or shrunk segment): the second chunk comes up short.
        channel.writeAndFlush(IOData.fileRegion(FileRegion(fileHandle: handle, readerIndex: 0, endIndex: 2 * chunk + 10)),
                              promise: written)
        #expect(throws: TLSConnectionHandler.RegionReadError.self) { try written.futureResult.wait() }
        #expect(!channel.isActive)
    }
}
