// Tests for logs (one key=value line per event) and the /metrics, /health, /ready endpoint.
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Prometheus
import Testing
@testable import RunnelBroker

@Suite struct ObservabilityTests {
    @Test func logLinesCarryLevelLabelMessageAndSortedQuotedMetadata() throws {
        let logs = LogCapture()
        var logger = logs.logger
        logger[metadataKey: "connection"] = "c-1"
        logger.warning("request too large", metadata: ["size": "5", "client": "a b"])
        let line = try #require(logs.all.first)
        #expect(line.hasSuffix("warning test: request too large client=\"a b\" connection=c-1 size=5\n"))
        #expect(line.filter { $0 == "\n" }.count == 1)
        #expect(line.first?.isNumber == true)  // ISO-8601 timestamp first
    }

    @Test func jsonLogLinesAreOneObjectWithEscapedMetadataAndProtectedFixedFields() throws {
        let lines = NIOLockedValueBox<[String]>([])
        var logger = Logger(label: "runnel.test") { label in
            KeyValueLogHandler(label: label, level: .debug, format: .json) { line in lines.withLockedValue { $0.append(line) } }
        }
        logger[metadataKey: "connection"] = "c-1"
        logger.warning("bad \"input\"", metadata: ["value": "a\nb\\c\u{01}", "message": "collides"])
        let line = try #require(lines.withLockedValue { $0.first })
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1)
        #expect(line.hasPrefix(#"{"time":""#))
        #expect(line.contains(#""level":"warning","logger":"runnel.test","message":"bad \"input\"""#))
        #expect(line.contains(#""connection":"c-1","_message":"collides","value":"a\nb\\c\u0001""#))
    }

    @Test func logLevelBelowTheThresholdIsDropped() {
        let logs = LogCapture()
        var logger = logs.logger
        logger.logLevel = .info
        logger.debug("hidden")
        logger.info("shown")
        #expect(logs.all.count == 1)
    }

    private func get(_ path: String, from address: SocketAddress) async throws -> String {
        let client = try await LoopbackClient.connect(to: address)
        var request = ByteBuffer()
        request.writeString("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        try await client.send(request)
        try await client.channel.closeFuture.get()
        var bytes = try await client.collector.waitFor(bytes: 0, on: client.channel)
        return bytes.readString(length: bytes.readableBytes) ?? ""
    }

    /// Opens a gate that page reads wait at.
    actor Gate {
        private var open = false
        private var waiting: [CheckedContinuation<Void, Never>] = []
        func pass() async {
            if open { return }
            await withCheckedContinuation { waiting.append($0) }
        }
        func release() {
            open = true
            waiting.forEach { $0.resume() }
            waiting = []
        }
    }

    @Test func pagesAreReadAtNormalPriorityWrittenOnTheIdleThreadAndBoundedWith503() async throws {
        let gate = Gate()
        let policies = NIOLockedValueBox<(read: Set<Int32>, write: Set<Int32>)>(([], []))
        let state = BrokerState()
        let endpoint = await MetricsServer(
            registry: PrometheusCollectorRegistry(), state: state, logger: Logger(label: "test"),
            pages: { _ in
                policies.withLockedValue { _ = $0.read.insert(IdleThreadPriority.callingThreadPolicy()) }
                await gate.pass()
                return {
                    policies.withLockedValue { _ = $0.write.insert(IdleThreadPriority.callingThreadPolicy()) }
                    return (200, "text/plain; charset=utf-8", "page\n")
                }
            })
        try await endpoint.start(host: "127.0.0.1", port: 0)
        let address = try #require(endpoint.boundAddress)
        let extra = 5
        let answers = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<(MetricsServer.maxPendingPages + extra) {
                group.addTask { try await self.get("/page", from: address) }
            }
            // Every request is in: the bound holds 128, the rest were answered at once.
            let deadline = ContinuousClock.now + .seconds(30)
            while endpoint.pending.current < MetricsServer.maxPendingPages, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            var answers: [String] = []
            while answers.count < extra, let answer = try await group.next() { answers.append(answer) }
            // With every place taken and every page held, the probes still answer at once, and truly
            // (decision 0019): they never wait behind pages nor get the pages' 503.
            #expect(try await self.get("/health", from: address).hasPrefix("HTTP/1.1 200"))
            #expect(try await self.get("/ready", from: address).hasPrefix("HTTP/1.1 503"))
            state.markReady(addresses: [])
            #expect(try await self.get("/ready", from: address).hasPrefix("HTTP/1.1 200"))
            state.markNotReady()
            #expect(try await self.get("/ready", from: address).hasPrefix("HTTP/1.1 503"))
            #expect(endpoint.pending.current == MetricsServer.maxPendingPages)
            await gate.release()
            for try await answer in group { answers.append(answer) }
            return answers
        }
        let refused = answers.filter { $0.hasPrefix("HTTP/1.1 503") }
        #expect(refused.count == extra)
        #expect(refused.allSatisfy { $0.contains("Retry-After: 1") })
        #expect(answers.filter { $0.hasPrefix("HTTP/1.1 200") && $0.hasSuffix("page\n") }.count == MetricsServer.maxPendingPages)
        let drained = ContinuousClock.now + .seconds(10)  // places are given back just after each answer is sent
        while endpoint.pending.current > 0, ContinuousClock.now < drained { try await Task.sleep(for: .milliseconds(5)) }
        #expect(endpoint.pending.current == 0)
        #if os(Linux)
        #expect(policies.withLockedValue { $0.read } == [0])  // SCHED_OTHER: the concurrency pool
        #expect(policies.withLockedValue { $0.write } == [5])  // SCHED_IDLE: the endpoint's own thread
        #endif
        await endpoint.stop()
    }

    @Test func thePacerLetsABurstThroughThenOnePerInterval() {
        let pacer = RequestPacer(perSecond: 4)  // 250 ms apart after a burst of 4
        let ms: Int64 = 1_000_000
        let t0: Int64 = 1_000 * ms
        #expect((0..<4).map { _ in pacer.reserve(now: t0) } == [0, 0, 0, 0])
        #expect(pacer.reserve(now: t0) == 250 * ms)
        #expect(pacer.reserve(now: t0 + 100 * ms) == 400 * ms)  // the 6th starts at t0 + 500 ms
        // After a quiet spell the burst is back, never more than it.
        let later = t0 + 10_000 * ms
        #expect((0..<5).map { _ in pacer.reserve(now: later) } == [0, 0, 0, 0, 250 * ms])
        let unpaced = RequestPacer(perSecond: 0)
        #expect((0..<1_000).allSatisfy { _ in unpaced.reserve(now: t0) == 0 })
    }

    @Test func pagesBeyondTheRateWaitTheirTurnWhileProbesAnswerAtOnce() async throws {
        let started = NIOLockedValueBox<[ContinuousClock.Instant]>([])
        let endpoint = await MetricsServer(
            registry: PrometheusCollectorRegistry(), state: BrokerState(), logger: Logger(label: "test"),
            maxRequestsPerSecond: 5,
            pages: { _ in
                started.withLockedValue { $0.append(.now) }
                return { (200, "text/plain; charset=utf-8", "page\n") }
            })
        try await endpoint.start(host: "127.0.0.1", port: 0)
        let address = try #require(endpoint.boundAddress)
        let begin = ContinuousClock.now
        let (answers, finished, probed) = try await withThrowingTaskGroup(of: (String, ContinuousClock.Instant).self) { group in
            for _ in 0..<15 { group.addTask { (try await self.get("/page", from: address), .now) } }
            // While ten pages wait for their turn, the probes do not: answered before the last page,
            // which cannot start before 2 s (a bound in order, not in time: the machine may be busy).
            #expect(try await self.get("/health", from: address).hasPrefix("HTTP/1.1 200"))
            let probed = ContinuousClock.now
            var answers: [String] = []
            var finished: [ContinuousClock.Instant] = []
            for try await (answer, at) in group {
                answers.append(answer)
                finished.append(at)
            }
            return (answers, finished, probed)
        }
        #expect(probed < (finished.max() ?? begin))
        #expect(answers.count == 15 && answers.allSatisfy { $0.hasPrefix("HTTP/1.1 200") && $0.hasSuffix("page\n") })
        // A burst of 5, then 5 a second: the 15th may start no sooner than 2 s after the first arrived (so
        // after `begin`; measured from the first read instead, a late burst on a busy machine shortens it).
        let starts = started.withLockedValue { $0 }.sorted()
        #expect(starts.count == 15)
        if let last = starts.last {
            #expect(last - begin >= .milliseconds(1_950))
            #expect(last - begin < .seconds(60))  // paced, not stalled (generous: the suite runs in parallel)
        }
        await endpoint.stop()
    }

    @Test func aPagedRequestWhoseClientLeftBeforeItsTurnIsNeverRead() async throws {
        // The premise: the leaving client's request arrives, and its client leaves, within the second the
        // burst of one takes. A machine too busy for that (a fresh-clone CI run took over a second once)
        // makes the request due at arrival; then the scenario runs again, up to three times in all.
        for _ in 0..<3 {
            let reads = NIOLockedValueBox(0)
            let endpoint = await MetricsServer(
                registry: PrometheusCollectorRegistry(), state: BrokerState(), logger: Logger(label: "test"),
                maxRequestsPerSecond: 1,
                pages: { _ in
                    reads.withLockedValue { $0 += 1 }
                    return { (200, "text/plain; charset=utf-8", "page\n") }
                })
            try await endpoint.start(host: "127.0.0.1", port: 0)
            let address = try #require(endpoint.boundAddress)
            let leaving = try await LoopbackClient.connect(to: address)
            let begin = ContinuousClock.now
            async let first = get("/page", from: address)  // the burst of one
            // Sent once the first is read (admitted), not once it is answered: its answer is written on
            // the lowest-priority thread, which a saturated machine may leave waiting past the premise.
            while reads.withLockedValue({ $0 }) == 0, ContinuousClock.now - begin < .seconds(30) {
                try await Task.sleep(for: .milliseconds(2))
            }
            // The next request waits about a second for its turn; its client leaves at once.
            var request = ByteBuffer()
            request.writeString("GET /page HTTP/1.1\r\nHost: localhost\r\n\r\n")
            try await leaving.send(request)
            try await leaving.channel.close()
            let premiseHeld = ContinuousClock.now - begin < .milliseconds(700)
            #expect(try await first.hasSuffix("page\n"))
            guard premiseHeld else {
                await endpoint.stop()
                continue
            }
            // The one after it waits behind that turn, then is read and answered.
            #expect(try await get("/page", from: address).hasSuffix("page\n"))
            #expect(reads.withLockedValue { $0 } == 2)
            await endpoint.stop()
            return
        }
        Issue.record("three times the leaving request was not sent and closed within 0.7 s of the burst")
    }

    @Test func metricsEndpointServesServerMetricsHealthAndReadiness() async throws {
        let registry = PrometheusCollectorRegistry()
        let metrics = ServerMetrics(factory: PrometheusMetricsFactory(registry: registry))
        let server = KafkaServer(
            configuration: ServerConfiguration(listeners: [Listener(name: "PLAINTEXT", host: "127.0.0.1", port: 0)]),
            router: EchoRouter(), metrics: metrics)
        try await server.start()
        let state = BrokerState()
        let endpoint = MetricsServer(
            registry: registry, state: state, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
        try await endpoint.start(host: "127.0.0.1", port: 0)
        let address = try #require(endpoint.boundAddress)

        #expect(try await get("/ready", from: address).hasPrefix("HTTP/1.1 503"))
        #expect(try await get("/health", from: address).hasPrefix("HTTP/1.1 200"))
        state.markReady(addresses: server.boundAddresses)
        #expect(try await get("/ready", from: address).hasPrefix("HTTP/1.1 200"))
        #expect(try await get("/nope", from: address).hasPrefix("HTTP/1.1 404"))

        let client = try await LoopbackClient.connect(to: try #require(server.boundAddresses.first))
        try await client.send(requestBytes(apiKey: 3, correlationId: 9))
        #expect(try await client.responses(count: 1, ofSize: 4) == [9])
        let text = try await get("/metrics", from: address)
        #expect(text.contains("runnel_requests_total{api=\"Metadata\",version=\"3\"} 1"))
        #expect(text.contains("runnel_connections 1"))
        #expect(text.contains("runnel_network_bytes_in_total 12"))
        #expect(text.contains("runnel_network_bytes_out_total 8"))
        #expect(text.contains("runnel_request_latency_seconds_count{api=\"Metadata\"} 1"))

        try await client.channel.close()
        await server.stopAccepting()
        await endpoint.stop()
    }
}
