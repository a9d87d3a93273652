// Connections against a scripted broker: version negotiation, fallback, pipelining, timeouts, refusal.
import KafkaProtocol
import NIOCore
import Testing
@testable import RunnelClient

@Suite struct BrokerConnectionTests {
    static let standardRanges: [ApiKey: ClosedRange<Int16>] = [.apiVersions: 0...3, .metadata: 0...9]

    /// Answers ApiVersions with `ranges` and Metadata by echoing the requested topic names.
    static func echoBroker(ranges: [ApiKey: ClosedRange<Int16>] = standardRanges) async throws -> FakeBroker {
        try await FakeBroker { header, body in
            switch ApiKey(rawValue: header.apiKey) {
            case .apiVersions:
                return FakeBroker.apiVersions(ranges)
            case .metadata:
                guard let request = try? MetadataRequest(from: &body, version: header.apiVersion) else { return nil }
                var response = MetadataResponse()
                response.clusterId = "fake"
                response.topics = (request.topics ?? []).map { topic in
                    var entry = MetadataResponse.MetadataResponseTopic()
                    entry.name = topic.name
                    return entry
                }
                return response
            default:
                return nil
            }
        }
    }

    @Test func negotiatesTheHighestVersionBothSidesSpeak() async throws {
        let broker = try await Self.echoBroker()
        let connection = try await BrokerConnection.connect(to: broker.address)
        #expect(connection.apiVersions.negotiatedVersion(for: .metadata) == 9)
        #expect(connection.apiVersions.negotiatedVersion(for: .produce) == nil)
        _ = try await connection.send(MetadataRequest())
        let versions = broker.seen.withLock { $0.map { ($0.apiKey, $0.apiVersion) } }
        #expect(versions.contains { $0 == (ApiKey.metadata.rawValue, 9) })
        #expect(broker.seen.withLock { $0.first?.clientId } == "runnel")
        await connection.close()
        await broker.stop()
    }

    @Test func fallsBackWhenTheBrokerRejectsTheApiVersionsVersion() async throws {
        let broker = try await FakeBroker { header, _ in
            guard ApiKey(rawValue: header.apiKey) == .apiVersions else { return nil }
            var response = FakeBroker.apiVersions([.apiVersions: 0...2, .metadata: 0...4])
            if header.apiVersion > 2 { response.errorCode = ErrorCode.unsupportedVersion.rawValue }
            return response
        }
        let connection = try await BrokerConnection.connect(to: broker.address)
        #expect(connection.apiVersions.negotiatedVersion(for: .metadata) == 4)
        let versions = broker.seen.withLock { $0.map(\.apiVersion) }
        #expect(versions.first ?? 0 > 2)
        #expect(versions.last == 2)
        await connection.close()
        await broker.stop()
    }

    @Test func pipelinedRequestsEachGetTheirOwnResponse() async throws {
        let broker = try await Self.echoBroker()
        let connection = try await BrokerConnection.connect(to: broker.address)
        try await withThrowingTaskGroup(of: (Int, String?).self) { group in
            for index in 0..<50 {
                group.addTask {
                    var request = MetadataRequest()
                    var topic = MetadataRequest.MetadataRequestTopic()
                    topic.name = "topic-\(index)"
                    request.topics = [topic]
                    let response = try await connection.send(request)
                    return (index, response.topics.first?.name ?? nil)
                }
            }
            for try await (index, name) in group { #expect(name == "topic-\(index)") }
        }
        let ids = broker.seen.withLock { $0.map(\.correlationId) }
        #expect(Set(ids).count == ids.count)
        await connection.close()
        await broker.stop()
    }

    @Test func unansweredRequestTimesOut() async throws {
        let broker = try await FakeBroker { header, _ in
            ApiKey(rawValue: header.apiKey) == .apiVersions ? FakeBroker.apiVersions(Self.standardRanges) : nil
        }
        // Connect (ApiVersions handshake) with the default timeout, which a loaded CI machine may need;
        // only the unanswered Metadata request gets the short one.
        let connection = try await BrokerConnection.connect(to: broker.address, configuration: ConnectionConfiguration())
        await #expect {
            _ = try await connection.send(MetadataRequest(), timeout: .milliseconds(200))
        } throws: { error in
            if case .requestTimedOut = error as? KafkaClientError { return true }
            return false
        }
        await connection.close()
        await broker.stop()
    }

    /// A request sent on a connection that has just closed (a leader killed between two fetches) fails at
    /// once as a closed connection; it used to wait forever: its write never reached the part of the
    /// pipeline that answers or times requests out. A replica fetch loop stopped for good on it.
    @Test func aRequestOnAClosedConnectionFailsInsteadOfWaitingForever() async throws {
        let broker = try await Self.echoBroker()
        let connection = try await BrokerConnection.connect(to: broker.address)
        await connection.close()
        #expect(!connection.isActive)
        let start = ContinuousClock.now
        await #expect {
            _ = try await connection.send(MetadataRequest(), timeout: .seconds(60))
        } throws: { error in
            if case .connectionClosed = error as? KafkaClientError { return true }
            return false
        }
        #expect(ContinuousClock.now - start < .seconds(10), "failed at once, not by a timeout")
        await broker.stop()
    }

    @Test func unsupportedApiIsReportedBeforeSending() async throws {
        let broker = try await Self.echoBroker()
        let connection = try await BrokerConnection.connect(to: broker.address)
        await #expect(throws: KafkaClientError.self) { _ = try await connection.send(ProduceRequest()) }
        await connection.close()
        await broker.stop()
    }

    @Test func refusedConnectionSaysWhereAndWhy() async throws {
        let broker = try await Self.echoBroker()
        let address = broker.address
        await broker.stop()
        do {
            _ = try await BrokerConnection.connect(to: address)
            Issue.record("connect should fail")
        } catch let error as KafkaClientError {
            guard case .connectionFailed(let where_, let reason) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(where_ == address.description)
            #expect(reason.lowercased().contains("refused"))
        }
    }

    @Test func clientMetadataRefreshFillsTheCache() async throws {
        let broker = try await Self.echoBroker()
        let client = KafkaClient(configuration: ClientConfiguration(bootstrapServers: [broker.address]))
        let metadata = try await client.refreshMetadata(topics: ["a", "b"])
        #expect(metadata.clusterId == "fake")
        #expect(Set(metadata.topics.keys) == ["a", "b"])
        await client.close()
        await broker.stop()
    }
}
