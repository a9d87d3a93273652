// The pipeline's quota and memory limits on EmbeddedChannel: a throttled response mutes the connection
// for its throttle time, a client with a quota is read one request at a time, and
// `queued.max.request.bytes` holds every connection's reads while the shared budget is used up.
import NIOCore
import NIOEmbedded
import Testing
@testable import RunnelBroker

/// Answers at once and mutes the connection for `muteMs` (what a throttled Produce does).
struct ThrottlingRouter: RequestRouter {
    var muteMs: Int64

    func route(_ request: KafkaRequestFrame, context: RequestContext) -> EventLoopFuture<ResponsePayload> {
        context.throttle.mute(milliseconds: muteMs, now: context.eventLoop.now)
        return EchoRouter().route(request, context: context)
    }
}

@Suite struct RequestLimitsTests {
    @Test func throttledResponseMutesTheConnectionForTheThrottleTime() throws {
        let counter = ReadCounter()
        let channel = try makePipelineChannel(router: ThrottlingRouter(muteMs: 50), readCounter: counter)
        try channel.writeInbound(requestBytes(correlationId: 1))
        #expect(correlationIds(try readResponses(channel)) == [1])  // the response itself is not delayed
        let before = counter.reads
        channel.read()
        #expect(counter.reads == before)  // muted
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(49))
        #expect(counter.reads == before)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(counter.reads == before + 1)  // the mute ended: the held read goes through
    }

    @Test func clientWithAQuotaIsReadOneRequestAtATime() throws {
        let counter = ReadCounter()
        let router = ManualRouter()
        let limited = try makePipelineChannel(router: LimitingRouter(inner: router), readCounter: counter)
        try limited.writeInbound(requestBytes(correlationId: 1))
        let before = counter.reads
        limited.read()
        #expect(counter.reads == before)  // one pending: held
        router.answer(1)
        #expect(counter.reads == before + 1)
    }

    @Test func requestBytesBudgetHoldsReadsUntilAnswersFreeIt() throws {
        var configuration = ServerConfiguration()
        configuration.requestMemory = RequestMemoryBudget(limit: 40)
        let counterA = ReadCounter()
        let counterB = ReadCounter()
        let router = ManualRouter()
        let a = try makePipelineChannel(router: router, configuration: configuration, readCounter: counterA)
        let b = try makePipelineChannel(router: EchoRouter(), configuration: configuration, readCounter: counterB)
        try a.writeInbound(requestBytes(correlationId: 1, body: Array(repeating: 0, count: 64)))
        #expect(configuration.requestMemory.inUse >= 64)
        let beforeA = counterA.reads
        let beforeB = counterB.reads
        a.read()
        b.read()
        #expect(counterA.reads == beforeA && counterB.reads == beforeB)  // the shared budget is used up
        router.answer(1)
        #expect(configuration.requestMemory.inUse == 0)
        #expect(counterA.reads == beforeA + 1)
        b.embeddedEventLoop.advanceTime(by: .milliseconds(10))  // the other connection looks again
        #expect(counterB.reads == beforeB + 1)
    }

    @Test func closingAConnectionGivesBackItsUnansweredBytes() throws {
        var configuration = ServerConfiguration()
        configuration.requestMemory = RequestMemoryBudget(limit: 1000)
        let channel = try makePipelineChannel(router: ManualRouter(), configuration: configuration)
        try channel.writeInbound(requestBytes(correlationId: 1, body: Array(repeating: 0, count: 100)))
        #expect(configuration.requestMemory.inUse > 100)
        _ = try? channel.finish()
        #expect(configuration.requestMemory.inUse == 0)
    }
}

/// Marks the connection as a quota client, then lets `inner` answer.
struct LimitingRouter: RequestRouter {
    let inner: ManualRouter

    func route(_ request: KafkaRequestFrame, context: RequestContext) -> EventLoopFuture<ResponsePayload> {
        context.throttle.markLimited()
        return inner.route(request, context: context)
    }
}
