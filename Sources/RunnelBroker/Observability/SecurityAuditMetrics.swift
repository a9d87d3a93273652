// SecurityAuditMetrics: the audit counters of issue 13 — authentications by outcome, mechanism and
// listener, authorization denials by resource type and operation, and throttle time by quota type.
import CoreMetrics
import NIOConcurrencyHelpers

/// Counters whose series are created on first use (a label set seen once costs one lock and a lookup).
final class LabelledCounters: Sendable {
    private let label: String
    private let names: [String]
    private let counters = NIOLockedValueBox<[[String]: Counter]>([:])

    /// `label` with one dimension per name in `names`.
    init(_ label: String, dimensions names: [String]) {
        self.label = label
        self.names = names
    }

    /// Adds `amount` to the series with `values` (one per dimension name, in order).
    func increment(_ values: [String], by amount: Int64 = 1) {
        let counter = counters.withLockedValue { table in
            if let existing = table[values] { return existing }
            let created = Counter(label: label, dimensions: Array(zip(names, values)))
            table[values] = created
            return created
        }
        counter.increment(by: amount)
    }
}

/// `runnel_authentications_total{result,mechanism,listener}` and
/// `runnel_authorization_denials_total{resource_type,operation}` (the broker's shared series).
enum SecurityAuditMetrics {
    static let authentications = LabelledCounters("runnel_authentications_total", dimensions: ["result", "mechanism", "listener"])
    static let denials = LabelledCounters("runnel_authorization_denials_total", dimensions: ["resource_type", "operation"])

    static func authenticated(mechanism: String, listener: String) {
        authentications.increment(["success", mechanism, listener])
    }

    static func authenticationFailed(mechanism: String, listener: String) {
        authentications.increment(["failure", mechanism, listener])
    }

    static func denied(resourceType: String, operation: String) {
        denials.increment([resourceType, operation])
    }
}

/// `runnel_quota_throttle_time_ms_total{type}` and `runnel_quota_throttled_responses_total{type}`.
final class QuotaMetrics: Sendable {
    private let time = LabelledCounters("runnel_quota_throttle_time_ms_total", dimensions: ["type"])
    private let responses = LabelledCounters("runnel_quota_throttled_responses_total", dimensions: ["type"])

    func throttled(_ type: ClientQuotaType, ms: Int64) {
        time.increment([type.rawValue], by: ms)
        responses.increment([type.rawValue])
    }
}
