// ConsoleCharts: the cluster page's live charts — records produced and consumed per second and the
// total consumer lag over the last minutes — drawn on the server as inline SVG (no script), from the
// samples `ThroughputHistory` keeps.
import KafkaProtocol

extension Console {
    /// Seconds between two samples of the charts.
    static let chartIntervalSeconds = 5

    /// Takes one sample: the sums of the high watermarks (client topics) and of the committed offsets,
    /// and the total lag of the groups' committed partitions hosted here.
    func sampleThroughput() async {
        var produced: Int64 = 0
        var highWatermarks: [TopicPartition: Int64] = [:]
        for partition in core.replicas.allPartitions() {
            let highWatermark = partition.log.snapshot.highWatermark
            highWatermarks[TopicPartition(topic: partition.topic, partition: partition.index)] = highWatermark
            if !partition.topic.hasPrefix("__") { produced += highWatermark }
        }
        var consumed: Int64 = 0
        var lag: Int64 = 0
        for group in await core.groupCoordinator.metricsSnapshot() {
            for (partition, offset) in group.committed {
                consumed += offset
                if let end = highWatermarks[partition] { lag += max(0, end - offset) }
            }
        }
        history.record(time: Partition.nowMs(), produced: produced, consumed: consumed, totalLag: lag)
    }

    /// The three charts, with the page refreshing itself every sample interval.
    func charts(_ html: inout HTMLWriter, points: [ThroughputHistory.Point]) {
        html.element("h2", "Last \(history.capacity * Self.chartIntervalSeconds / 60) minutes")
        html.open("div", ["class": "cards"])
        chart(&html, id: "chart-produced", title: "records produced / s", values: points.map(\.producedPerSecond))
        chart(&html, id: "chart-consumed", title: "records consumed / s (committed)", values: points.map(\.consumedPerSecond))
        chart(&html, id: "chart-lag", title: "total lag (records)", values: points.map { Double($0.totalLag) })
        html.close("div")
        if points.isEmpty {
            html.element("p", ["class": "muted"], "The charts fill in as samples arrive (every \(Self.chartIntervalSeconds) s).")
        }
    }

    private func chart(_ html: inout HTMLWriter, id: String, title: String, values: [Double]) {
        let width = 360.0, height = 110.0
        let top = max(values.max() ?? 0, 1)
        let slots = Double(max(history.capacity - 1, 1))
        let offset = Double(history.capacity - values.count)
        let coordinates = values.enumerated().map { index, value in
            let x = (offset + Double(index)) / slots * width
            let y = height - value / top * (height - 6) - 3
            return "\((x * 10).rounded() / 10),\((y * 10).rounded() / 10)"
        }.joined(separator: " ")
        html.open("div", ["class": "card chart", "id": id])
        html.element("div", title)
        html.element("b", ["class": "latest"], values.last.map { Self.compact($0) } ?? "–")
        html.open("svg", ["width": "\(Int(width))", "height": "\(Int(height))", "viewBox": "0 0 \(Int(width)) \(Int(height))",
                          "role": "img", "aria-label": title])
        html.open("rect", ["width": "\(Int(width))", "height": "\(Int(height))", "fill": "#f6f7f9"])
        html.close("rect")
        html.open("polyline", ["points": coordinates, "fill": "none", "stroke": "#14213d", "stroke-width": "1.5",
                               "data-count": "\(values.count)"])
        html.close("polyline")
        html.close("svg")
        html.element("div", ["class": "muted max"], "max \(Self.compact(values.max() ?? 0))")
        html.close("div")
    }

    /// 1234.5 → "1.2k".
    static func compact(_ value: Double) -> String {
        switch value {
        case 1_000_000...: "\((value / 100_000).rounded() / 10)M"
        case 1000...: "\((value / 100).rounded() / 10)k"
        default: "\((value * 10).rounded() / 10)"
        }
    }
}
