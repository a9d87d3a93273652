// Tests over real loopback sockets: pipelining, connection limits, graceful broker shutdown.
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
@testable import RunnelBroker

@Suite struct KafkaServerLoopbackTests {
    private func startServer(
        router: any RequestRouter, configuration: ServerConfiguration = ServerConfiguration()
    ) async throws -> (KafkaServer, SocketAddress) {
        var configuration = configuration
        configuration.listeners = [Listener(name: "PLAINTEXT", host: "127.0.0.1", port: 0)]
        let server = KafkaServer(configuration: configuration, router: router)
        try await server.start()
        let address = try #require(server.boundAddresses.first)
        return (server, address)
    }

    @Test func pipelinedRequestsOverARealSocketAreAnsweredInOrder() async throws {
        let router = ManualRouter()
        let (server, address) = try await startServer(router: router)
        let client = try await LoopbackClient.connect(to: address)
        var burst = ByteBuffer()
        for id in Int32(1)...20 {
            var frame = requestBytes(correlationId: id)
            burst.writeBuffer(&frame)
        }
        try await client.send(burst)
        try await poll { router.pendingCorrelationIds.count == 20 }
        for id in (Int32(1)...20).shuffled() { router.answer(id) }
        #expect(try await client.responses(count: 20, ofSize: 4) == Array(1...20))
        try await client.channel.close()
        await server.stopAccepting()
        await server.closeAllConnections()
    }

    @Test func thousandsOfPipelinedRequestsInOneWriteAreAllAnsweredInOrder() async throws {
        let (server, address) = try await startServer(
            router: EchoRouter(), configuration: ServerConfiguration(maxPendingRequestsPerConnection: 4))
        let client = try await LoopbackClient.connect(to: address)
        var burst = ByteBuffer()
        for id in Int32(0)..<5000 {
            var frame = requestBytes(correlationId: id, body: [0, 0])
            burst.writeBuffer(&frame)
        }
        try await client.send(burst)
        #expect(try await client.responses(count: 5000, ofSize: 4) == Array(0..<5000))
        try await client.channel.close()
        await server.stopAccepting()
    }

    @Test func connectionsBeyondMaxConnectionsAreClosedAtOnce() async throws {
        let (server, address) = try await startServer(
            router: EchoRouter(), configuration: ServerConfiguration(maxConnections: 1))
        let first = try await LoopbackClient.connect(to: address)
        try await poll { server.connectionCount == 1 }
        let second = try await LoopbackClient.connect(to: address)
        try await second.channel.closeFuture.get()  // the server closed it
        try await first.send(requestBytes(correlationId: 7))
        #expect(try await first.responses(count: 1, ofSize: 4) == [7])
        try await first.channel.close()
        try await poll { server.connectionCount == 0 }
        let third = try await LoopbackClient.connect(to: address)
        try await third.send(requestBytes(correlationId: 8))
        #expect(try await third.responses(count: 1, ofSize: 4) == [8])
        try await third.channel.close()
        await server.stopAccepting()
    }

    @Test func connectionsBeyondMaxConnectionsPerIPAreClosed() async throws {
        let (server, address) = try await startServer(
            router: EchoRouter(), configuration: ServerConfiguration(maxConnectionsPerIP: 2))
        let clients = [try await LoopbackClient.connect(to: address), try await LoopbackClient.connect(to: address)]
        try await poll { server.connectionCount == 2 }
        let rejected = try await LoopbackClient.connect(to: address)
        try await rejected.channel.closeFuture.get()
        #expect(server.connectionCount == 2)
        for client in clients { try await client.channel.close() }
        await server.stopAccepting()
    }

    @Test func brokerShutdownFinishesInFlightRequestsThenClosesStorage() async throws {
        let router = ManualRouter()
        let logDir = TemporaryLogDir()
        var config = BrokerConfig()
        try config.set("listeners", to: "PLAINTEXT://127.0.0.1:0")
        try config.set("log.dirs", to: logDir.path)
        let broker = try Broker(config: config, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"),
                                metricsRegistry: nil, router: router)
        let running = Task { try await broker.run() }
        let addresses = await broker.state.waitUntilReady()
        let client = try await LoopbackClient.connect(to: try #require(addresses.first))
        try await client.send(requestBytes(correlationId: 41))
        try await poll { router.pendingCorrelationIds == [41] }

        running.cancel()  // like SIGTERM: stop accepting, drain, close storage
        try await poll { !broker.state.isReady }
        #expect(!logDir.hasCleanShutdownMarker)  // still waiting for request 41
        router.answer(41)
        #expect(try await client.responses(count: 1, ofSize: 4) == [41])
        try await running.value
        #expect(logDir.hasCleanShutdownMarker)
        try await client.channel.closeFuture.get()
    }

    @Test func brokerShutdownClosesConnectionsThatOutliveShutdownTimeout() async throws {
        let router = ManualRouter()
        let logDir = TemporaryLogDir()
        var config = BrokerConfig()
        try config.set("listeners", to: "PLAINTEXT://127.0.0.1:0")
        try config.set("shutdown.timeout.ms", to: "50")
        try config.set("log.dirs", to: logDir.path)
        let broker = try Broker(config: config, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"),
                                metricsRegistry: nil, router: router)
        let running = Task { try await broker.run() }
        let addresses = await broker.state.waitUntilReady()
        let client = try await LoopbackClient.connect(to: try #require(addresses.first))
        try await client.send(requestBytes(correlationId: 1))
        try await poll { router.pendingCorrelationIds == [1] }
        running.cancel()
        try await running.value
        try await client.channel.closeFuture.get()
        router.answer(1)
    }
}

/// Polls `condition` every few milliseconds, failing after `seconds`.
func poll(seconds: Double = 5, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("condition not met within \(seconds)s")
            return
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}
