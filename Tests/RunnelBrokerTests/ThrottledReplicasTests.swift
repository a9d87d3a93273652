// The throttled-replica lists (leader/follower.replication.throttled.replicas), Kafka's rule for which
// replication traffic the rates limit, the dynamic rate, and the dynamic broker configs' resolution.
import KafkaProtocol
import RunnelCluster
import Testing
@testable import RunnelBroker

@Suite struct ThrottledReplicasTests {
    @Test("lists parse as Kafka's ThrottledReplicaListValidator accepts them")
    func parsing() {
        #expect(ThrottledReplicaList(text: "") == ThrottledReplicaList.none)
        #expect(ThrottledReplicaList(text: "*") == .all)
        #expect(ThrottledReplicaList(text: " * ") == .all)
        #expect(ThrottledReplicaList(text: "0:1, 1:2,0:2") == .replicas([1: [0], 2: [1, 0]]))
        #expect(ThrottledReplicaList(text: "0:1,,1:2") == .replicas([1: [0], 2: [1]]), "empty items are allowed, as Kafka's regex allows them")
        for bad in ["0", "0:", ":1", "a:1", "0:1:2", "-1:2", "0:1,*", "*,*", "0;1", "0:1x", "99999999999:1"] {
            #expect(ThrottledReplicaList(text: bad) == nil, "\(bad) must be refused")
        }
    }

    @Test("CreateTopics/AlterConfigs validation: a malformed list is an invalid config value")
    func validation() throws {
        let resolver = TopicConfigResolver(broker: BrokerConfig())
        let settings = try resolver.validatedLogConfig(overrides: [
            "leader.replication.throttled.replicas": "0:1,1:1", "follower.replication.throttled.replicas": "*"])
        #expect(settings.leaderThrottledReplicas == .replicas([1: [0, 1]]))
        #expect(settings.followerThrottledReplicas == .all)
        #expect(try resolver.validatedLogConfig(overrides: [:]).leaderThrottledReplicas == ThrottledReplicaList.none)
        #expect(throws: ConfigError.self) {
            try resolver.validatedLogConfig(overrides: ["leader.replication.throttled.replicas": "0-1"])
        }
        #expect(throws: ConfigError.self) {
            try resolver.validatedLogConfig(overrides: ["follower.replication.throttled.replicas": "1:x"])
        }
    }

    @Test("a leader throttles only a listed partition on itself, towards a replica out of the ISR")
    func leaderRule() {
        let list = ThrottledReplicaList(text: "0:1,2:1")!
        #expect(ReplicationThrottleRule.leaderThrottles(list, partition: 0, leader: 1, follower: 3, isr: [1, 2]))
        #expect(!ReplicationThrottleRule.leaderThrottles(list, partition: 0, leader: 1, follower: 2, isr: [1, 2]),
                "an in-sync follower is never throttled")
        #expect(!ReplicationThrottleRule.leaderThrottles(list, partition: 1, leader: 1, follower: 3, isr: [1]),
                "partition 1 is not listed")
        #expect(!ReplicationThrottleRule.leaderThrottles(list, partition: 0, leader: 2, follower: 3, isr: [2]),
                "the list names broker 1 as the sender, not broker 2")
        #expect(ReplicationThrottleRule.leaderThrottles(.all, partition: 7, leader: 2, follower: 3, isr: [2]))
        #expect(!ReplicationThrottleRule.leaderThrottles(.none, partition: 0, leader: 1, follower: 3, isr: [1]))
    }

    @Test("a follower throttles only a listed partition on itself, while it is out of the ISR")
    func followerRule() {
        let list = ThrottledReplicaList(text: "0:3")!
        #expect(ReplicationThrottleRule.followerThrottles(list, partition: 0, follower: 3, isr: [1, 2]))
        #expect(!ReplicationThrottleRule.followerThrottles(list, partition: 0, follower: 3, isr: [1, 3]))
        #expect(!ReplicationThrottleRule.followerThrottles(list, partition: 0, follower: 2, isr: [1]))
        #expect(!ReplicationThrottleRule.followerThrottles(list, partition: 1, follower: 3, isr: [1]))
        #expect(ReplicationThrottleRule.followerThrottles(.all, partition: 1, follower: 3, isr: [1]))
    }

    @Test("a rate changed at runtime keeps the debt, caps the bucket at one second of the new rate, and unlimited lifts it")
    func dynamicRate() {
        let throttle = ReplicationThrottle(rate: .max)
        #expect(!throttle.isLimited)
        throttle.setRate(1000)
        #expect(throttle.isLimited && throttle.rate == 1000)
        let start = ContinuousClock.now
        #expect(throttle.available(now: start) <= 1000)
        throttle.record(3000, now: start)
        #expect(throttle.available(now: start) < 0)
        throttle.setRate(.max)
        #expect(!throttle.isLimited && throttle.available() == .max && throttle.delayUntilAvailable() == .zero)
        throttle.setRate(0)
        #expect(throttle.rate == 1, "a rate below 1 byte/s is clamped, never a division by zero")
    }

    @Test("dynamic broker configs: own value, else the cluster default, else the config file, else the built-in default")
    func dynamicResolution() throws {
        var config = BrokerConfig()
        let leader = BrokerSetting.leaderReplicationThrottledRate
        var image = MetadataImage(clusterId: "c")
        #expect(DynamicBrokerConfigs.rate(leader, nodeId: 2, image: image, config: config) == .max)
        try config.set(leader.name, to: "5000")
        #expect(DynamicBrokerConfigs.rate(leader, nodeId: 2, image: image, config: config) == 5000)
        image.records[.brokerConfig] = ["default": ClusterRecord(kind: .brokerConfig, key: "default",
                                                                   value: DynamicBrokerConfigs.json([leader.name: "4000"]), version: 1)]
        #expect(DynamicBrokerConfigs.rate(leader, nodeId: 2, image: image, config: config) == 4000)
        #expect(DynamicBrokerConfigs.dynamicValue(leader.name, nodeId: 2, image: image)?.source == .dynamicDefaultBrokerConfig)
        image.records[.brokerConfig]?["2"] = ClusterRecord(kind: .brokerConfig, key: "2",
                                                          value: DynamicBrokerConfigs.json([leader.name: "3000"]), version: 2)
        #expect(DynamicBrokerConfigs.rate(leader, nodeId: 2, image: image, config: config) == 3000)
        #expect(DynamicBrokerConfigs.dynamicValue(leader.name, nodeId: 2, image: image)?.source == .dynamicBrokerConfig)
        #expect(DynamicBrokerConfigs.rate(leader, nodeId: 3, image: image, config: config) == 4000, "broker 3 has no value of its own")
        #expect(DynamicBrokerConfigs.rate(.followerReplicationThrottledRate, nodeId: 2, image: image, config: config) == .max)
    }

    @Test("dynamic broker config requests: resource names and values are checked as Kafka checks them")
    func dynamicValidation() {
        #expect(DynamicBrokerConfigs.recordKey(resourceName: "") == "default")
        #expect(DynamicBrokerConfigs.recordKey(resourceName: "3") == "3")
        #expect(DynamicBrokerConfigs.recordKey(resourceName: "x") == nil)
        #expect(DynamicBrokerConfigs.recordKey(resourceName: "-1") == nil)
        #expect(DynamicBrokerConfigs.validate(["leader.replication.throttled.rate": "1000",
                                               "follower.replication.throttled.rate": "2000"]) == nil)
        #expect(DynamicBrokerConfigs.validate(["leader.replication.throttled.rate": "fast"])?.code == .invalidConfig)
        #expect(DynamicBrokerConfigs.validate(["follower.replication.throttled.rate": "0"])?.code == .invalidConfig)
        #expect(DynamicBrokerConfigs.validate(["log.retention.ms": "1"])?.code == .invalidRequest, "a static broker setting")
        #expect(DynamicBrokerConfigs.validate(["no.such.setting": "1"])?.code == .invalidRequest)
    }
}
