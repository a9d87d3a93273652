// Request-time and controller-mutation quotas without a broker: the request percentage's arithmetic and
// bound, Kafka's token bucket (KIP-599), and the strict and permissive mutation quotas.
import KafkaProtocol
import Testing
@testable import RunnelBroker

@Suite struct RequestTimeQuotaTests {
    @Test func handlingTimeIsAPercentageOfOneThreadsSecond() {
        #expect(RequestTimeQuota.percentage(nanoseconds: 1_000_000_000) == 100)
        #expect(RequestTimeQuota.percentage(nanoseconds: 10_000_000) == 1)
    }

    @Test func aClientOverItsPercentageIsThrottledAtMostOneWindow() {
        let manager = ClientQuotaManager(window: .init(samples: 11, sizeMs: 1000))
        manager.load(ClientQuotaTable([ClientQuotaEntity(clientId: .named("busy")): ["request_percentage": 1]]))
        #expect(manager.limits(.request) && !manager.limits(.produce) && !manager.limits(.controllerMutation))
        #expect(manager.applies(.request, user: "ANONYMOUS", clientId: "busy"))
        #expect(!manager.applies(.request, user: "ANONYMOUS", clientId: "idle"))
        // 1% of a thread over a young 10 s window is 0.1 thread-seconds: 50 ms of handling passes ...
        let spent = RequestTimeQuota.percentage(nanoseconds: 50_000_000)
        #expect(manager.record(.request, user: "ANONYMOUS", clientId: "busy", value: spent, now: 0) == 0)
        // ... 2 s more is far over it, and Kafka bounds the throttle by one window (1 s), not ~2 s × 10.
        let over = RequestTimeQuota.percentage(nanoseconds: 2_000_000_000)
        #expect(manager.record(.request, user: "ANONYMOUS", clientId: "busy", value: over, now: 1) == 1000)
        #expect(manager.record(.request, user: "ANONYMOUS", clientId: "idle", value: over, now: 1) == 0)
    }
}

@Suite struct ControllerMutationQuotaTests {
    @Test func tokenBucketStartsFullRefillsAtTheBoundAndCapsAtTheBurst() {
        // Kafka's TokenBucket: burst = bound × samples × window (here 2/s × 2 × 1 s = 4 tokens).
        var bucket = QuotaTokenBucket(samples: 2, windowMs: 1000, bound: 2, now: 0)
        #expect(bucket.credits(bound: 2, now: 0) == 4)
        bucket.record(10, bound: 2, now: 0)
        #expect(bucket.credits(bound: 2, now: 0) == -6)
        #expect(bucket.throttleTime(bound: 2, now: 0) == 3000)  // -(-6) / 2 per second
        #expect(bucket.throttleTime(bound: 2, now: 1000) == 2000)
        #expect(bucket.credits(bound: 2, now: 60_000) == 4)  // never above the burst
        bucket.record(-100, bound: 2, now: 60_000)
        #expect(bucket.credits(bound: 2, now: 60_000) == 4)
    }

    @Test func strictQuotaRefusesOnlyOnceTheBucketIsBelowZero() {
        let manager = ClientQuotaManager(window: .init(samples: 2, sizeMs: 1000))
        manager.load(ClientQuotaTable([ClientQuotaEntity(user: .named("ops")): ["controller_mutation_rate": 2]]))
        // A full bucket (4) takes a 10-partition topic whole (Kafka: "it does not throttle for any number
        // of mutations if quota is not already exhausted") ...
        #expect(manager.mutate(user: "ops", clientId: "a", permits: 10, strict: true, now: 0) == (true, 0))
        // ... after which everything is refused, with the time until the bucket is back at zero.
        #expect(manager.mutate(user: "ops", clientId: "b", permits: 1, strict: true, now: 0) == (false, 3000))
        #expect(manager.mutate(user: "ops", clientId: "b", permits: 1, strict: true, now: 2000) == (false, 1000))
        #expect(manager.mutate(user: "ops", clientId: "b", permits: 1, strict: true, now: 3000) == (true, 0))
        // Others are not limited; a refund gives back what a failed change took.
        #expect(manager.mutate(user: "dev", clientId: "b", permits: 1000, strict: true, now: 3000) == (true, 0))
        manager.refundMutations(user: "ops", clientId: "b", permits: 1, now: 3000)
        #expect(manager.mutate(user: "ops", clientId: "b", permits: 1, strict: true, now: 3000) == (true, 0))
    }

    @Test func permissiveQuotaAcceptsEverythingAndThrottles() {
        let manager = ClientQuotaManager(window: .init(samples: 2, sizeMs: 1000))
        manager.load(ClientQuotaTable([ClientQuotaEntity(clientId: .defaultEntity): ["controller_mutation_rate": 2]]))
        #expect(manager.mutate(user: "x", clientId: "old", permits: 4, strict: false, now: 0) == (true, 0))
        #expect(manager.mutate(user: "x", clientId: "old", permits: 4, strict: false, now: 0) == (true, 2000))
        #expect(manager.mutate(user: "x", clientId: "old", permits: 4, strict: false, now: 0) == (true, 4000))
    }

    @Test func strictFromTheVersionsThatKnowTheError() {
        #expect(ControllerMutationQuota.strictSince[.createTopics] == 6)
        #expect(ControllerMutationQuota.strictSince[.createPartitions] == 3)
        #expect(ControllerMutationQuota.strictSince[.deleteTopics] == 5)
    }
}
