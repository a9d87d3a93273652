// TopicTrafficMetrics: `runnel_topic_bytes_in_total{topic}` and `runnel_topic_bytes_out_total{topic}`.
import CoreMetrics

/// Record-batch bytes produced to and fetched from one topic. Each `Partition` holds the topic's
/// counters (swift-metrics hands every partition of a topic the same series), so the produce and fetch
/// paths add to an atomic counter without a lookup.
struct TopicTrafficMetrics: Sendable {
    /// Bytes of record batches appended by clients' Produce requests (as sent, before any recompression).
    let bytesIn: Counter
    /// Bytes of record batches returned by Fetch (to consumers and to follower replicas).
    let bytesOut: Counter

    init(topic: String, factory: any MetricsFactory = MetricsSystem.factory) {
        bytesIn = Counter(label: "runnel_topic_bytes_in_total", dimensions: [("topic", topic)], factory: factory)
        bytesOut = Counter(label: "runnel_topic_bytes_out_total", dimensions: [("topic", topic)], factory: factory)
    }

    /// The topic was deleted: its series leave /metrics (a topic created again under the name starts at 0).
    func destroy() {
        bytesIn.destroy()
        bytesOut.destroy()
    }
}
