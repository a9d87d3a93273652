// Tests for configuration: TOML loading, validation errors, environment and --override
// precedence, synonyms, and a topic's effective values with their DescribeConfigs sources.
import Foundation
import KafkaProtocol
import Testing
@testable import RunnelBroker

@Suite struct BrokerConfigTests {
    private func load(_ toml: String, environment: [String: String] = [:], overrides: [String] = []) throws -> BrokerConfig {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("runnel-\(UUID().uuidString).toml").path
        try toml.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try BrokerConfig.load(path: path, environment: environment, overrides: overrides)
    }

    @Test func embeddedDefaultIsASingleNodeOnLoopbackWithDataUnderDotData() throws {
        let config = try BrokerConfig.load()
        #expect(config.listeners == [Listener(name: "PLAINTEXT", host: "127.0.0.1", port: 9092)])
        #expect(config.logDirs == ["./data"])
        #expect(config.nodeId == 1)
        #expect(config["offsets.topic.replication.factor"] == .int(1))
    }

    @Test func kafkaDefaultsComeFromTheTable() {
        let config = BrokerConfig()
        #expect(config["socket.request.max.bytes"] == .int(104_857_600))
        #expect(config["connections.max.idle.ms"] == .int(600_000))
        #expect(config["offsets.topic.num.partitions"] == .int(50))
        #expect(config["group.initial.rebalance.delay.ms"] == .int(3000))
        #expect(config["log.retention.ms"] == .int(604_800_000))  // from log.retention.hours=168
        #expect(config.serverConfiguration.maxRequestBytes == 104_857_600)
        #expect(config.serverConfiguration.idleTimeout == .milliseconds(600_000))
    }

    @Test func quotedDottedKeysAndTablesBothNameKafkaSettings() throws {
        let config = try load("""
            "log.dirs" = ["/a", "/b"]
            "num.partitions" = 3
            [log.retention]
            hours = 24
            """)
        #expect(config.logDirs == ["/a", "/b"])
        #expect(config["num.partitions"] == .int(3))
        #expect(config["log.retention.hours"] == .int(24))
        #expect(config.origins["num.partitions"] != nil)
    }

    @Test func invalidValueErrorNamesTheKeyTheValueAndTheRule() throws {
        #expect {
            try load("\"socket.request.max.bytes\" = -1")
        } throws: { error in
            let text = "\(error)"
            return text.contains("socket.request.max.bytes") && text.contains("-1") && text.contains("at least 1")
        }
        #expect(throws: ConfigError.self) { try load("\"auto.create.topics.enable\" = 3") }
        #expect(throws: ConfigError.self) { try load("\"num.partitions\" = 3000000000") }
        #expect(throws: ConfigError.self) { try load("listeners = \"localhost:9092\"") }
        #expect(throws: ConfigError.self) { try load("\"io.engine\" = \"aio\"") }
    }

    @Test func unknownSettingIsRefusedWithASuggestion() throws {
        #expect {
            try load("\"log.dir5\" = \"./x\"")
        } throws: { error in
            guard case ConfigError.unknownSetting(let name, _, let suggestion) = error else { return false }
            return name == "log.dir5" && suggestion != nil
        }
    }

    @Test func tomlSyntaxErrorReportsTheLine() throws {
        #expect {
            try load("\"num.partitions\" = 1\nlisteners = \n")
        } throws: { error in
            guard case ConfigError.syntax(_, let line, _, _) = error else { return false }
            return line == 2
        }
    }

    @Test func environmentOverridesTheFileAndOverrideArgumentsOverrideTheEnvironment() throws {
        let toml = "\"log.dirs\" = \"/from-file\"\n\"num.partitions\" = 2"
        let environment = ["RUNNEL_LOG_DIRS": "/from-env", "RUNNEL_NUM_PARTITIONS": "4", "PATH": "/bin"]
        let config = try load(toml, environment: environment, overrides: ["num.partitions=6"])
        #expect(config.logDirs == ["/from-env"])
        #expect(config["num.partitions"] == .int(6))
        #expect(config.origins["log.dirs"] == .environment("RUNNEL_LOG_DIRS"))
    }

    @Test func badEnvironmentValueNamesTheVariable() {
        #expect {
            try BrokerConfig.load(environment: ["RUNNEL_MAX_CONNECTIONS": "many"])
        } throws: { error in "\(error)".contains("RUNNEL_MAX_CONNECTIONS") && "\(error)".contains("max.connections") }
    }

    @Test func settingsThatContradictEachOtherAreRefused() {
        #expect { try BrokerConfig.load(overrides: ["listeners=SSL://127.0.0.1:9093"]) } throws: { error in
            "\(error)".contains("SSL") && "\(error)".contains("ssl.keystore.location")
        }
        #expect { try BrokerConfig.load(overrides: ["listeners=KERBEROS://127.0.0.1:9093"]) } throws: { error in
            "\(error)".contains("KERBEROS") && "\(error)".contains("listeners")
        }
        #expect(throws: ConfigError.self) {
            try BrokerConfig.load(overrides: ["listeners=PLAINTEXT://127.0.0.1:1,PLAINTEXT://127.0.0.1:2"])
        }
        #expect(throws: ConfigError.self) { try BrokerConfig.load(overrides: ["advertised.listeners=PLAINTEXT://0.0.0.0:9092"]) }
        #expect(throws: ConfigError.self) { try BrokerConfig.load(overrides: ["group.min.session.timeout.ms=2000000"]) }
        let mapped = try? BrokerConfig.load(overrides: [
            "listeners=INTERNAL://127.0.0.1:9093",
            "listener.security.protocol.map=INTERNAL:PLAINTEXT",
        ])
        #expect(mapped?.listeners.first?.name == "INTERNAL")
    }

    @Test func malformedOverrideIsRefused() {
        #expect(throws: ConfigError.malformedOverride("num.partitions")) {
            try BrokerConfig.load(overrides: ["num.partitions"])
        }
    }

    @Test func brokerSynonymsResolveInPriorityOrderWithUnitConversion() throws {
        var config = BrokerConfig()
        try config.set("log.retention.hours", to: "2")
        #expect(config.resolved("log.retention.ms") ==
                ResolvedConfigValue(value: .int(7_200_000), name: "log.retention.hours", source: .staticBrokerConfig))
        try config.set("log.retention.minutes", to: "3")
        #expect(config["log.retention.ms"] == .int(180_000))
        try config.set("log.retention.ms", to: "1000")
        #expect(config["log.retention.ms"] == .int(1000))
        try config.set("broker.id", to: "7")
        #expect(config.nodeId == 7)
    }

    @Test func topicValueComesFromOverrideThenBrokerSynonymThenDefault() throws {
        var config = BrokerConfig()
        #expect(config.resolvedTopicValue("retention.ms", overrides: [:])?.source == .defaultConfig)
        #expect(config.topicConfig().retentionMs == 604_800_000)
        try config.set("log.retention.hours", to: "1")
        let fromBroker = try #require(config.resolvedTopicValue("retention.ms", overrides: [:]))
        #expect(fromBroker.value == .int(3_600_000))
        #expect(fromBroker.source == .staticBrokerConfig)
        #expect(fromBroker.name == "log.retention.hours")
        let overrides = try TopicConfig.parseOverrides(["retention.ms": "5000", "segment.bytes": "1048576"])
        let topic = config.topicConfig(overrides: overrides)
        #expect(topic.retentionMs == 5000)
        #expect(topic.segmentBytes == 1_048_576)
        #expect(config.resolvedTopicValue("retention.ms", overrides: overrides)?.source == .dynamicTopicConfig)
    }

    @Test func topicDefaultsMatchKafka() {
        let topic = TopicConfig.defaults
        #expect(topic.segmentBytes == 1_073_741_824)
        #expect(topic.segmentMs == 604_800_000)
        #expect(topic.maxMessageBytes == 1_048_588)
        #expect(topic.indexIntervalBytes == 4096)
        #expect(topic.segmentIndexBytes == 10_485_760)
        #expect(topic.cleanupPolicy == ["delete"])
        #expect(topic.compressionType == "producer")
        #expect(topic.fileDeleteDelayMs == 60_000)
        #expect(topic.deleteRetentionMs == 86_400_000)
        // Deliberate difference (docs/compatibility.md): durable acknowledgement by default.
        #expect(topic.flushMessages == 1)
        #expect(topic.minCleanableDirtyRatio == 0.5)
        #expect(topic.retentionBytes == -1)
        #expect(!topic.usesLogAppendTime)
        #expect(!topic.uncleanLeaderElectionEnable)
    }

    @Test func describeTopicConfigListsSynonymsInKafkasOrder() throws {
        var config = BrokerConfig()
        try config.set("log.retention.minutes", to: "30")
        let overrides = try TopicConfig.parseOverrides(["retention.ms": "1000"])
        let entry = try #require(config.describeTopicConfigs(overrides: overrides).first { $0.name == "retention.ms" })
        #expect(entry.value == "1000")
        #expect(entry.source == .dynamicTopicConfig)
        #expect(entry.synonyms == [
            ConfigSynonymEntry(name: "retention.ms", value: "1000", source: .dynamicTopicConfig),
            ConfigSynonymEntry(name: "log.retention.minutes", value: "30", source: .staticBrokerConfig),
            ConfigSynonymEntry(name: "log.retention.hours", value: "168", source: .defaultConfig),
        ])
        let segment = try #require(config.describeTopicConfigs(overrides: [:]).first { $0.name == "segment.bytes" })
        #expect(segment.isDefault)
        #expect(segment.synonyms == [ConfigSynonymEntry(name: "log.segment.bytes", value: "1073741824", source: .defaultConfig)])
    }

    @Test func configSourceAndTypeNumbersMatchDescribeConfigs() {
        #expect(ConfigSource.dynamicTopicConfig.rawValue == 1)
        #expect(ConfigSource.dynamicBrokerConfig.rawValue == 2)
        #expect(ConfigSource.staticBrokerConfig.rawValue == 4)
        #expect(ConfigSource.defaultConfig.rawValue == 5)
        #expect(ConfigType.long.rawValue == 5)
        #expect(ConfigType.list.rawValue == 7)
    }

    @Test func invalidTopicOverridesAreRefusedWithInvalidConfig() {
        #expect {
            try TopicConfig.parseOverrides(["cleanup.policy": "compact,archive"])
        } throws: { error in
            (error as? ConfigError)?.kafkaErrorCode == 40 && "\(error)".contains("archive")
        }
        #expect(throws: ConfigError.self) { try TopicConfig.parseOverrides(["log.retention.ms": "1"]) }
        #expect(throws: ConfigError.self) { try TopicConfig.parseOverrides(["min.cleanable.dirty.ratio": "1.5"]) }
        #expect(throws: ConfigError.self) { try TopicConfig.parseOverrides(["message.timestamp.type": "createtime"]) }
        #expect(throws: ConfigError.self) { try TopicConfig.parseOverrides(["segment.bytes": "1048575"]) }  // Kafka 4 minimum
    }

    @Test func everyEnvironmentVariableNameIsUniqueAndEveryTopicSynonymIsABrokerSetting() {
        let variables = ConfigTable.brokerDefinitions.map(\.environmentVariable)
        #expect(Set(variables).count == variables.count)
        #expect(ConfigTable.broker["log.dirs"]?.environmentVariable == "RUNNEL_LOG_DIRS")
        for definition in ConfigTable.all {
            for synonym in definition.synonyms {
                #expect(ConfigTable.broker[synonym.name] != nil, "\(definition.name) → \(synonym.name)")
            }
            if let value = definition.defaultValue {
                #expect(definition.violation(of: value) == nil, "default of \(definition.name)")
            }
        }
    }

    @Test(arguments: [
        ("PLAINTEXT://127.0.0.1:9092", Listener(name: "PLAINTEXT", host: "127.0.0.1", port: 9092)),
        ("PLAINTEXT://:9092", Listener(name: "PLAINTEXT", host: "", port: 9092)),
        ("INTERNAL://[::1]:19092", Listener(name: "INTERNAL", host: "::1", port: 19092)),
    ])
    func listenersParse(text: String, expected: Listener) {
        #expect(Listener(parsing: text) == expected)
    }

    @Test(arguments: ["127.0.0.1:9092", "PLAINTEXT://host", "PLAINTEXT://host:99999", "://host:1"])
    func malformedListenersAreRejected(text: String) {
        #expect(Listener(parsing: text) == nil)
    }
}
