// Dynamic broker configs on a single node (local metadata store): IncrementalAlterConfigs / AlterConfigs
// on a BROKER resource store the throttle rates, DescribeConfigs shows their source, the broker applies
// them to its throttle without a restart, a broker reopened on the same log dir applies them again, and
// anything else is refused as before.
import Foundation
import KafkaProtocol
import Logging
import Testing
@testable import RunnelBroker

@Suite struct DynamicBrokerConfigTests {
    static let rate = "leader.replication.throttled.rate"

    final class Harness: OfflineBroker {
        init() throws { try super.init(prefix: "runnel-dynamic-config-") }
        override init(reopening directory: String) throws { try super.init(reopening: directory) }

        /// IncrementalAlterConfigs of one BROKER resource: (name, op, value) with op 0 = SET, 1 = DELETE.
        func incremental(_ name: String, _ ops: [(String, Int8, String?)]) async -> ErrorCode {
            var resource = IncrementalAlterConfigsRequest.AlterConfigsResource()
            resource.resourceType = ConfigResourceType.broker.rawValue
            resource.resourceName = name
            resource.configs = ops.map {
                var c = IncrementalAlterConfigsRequest.AlterableConfig()
                c.name = $0.0
                c.configOperation = $0.1
                c.value = $0.2
                return c
            }
            var request = IncrementalAlterConfigsRequest()
            request.resources = [resource]
            let response = await broker.core.incrementalAlterConfigs(request, self.request(44, version: 1))
            return ErrorCode(rawValue: response.responses.first?.errorCode ?? -2)
        }

        /// AlterConfigs (replacing every dynamic value) of one BROKER resource.
        func replace(_ name: String, _ configs: [String: String]) async -> ErrorCode {
            var resource = AlterConfigsRequest.AlterConfigsResource()
            resource.resourceType = ConfigResourceType.broker.rawValue
            resource.resourceName = name
            resource.configs = configs.map {
                var c = AlterConfigsRequest.AlterableConfig()
                c.name = $0.key
                c.value = $0.value
                return c
            }
            var request = AlterConfigsRequest()
            request.resources = [resource]
            let response = await broker.core.alterConfigs(request, self.request(33, version: 1))
            return ErrorCode(rawValue: response.responses.first?.errorCode ?? -2)
        }

        /// The described entry of `key` on BROKER resource `name`: (value, source, read-only, synonym sources).
        func describe(_ name: String, _ key: String) -> (String?, ConfigSource?, Bool, [ConfigSource])? {
            var resource = DescribeConfigsRequest.DescribeConfigsResource()
            resource.resourceType = ConfigResourceType.broker.rawValue
            resource.resourceName = name
            resource.configurationKeys = [key]
            var request = DescribeConfigsRequest()
            request.resources = [resource]
            request.includeSynonyms = true
            guard case .now(let response) = broker.core.describeConfigs(request, self.request(32, version: 4)),
                  let entry = response.results.first?.configs.first else { return nil }
            return (entry.value, ConfigSource(rawValue: entry.configSource), entry.readOnly,
                    entry.synonyms.compactMap { ConfigSource(rawValue: $0.source) })
        }
    }

    @Test("the default and the broker's own value, each with its source; the throttle follows without a restart")
    func alterAndDescribe() async throws {
        let harness = try Harness()
        let node = String(harness.broker.core.settings.nodeId)
        let following = harness.broker.startDynamicBrokerConfigs()
        defer { following.cancel() }
        let throttle = harness.broker.core.replicas.leaderThrottle
        #expect(harness.describe(node, Self.rate)?.1 == .defaultConfig)
        #expect(!throttle.isLimited)

        #expect(await harness.incremental("", [(Self.rate, 0, "5000")]) == .none)
        let byDefault = try #require(harness.describe(node, Self.rate))
        #expect(byDefault.0 == "5000" && byDefault.1 == .dynamicDefaultBrokerConfig && !byDefault.2)
        #expect(harness.describe("", Self.rate)?.1 == .dynamicDefaultBrokerConfig)
        try await waitFor("the default rate applied") { throttle.rate == 5000 }

        #expect(await harness.incremental(node, [(Self.rate, 0, "3000")]) == .none)
        let own = try #require(harness.describe(node, Self.rate))
        #expect(own.0 == "3000" && own.1 == .dynamicBrokerConfig)
        #expect(own.3.prefix(2) == [.dynamicBrokerConfig, .dynamicDefaultBrokerConfig], "synonyms: own, then the default")
        #expect(harness.describe("", Self.rate)?.0 == "5000", "the default resource shows the default")
        try await waitFor("the broker's own rate applied") { throttle.rate == 3000 }

        #expect(await harness.replace(node, [:]) == .none, "AlterConfigs replaces the broker's values: none left")
        #expect(harness.describe(node, Self.rate)?.1 == .dynamicDefaultBrokerConfig)
        #expect(await harness.incremental("", [(Self.rate, 1, nil)]) == .none)
        #expect(harness.describe(node, Self.rate)?.1 == .defaultConfig)
        try await waitFor("back to unlimited") { !throttle.isLimited }
    }

    @Test("refused: other broker settings (INVALID_REQUEST), bad values and APPEND (INVALID_CONFIG), a bad resource name")
    func refused() async throws {
        let harness = try Harness()
        #expect(await harness.incremental("", [("log.retention.ms", 0, "1000")]) == .invalidRequest)
        #expect(await harness.incremental("", [("no.such.setting", 0, "1")]) == .invalidRequest)
        #expect(await harness.incremental("", [(Self.rate, 0, "-5")]) == .invalidConfig)
        #expect(await harness.incremental("", [(Self.rate, 0, "fast")]) == .invalidConfig)
        #expect(await harness.incremental("", [(Self.rate, 2, "1")]) == .invalidConfig)
        #expect(await harness.incremental("broker-one", [(Self.rate, 0, "1000")]) == .invalidRequest)
        #expect(await harness.replace("", ["log.retention.ms": "1000"]) == .invalidRequest)
        #expect(harness.describe("", Self.rate)?.1 == .defaultConfig, "nothing was stored")
    }

    @Test("the values survive a restart: a broker reopened on the same log dir applies them at start")
    func survivesRestart() async throws {
        let first = try Harness()
        #expect(await first.incremental("", [(Self.rate, 0, "7000")]) == .none)
        await first.broker.core.metadataStore.shutdown()
        first.broker.logManager.shutdown()
        let reopened = try Harness(reopening: first.directory)
        let following = reopened.broker.startDynamicBrokerConfigs()
        defer { following.cancel() }
        #expect(reopened.broker.core.replicas.leaderThrottle.rate == 7000)
        #expect(reopened.describe("", Self.rate)?.1 == .dynamicDefaultBrokerConfig)
        await reopened.broker.core.metadataStore.shutdown()
    }

    private func waitFor(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out waiting for: \(what)")
                return
            }
            try await Task.sleep(for: .milliseconds(10))  // polling a condition, bounded
        }
    }
}
