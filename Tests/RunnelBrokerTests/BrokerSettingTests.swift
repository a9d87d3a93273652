// The typed settings the broker reads come from the settings table: every one resolves to a value of
// its definition's type in a default configuration, so no caller needs a literal of its own.
import KafkaProtocol
import RunnelGroups
import RunnelStorage
import Testing
@testable import RunnelBroker

@Suite struct BrokerSettingTests {
    @Test(arguments: BrokerSetting.allCases)
    func everySettingTheBrokerReadsHasATableDefault(_ setting: BrokerSetting) throws {
        let definition = try #require(ConfigTable.broker[setting.name], "\(setting.name) is not in the settings table")
        let value = try #require(BrokerConfig()[setting.name], "\(setting.name) has no default")
        #expect(definition.violation(of: value) == nil || definition.type == .list)
    }

    @Test func componentConfigurationsFollowTheTable() {
        var config = BrokerConfig()
        #expect(ServerConfiguration.defaults.maxRequestBytes == 104_857_600)
        #expect(config.serverConfiguration.maxPendingRequestsPerConnection == 64)
        #expect(GroupCoordinatorConfig(config).offsetsTopicPartitions == 50)
        #expect(BrokerSettings(config).fetchSessionCacheSlots == 1000)
        let storage = LogManagerConfiguration(config, defaultLogConfig: LogConfig())
        #expect(storage.logDirs == ["./data"])
        #expect(storage.retentionCheckIntervalMs == 300_000)
        #expect(storage.flushSchedulerIntervalMs == 1_000)
        #expect(storage.cleanerEnabled)
        try? config.set("log.cleaner.threads", to: "0")
        try? config.set("group.max.size", to: "7")
        try? config.set("max.incremental.fetch.session.cache.slots", to: "3")
        #expect(!LogManagerConfiguration(config, defaultLogConfig: LogConfig()).cleanerEnabled)
        #expect(GroupCoordinatorConfig(config).maxSize == 7)
        #expect(BrokerSettings(config).fetchSessionCacheSlots == 3)
    }
}
