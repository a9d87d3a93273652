// Client quotas without a broker: Kafka's eight-level precedence, the record key round trip,
// Kafka's validation, DescribeClientQuotas filters, and the windowed rate and throttle arithmetic.
import KafkaProtocol
import Testing
@testable import RunnelBroker

@Suite struct ClientQuotaPrecedenceTests {
    typealias E = ClientQuotaEntity
    static let u = ClientQuotaEntityName.named("alice")
    static let c = ClientQuotaEntityName.named("app")
    static let d = ClientQuotaEntityName.defaultEntity

    /// Kafka's order, most specific first: each level's value, and the sensor it counts in.
    static let levels: [(E, QuotaSensorKey)] = [
        (E(user: u, clientId: c), QuotaSensorKey(user: "alice", clientId: "app")),
        (E(user: u, clientId: d), QuotaSensorKey(user: "alice", clientId: "app")),
        (E(user: u), QuotaSensorKey(user: "alice", clientId: "")),
        (E(user: d, clientId: c), QuotaSensorKey(user: "alice", clientId: "app")),
        (E(user: d, clientId: d), QuotaSensorKey(user: "alice", clientId: "app")),
        (E(user: d), QuotaSensorKey(user: "alice", clientId: "")),
        (E(clientId: c), QuotaSensorKey(user: "", clientId: "app")),
        (E(clientId: d), QuotaSensorKey(user: "", clientId: "app")),
    ]

    @Test("each level wins over every less specific one", arguments: 0..<8)
    func levelWinsOverLessSpecific(level: Int) throws {
        // Levels `level...7` are set (value = level number); the most specific present one applies.
        var entities: [E: [String: Double]] = [:]
        for index in level..<8 { entities[Self.levels[index].0] = ["producer_byte_rate": Double(index + 1)] }
        let table = ClientQuotaTable(entities)
        let resolved = try #require(table.resolve(.producerByteRate, user: "alice", clientId: "app"))
        #expect(resolved.bound == Double(level + 1))
        #expect(resolved.sensor == Self.levels[level].1)
    }

    @Test func quotaKeysResolveIndependently() throws {
        let table = ClientQuotaTable([
            E(user: Self.u): ["consumer_byte_rate": 10],
            E(clientId: Self.d): ["producer_byte_rate": 20],
        ])
        #expect(try #require(table.resolve(.consumerByteRate, user: "alice", clientId: "app")).bound == 10)
        #expect(try #require(table.resolve(.producerByteRate, user: "alice", clientId: "app")).bound == 20)
        #expect(table.resolve(.consumerByteRate, user: "bob", clientId: "app") == nil)
    }

    @Test func otherUsersAndClientsAreUnlimited() {
        let table = ClientQuotaTable([E(user: Self.u, clientId: Self.c): ["producer_byte_rate": 1]])
        #expect(table.resolve(.producerByteRate, user: "bob", clientId: "app") == nil)
        #expect(table.resolve(.producerByteRate, user: "alice", clientId: "other") == nil)
        #expect(table.limitsClients)
        #expect(!ClientQuotaTable([E(ip: .named("10.0.0.1")): ["connection_creation_rate": 5]]).limitsClients)
    }

    @Test func recordKeysRoundTripIncludingAwkwardNames() {
        let entities = [
            E(user: .named("a/b<default>%"), clientId: .defaultEntity), E(user: .defaultEntity), E(clientId: .named("app")),
            E(ip: .named("::1")), E(ip: .defaultEntity), E(user: .named("<default>")),
        ]
        for entity in entities {
            #expect(E(recordKey: entity.recordKey) == entity, "\(entity.recordKey)")
        }
        #expect(E(user: .named("alice"), clientId: .named("app")).recordKey == "users/alice/clients/app")
        #expect(E(user: .named("<default>")).recordKey != E(user: .defaultEntity).recordKey)
        #expect(E(recordKey: "users") == nil)
        #expect(E(recordKey: "topics/x") == nil)
    }
}

@Suite struct ClientQuotaValidationTests {
    func entity(_ components: [(String, String?)]) -> Result<ClientQuotaEntity, ClientQuotaError> {
        ClientQuotaEntity.validated(components.map { (type: $0.0, name: $0.1) })
    }

    @Test func entitiesAreCheckedAsKafkaChecksThem() {
        #expect(throws: Never.self) { try entity([("user", "alice"), ("client-id", nil)]).get() }
        #expect((try? entity([]).get()) == nil)
        #expect((try? entity([("user", "a"), ("user", "b")]).get()) == nil)
        #expect((try? entity([("group", "a")]).get()) == nil)
        #expect((try? entity([("user", "")]).get()) == nil)
        #expect((try? entity([("user", "a"), ("ip", "10.0.0.1")]).get()) == nil)
        #expect((try? entity([("ip", "not-an-address")]).get()) == nil)
        if case .failure(let error) = entity([("user", "a"), ("ip", "10.0.0.1")]) { #expect(error.code == .invalidRequest) }
    }

    @Test func valuesAreCheckedPerKeyType() throws {
        let user = try entity([("user", "alice")]).get()
        let ip = try entity([("ip", "10.0.0.1")]).get()
        #expect(ClientQuotaKey.validate("producer_byte_rate", 1024, for: user) == nil)
        #expect(ClientQuotaKey.validate("request_percentage", 12.5, for: user) == nil)
        #expect(ClientQuotaKey.validate("producer_byte_rate", 1.5, for: user)?.message == "producer_byte_rate cannot be a fractional value.")
        #expect(ClientQuotaKey.validate("producer_byte_rate", 0, for: user)?.message == "Quota producer_byte_rate must be greater than 0")
        #expect(ClientQuotaKey.validate("request_percentage", .nan, for: user) != nil)
        #expect(ClientQuotaKey.validate("request_percentage", .infinity, for: user) != nil)
        #expect(ClientQuotaKey.validate("connection_creation_rate", 5, for: user)?.message == "Invalid configuration key connection_creation_rate")
        #expect(ClientQuotaKey.validate("producer_byte_rate", 5, for: ip) != nil)
        #expect(ClientQuotaKey.validate("connection_creation_rate", 5, for: ip) == nil)
        #expect(ClientQuotaKey.validate("connection_creation_rate", 3e9, for: ip)?.message.contains("too large for an INT") == true)
    }

    @Test func describeFiltersMatchAsKafkaMatches() throws {
        let userOnly = ClientQuotaEntity(user: .named("alice"))
        let userClient = ClientQuotaEntity(user: .named("alice"), clientId: .named("app"))
        let defaultUser = ClientQuotaEntity(user: .defaultEntity)
        let exact = try ClientQuotaFilter.parse([("user", 0, "alice")], strict: false).get()
        #expect(exact.matches(userOnly) && exact.matches(userClient) && !exact.matches(defaultUser))
        let strict = try ClientQuotaFilter.parse([("user", 0, "alice")], strict: true).get()
        #expect(strict.matches(userOnly) && !strict.matches(userClient))
        let defaults = try ClientQuotaFilter.parse([("user", 1, nil)], strict: false).get()
        #expect(defaults.matches(defaultUser) && !defaults.matches(userOnly))
        let any = try ClientQuotaFilter.parse([("client-id", 2, nil)], strict: false).get()
        #expect(any.matches(userClient) && !any.matches(userOnly))
        #expect((try? ClientQuotaFilter.parse([("user", 0, nil)], strict: false).get()) == nil)
        #expect((try? ClientQuotaFilter.parse([("user", 1, "x")], strict: false).get()) == nil)
        #expect((try? ClientQuotaFilter.parse([("user", 2, nil), ("user", 2, nil)], strict: false).get()) == nil)
        #expect((try? ClientQuotaFilter.parse([("ip", 2, nil), ("user", 2, nil)], strict: false).get()) == nil)
        if case .failure(let error) = ClientQuotaFilter.parse([("topic", 2, nil)], strict: false) {
            #expect(error.code == .unsupportedVersion)
        } else {
            Issue.record("a custom entity type must be refused")
        }
    }
}

@Suite struct QuotaRateTests {
    @Test func aYoungSensorAssumesAllButOneWindowElapsed() {
        // Kafka: with 11 windows of 1 s, 1000 bytes in the first millisecond measure 1000 / 10 s.
        var rate = QuotaRate(samples: 11, windowMs: 1000)
        rate.record(1000, now: 0)
        #expect(rate.windowSize(now: 0) == 10_000)
        #expect(rate.measure(now: 0) == 100)
    }

    @Test func throttleTimeIsKafkasFormula() {
        // Observed O over window W against bound T: (O - T) / T × W.
        var rate = QuotaRate(samples: 11, windowMs: 1000)
        let throttle = rate.recordAndThrottle(20_000, bound: 1000, now: 0)  // O = 2000/s over 10 s
        #expect(throttle == 10_000)
        var within = QuotaRate(samples: 11, windowMs: 1000)
        #expect(within.recordAndThrottle(5000, bound: 1000, now: 0) == 0)
    }

    @Test func samplesIdleForTheWholeWindowAreForgotten() {
        var rate = QuotaRate(samples: 3, windowMs: 1000)
        rate.record(5000, now: 0)
        #expect(rate.measure(now: 500) > 0)
        #expect(rate.measure(now: 3000) == 0)
    }

    @Test func unrecordTakesBackAValue() {
        var rate = QuotaRate(samples: 11, windowMs: 1000)
        rate.record(4000, now: 10)
        rate.record(-4000, now: 20)
        #expect(rate.measure(now: 30) == 0)
    }

    @Test("a greedy client that waits out each throttle is held near the bound", arguments: [2, 11])
    func greedyClientIsHeldToTheBound(samples: Int) {
        let bound = 1_048_576.0
        let batch = 65_536.0
        var rate = QuotaRate(samples: samples, windowMs: 1000)
        var now: Int64 = 0
        var sent = 0.0
        let span: Int64 = 60_000
        while now < span {
            sent += batch
            let throttle = rate.recordAndThrottle(batch, bound: bound, now: now)
            now += max(throttle, 2)  // sending one batch takes 2 ms without a quota
        }
        let observed = sent / (Double(span) / 1000)
        // Kafka's windowed rate serves a greedy client in bursts, a little above the bound over a
        // minute (≈ 3% with 2 windows, ≈ 12% with 11: a burst of 10 windows' allowance per cycle).
        #expect(observed >= bound * 0.95 && observed <= bound * (samples == 2 ? 1.06 : 1.15), "\(observed / bound)")
    }

    @Test func managerThrottlesOnlyLimitedClientsAndNamesTheirSensor() {
        let manager = ClientQuotaManager(window: .init(samples: 11, sizeMs: 1000))
        #expect(manager.record(.produce, user: "alice", clientId: "app", value: 1e9, now: 0) == 0)  // no quotas at all
        manager.load(ClientQuotaTable([ClientQuotaEntity(user: .named("alice")): ["producer_byte_rate": 1000]]))
        #expect(manager.applies(.produce, user: "alice", clientId: "app"))
        #expect(!manager.applies(.fetch, user: "alice", clientId: "app"))
        #expect(manager.record(.produce, user: "bob", clientId: "app", value: 1e9, now: 0) == 0)
        #expect(manager.record(.produce, user: "alice", clientId: "one", value: 10_000, now: 0) == 0)
        // The user quota is shared by all of alice's client ids: the second one is over it.
        #expect(manager.record(.produce, user: "alice", clientId: "two", value: 10_000, now: 1) > 0)
    }

    @Test func connectionCreationRateClosesOnlyTheAddressOverItsQuota() {
        let manager = ClientQuotaManager(window: .init(samples: 11, sizeMs: 1000))
        manager.load(ClientQuotaTable([ClientQuotaEntity(ip: .named("10.0.0.7")): ["connection_creation_rate": 1]]))
        var closed = 0
        for index in 0..<20 {
            if manager.admitConnection(ip: "10.0.0.7", brokerRate: Int(Int32.max), now: Int64(index)).closeAfterMs != nil { closed += 1 }
            #expect(manager.admitConnection(ip: "10.0.0.8", brokerRate: Int(Int32.max), now: Int64(index)).closeAfterMs == nil)
        }
        #expect(closed == 10)  // 1/s over a 10 s young window: ten pass
        let broker = ClientQuotaManager(window: .init(samples: 11, sizeMs: 1000))
        let delays = (0..<30).map { broker.admitConnection(ip: "10.0.0.9", brokerRate: 2, now: Int64($0)).delayMs }
        #expect(delays.prefix(20).allSatisfy { $0 == 0 } && delays.last! > 0)
    }

    @Test func overridesParseKafkasFormat() {
        #expect(ServerConfiguration.parseOverrides("127.0.0.1:200, 10.0.0.7:5,[::1]:3") == ["127.0.0.1": 200, "10.0.0.7": 5, "::1": 3])
        #expect(ServerConfiguration.parseOverrides("") == [:])
        #expect(ServerConfiguration.parseOverrides("host") == nil)
        #expect(ServerConfiguration.parseOverrides("host:-1") == nil)
    }
}
