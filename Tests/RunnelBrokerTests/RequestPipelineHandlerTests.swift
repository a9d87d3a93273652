// Tests for the per-connection pipeline: in-order responses, .none payloads, failures,
// file regions, backpressure and the idle timeout.
import Foundation
import NIOCore
import NIOEmbedded
import Testing
@testable import RunnelBroker

@Suite struct RequestPipelineHandlerTests {
    @Test func pipelinedResponsesLeaveInRequestOrderWhenTheRouterCompletesThemInReverse() throws {
        let router = ManualRouter()
        let channel = try makePipelineChannel(router: router)
        var burst = ByteBuffer()
        for id in Int32(1)...50 {
            var frame = requestBytes(correlationId: id)
            burst.writeBuffer(&frame)
        }
        try channel.writeInbound(burst)
        #expect(router.pendingCorrelationIds.count == 50)
        for id in (Int32(2)...50).reversed() { router.answer(id) }
        #expect(try readResponses(channel).isEmpty)  // all wait for request 1
        router.answer(1)
        #expect(correlationIds(try readResponses(channel)) == Array(1...50))
    }

    @Test func responsesCompletedInShuffledOrderAreWrittenAsSoonAsTheirPredecessorsAre() throws {
        let router = ManualRouter()
        let channel = try makePipelineChannel(router: router)
        for id in Int32(1)...4 { try channel.writeInbound(requestBytes(correlationId: id)) }
        router.answer(2)
        #expect(try readResponses(channel).isEmpty)
        router.answer(1)
        #expect(correlationIds(try readResponses(channel)) == [1, 2])
        router.answer(4)
        #expect(try readResponses(channel).isEmpty)
        router.answer(3)
        #expect(correlationIds(try readResponses(channel)) == [3, 4])
    }

    @Test func noneResponsesAreSkippedWithoutBreakingTheOrder() throws {
        let router = ManualRouter()
        let channel = try makePipelineChannel(router: router)
        for id in Int32(1)...5 { try channel.writeInbound(requestBytes(apiKey: 0, correlationId: id)) }
        router.answer(5)
        router.answer(4, with: ResponsePayload.none)
        router.answer(2, with: ResponsePayload.none)
        router.answer(3)
        #expect(try readResponses(channel).isEmpty)
        router.answer(1)
        #expect(correlationIds(try readResponses(channel)) == [1, 3, 5])
        #expect(channel.isActive)
    }

    @Test func sizePrefixCoversEveryPartIncludingFileRegions() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("runnel-region-\(UUID().uuidString)").path
        try Data(repeating: 0x41, count: 1000).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let handle = try NIOFileHandle(_deprecatedPath: path)
        defer { try? handle.close() }
        let router = ManualRouter()
        let channel = try makePipelineChannel(router: router)
        try channel.writeInbound(requestBytes(apiKey: 1, correlationId: 3))
        var header = ByteBuffer()
        header.writeInteger(Int32(3))
        router.answer(3, with: .parts([.buffer(header), .file(FileRegion(fileHandle: handle, readerIndex: 100, endIndex: 600), lease: nil)]))
        channel.embeddedEventLoop.run()
        let prefix = try #require(try channel.readOutbound(as: IOData.self))
        guard case .byteBuffer(let prefixBytes) = prefix else { Issue.record("prefix is not a buffer"); return }
        #expect(prefixBytes.getInteger(at: prefixBytes.readerIndex, as: Int32.self) == 504)
        guard case .byteBuffer = try #require(try channel.readOutbound(as: IOData.self)) else {
            Issue.record("header part missing"); return
        }
        guard case .fileRegion(let region) = try #require(try channel.readOutbound(as: IOData.self)) else {
            Issue.record("file region was not passed through"); return
        }
        #expect(region.readableBytes == 500)
    }

    @Test func failedRouterFutureClosesTheConnection() throws {
        let router = ManualRouter()
        let channel = try makePipelineChannel(router: router)
        try channel.writeInbound(requestBytes(correlationId: 1))
        try channel.writeInbound(requestBytes(correlationId: 2))
        router.answer(2)
        router.fail(1)
        #expect(!channel.isActive)
        #expect(try readResponses(channel).isEmpty)
    }

    @Test func stopsReadingAtTheBoundOfPendingResponsesAndResumesWhenOneIsWritten() throws {
        let router = ManualRouter()
        let counter = ReadCounter()
        let channel = try makePipelineChannel(
            router: router, configuration: ServerConfiguration(maxPendingRequestsPerConnection: 2), readCounter: counter)
        try channel.writeInbound(requestBytes(correlationId: 1))
        channel.read()
        let readsWithOnePending = counter.reads
        try channel.writeInbound(requestBytes(correlationId: 2))
        channel.read()
        #expect(counter.reads == readsWithOnePending)  // held at the bound
        router.answer(1)
        #expect(counter.reads == readsWithOnePending + 1)  // released once below it
        #expect(correlationIds(try readResponses(channel)) == [1])
    }

    @Test func stopsReadingWhileTheClientIsNotReadingItsResponses() throws {
        let counter = ReadCounter()
        let channel = try makePipelineChannel(router: EchoRouter(), readCounter: counter)
        channel.read()
        let before = counter.reads
        channel.isWritable = false
        channel.read()
        #expect(counter.reads == before)  // held: responses are piling up
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(counter.reads == before + 1)
    }

    @Test func idleConnectionIsClosedAfterConnectionsMaxIdleMs() throws {
        let channel = try makePipelineChannel(
            router: EchoRouter(), configuration: ServerConfiguration(idleTimeout: .milliseconds(50)))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(40))
        #expect(channel.isActive)
        try channel.writeInbound(requestBytes(correlationId: 1))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(40))
        #expect(channel.isActive)  // traffic reset the timer
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(60))
        #expect(!channel.isActive)
    }

    @Test func connectionWaitingOnAResponseIsNotClosedAsIdle() throws {
        let router = ManualRouter()
        let channel = try makePipelineChannel(
            router: router, configuration: ServerConfiguration(idleTimeout: .milliseconds(50)))
        try channel.writeInbound(requestBytes(correlationId: 1))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        #expect(channel.isActive)
        router.answer(1)
        #expect(correlationIds(try readResponses(channel)) == [1])
    }

    @Test func drainEventAnswersPendingRequestsThenCloses() throws {
        let router = ManualRouter()
        let channel = try makePipelineChannel(router: router)
        try channel.writeInbound(requestBytes(correlationId: 1))
        channel.pipeline.fireUserInboundEventTriggered(ConnectionDrainEvent())
        #expect(channel.isActive)
        router.answer(1)
        #expect(correlationIds(try readResponses(channel)) == [1])
        #expect(!channel.isActive)
    }
}
