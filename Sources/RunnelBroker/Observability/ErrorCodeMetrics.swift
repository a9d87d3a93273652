// ErrorCodeMetrics: `runnel_errors_total{api,error}`, the Kafka error codes the broker answered with.
import CoreMetrics
import KafkaProtocol
import NIOConcurrencyHelpers

/// Counts every non-zero error code in responses, by API and Kafka error name (`NOT_LEADER_OR_FOLLOWER`).
/// A partition-level code counts once per partition, so one Produce to ten unknown partitions counts
/// ten. Series are created on first use; a response without errors costs one scan of its codes and no lock.
final class ErrorCodeMetrics: Sendable {
    private struct Key: Hashable {
        var apiKey: Int16
        var code: Int16
    }

    private let factory: any MetricsFactory
    private let counters = NIOLockedValueBox<[Key: Counter]>([:])

    init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
    }

    /// Counts `code` (nothing for 0) answered to a request of `apiKey`.
    func record(apiKey: Int16, code: Int16) {
        guard code != 0 else { return }
        let key = Key(apiKey: apiKey, code: code)
        let counter = counters.withLockedValue { table in
            if let existing = table[key] { return existing }
            let created = Counter(label: "runnel_errors_total",
                                  dimensions: [("api", ServerMetrics.apiLabel(apiKey)), ("error", ErrorCode(rawValue: code).name)],
                                  factory: factory)
            table[key] = created
            return created
        }
        counter.increment()
    }

    /// Counts every error code `response` carries.
    func record(_ response: some KafkaMessage, apiKey: Int16) {
        guard let reporting = response as? any ErrorCodeReporting else { return }
        reporting.forEachErrorCode { record(apiKey: apiKey, code: $0) }
    }
}

/// A response whose error codes `runnel_errors_total` counts: its top-level code and its per-topic /
/// per-partition codes.
protocol ErrorCodeReporting {
    func forEachErrorCode(_ body: (Int16) -> Void)
}

extension ProduceResponse: ErrorCodeReporting {
    func forEachErrorCode(_ body: (Int16) -> Void) {
        for topic in responses { for partition in topic.partitionResponses { body(partition.errorCode) } }
    }
}

extension MetadataResponse: ErrorCodeReporting {
    func forEachErrorCode(_ body: (Int16) -> Void) {
        body(errorCode)
        for topic in topics { body(topic.errorCode) }
    }
}

extension ListOffsetsResponse: ErrorCodeReporting {
    func forEachErrorCode(_ body: (Int16) -> Void) {
        for topic in topics { for partition in topic.partitions { body(partition.errorCode) } }
    }
}

extension OffsetCommitResponse: ErrorCodeReporting {
    func forEachErrorCode(_ body: (Int16) -> Void) {
        for topic in topics { for partition in topic.partitions { body(partition.errorCode) } }
    }
}

extension TxnOffsetCommitResponse: ErrorCodeReporting {
    func forEachErrorCode(_ body: (Int16) -> Void) {
        for topic in topics { for partition in topic.partitions { body(partition.errorCode) } }
    }
}

extension OffsetFetchResponse: ErrorCodeReporting {
    func forEachErrorCode(_ body: (Int16) -> Void) {
        body(errorCode)
        for group in groups { body(group.errorCode) }
    }
}

extension CreateTopicsResponse: ErrorCodeReporting {
    func forEachErrorCode(_ body: (Int16) -> Void) { for topic in topics { body(topic.errorCode) } }
}

extension DeleteTopicsResponse: ErrorCodeReporting {
    func forEachErrorCode(_ body: (Int16) -> Void) { for topic in responses { body(topic.errorCode) } }
}

extension DescribeGroupsResponse: ErrorCodeReporting {
    func forEachErrorCode(_ body: (Int16) -> Void) { for group in groups { body(group.errorCode) } }
}

extension FindCoordinatorResponse: ErrorCodeReporting {
    func forEachErrorCode(_ body: (Int16) -> Void) {
        body(errorCode)
        for coordinator in coordinators { body(coordinator.errorCode) }
    }
}

/// Responses with one top-level `errorCode`.
protocol TopLevelErrorCodeReporting: ErrorCodeReporting {
    var errorCode: Int16 { get }
}

extension TopLevelErrorCodeReporting {
    func forEachErrorCode(_ body: (Int16) -> Void) { body(errorCode) }
}

extension JoinGroupResponse: TopLevelErrorCodeReporting {}
extension SyncGroupResponse: TopLevelErrorCodeReporting {}
extension HeartbeatResponse: TopLevelErrorCodeReporting {}
extension LeaveGroupResponse: TopLevelErrorCodeReporting {}
extension ListGroupsResponse: TopLevelErrorCodeReporting {}
extension InitProducerIdResponse: TopLevelErrorCodeReporting {}
extension AddOffsetsToTxnResponse: TopLevelErrorCodeReporting {}
extension AddPartitionsToTxnResponse: TopLevelErrorCodeReporting {}
extension EndTxnResponse: TopLevelErrorCodeReporting {}
