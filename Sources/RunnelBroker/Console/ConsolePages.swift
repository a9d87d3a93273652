// ConsolePages: the cluster page (brokers, controller, counts), the topic list and a topic's page
// (partitions with offsets, sizes and replicas; its configs).
import KafkaProtocol
import RunnelCluster
import RunnelStorage

extension Console {
    func clusterPage() -> Prepared {
        let image = core.metadataStore.image
        let partitions = core.replicas.allPartitions()
        let totalBytes = partitions.reduce(Int64(0)) { $0 + $1.log.snapshot.sizeBytes }
        let points = history.points
        return { page("Cluster", refreshSeconds: Self.chartIntervalSeconds) { html in
            html.open("div", ["class": "cards"])
            card(&html, "Cluster id", image.clusterId)
            card(&html, "Controller", image.controller.map { "broker \($0.nodeId)" } ?? "none")
            card(&html, "Brokers", "\(image.liveBrokers.count)")
            card(&html, "Topics", "\(image.topics.keys.filter { mayDescribe(topic: $0) }.count)")
            card(&html, "Partitions here", "\(partitions.count)")
            card(&html, "Data here", Self.bytes(totalBytes))
            card(&html, "Version", RunnelVersion.current)
            html.close("div")
            if may(.describe, .cluster, BrokerCore.clusterResource) { charts(&html, points: points) }
            html.element("h2", "Brokers")
            html.element("table", ["id": "brokers"]) { html in
                html.headerRow(["id", "host", "port", "rack", "listener", "state"])
                for broker in image.liveBrokers {
                    let state = broker.inControlledShutdown ? "shutting down"
                        : image.controller?.nodeId == broker.nodeId ? "controller" : "live"
                    html.row(["\(broker.nodeId)", broker.host, "\(broker.port)", broker.rack ?? "",
                              broker.listeners.first?.name ?? "", state])
                }
            }
        } }
    }

    private func card(_ html: inout HTMLWriter, _ label: String, _ value: String) {
        html.element("div", ["class": "card"]) { html in
            html.text(label)
            html.element("b", value)
        }
    }

    func topicsPage() -> Prepared {
        let image = core.metadataStore.image
        let logs = hostedLogs()
        return { page("Topics") { html in
            let topics = image.topics.values.map(\.metadata).filter { mayDescribe(topic: $0.name) }
                .sorted { ($0.isInternal ? 1 : 0, $0.name) < ($1.isInternal ? 1 : 0, $1.name) }
            html.element("table", ["id": "topics"]) { html in
                html.headerRow(["topic", "partitions", "replication", "records", "size", "configs set", ""])
                for topic in topics {
                    let hosted = logs[topic.name]?.values.map { $0 } ?? []
                    let records = hosted.reduce(Int64(0)) { $0 + max(0, $1.highWatermark - $1.logStartOffset) }
                    let size = hosted.reduce(Int64(0)) { $0 + $1.sizeBytes }
                    html.open("tr", ["data-topic": topic.name])
                    html.element("td") { $0.link(topic.name, to: "/topic", ["name": topic.name]) }
                    html.element("td", ["class": "num"], "\(topic.partitionCount)")
                    html.element("td", ["class": "num"], "\(topic.replicationFactor)")
                    html.element("td", ["class": "num"], "\(records)")
                    html.element("td", ["class": "num"], Self.bytes(size))
                    html.element("td", ["class": "num"], "\(topic.configs.count)")
                    html.element("td") { html in
                        if may(.read, .topic, topic.name) { html.link("messages", to: "/messages", ["topic": topic.name]) }
                    }
                    html.close("tr")
                }
            }
            html.element("p", ["class": "muted"], "Records and sizes count the partitions hosted on this broker.")
            createTopicForm(&html)
        } }
    }

    func topicPage(_ request: ConsoleRequest) -> Prepared {
        guard let name = request["name"] else { return Self.ready(problem(400, "Topic", "Which topic? Add ?name=<topic>.")) }
        let image = core.metadataStore.image
        guard let topic = image.topic(named: name), mayDescribe(topic: name) else {
            return Self.ready(problem(404, "Topic", "There is no topic named '\(name)'."))
        }
        let logs = hostedLogs(of: name)
        return { page("Topic \(name)") { html in
            html.open("p")
            html.text("id \(topic.metadata.topicId) · \(topic.metadata.partitionCount) partition(s) · replication factor \(topic.metadata.replicationFactor)"
                      + (topic.metadata.isInternal ? " · internal" : "") + " · ")
            html.link("browse messages", to: "/messages", ["topic": name])
            html.close("p")
            html.element("h2", "Partitions")
            html.element("table", ["id": "partitions"]) { html in
                html.headerRow(["partition", "leader", "replicas", "isr", "log start", "high watermark", "log end",
                                "records", "size", "segments", ""])
                for (index, state) in topic.partitions.enumerated() {
                    let log = logs[Int32(index)]
                    html.open("tr")
                    html.element("td", ["class": "num"], "\(index)")
                    html.element("td", ["class": "num"], state.leader >= 0 ? "\(state.leader)" : "none")
                    html.element("td", state.replicas.map(String.init).joined(separator: ","))
                    html.element("td", state.isr.map(String.init).joined(separator: ","))
                    for value in [log?.logStartOffset, log?.highWatermark, log?.logEndOffset,
                                  log.map { max(0, $0.highWatermark - $0.logStartOffset) }] {
                        html.element("td", ["class": "num"], value.map { "\($0)" } ?? "–")
                    }
                    html.element("td", ["class": "num"], log.map { Self.bytes($0.sizeBytes) } ?? "–")
                    html.element("td", ["class": "num"], log.map { "\($0.segments)" } ?? "–")
                    html.element("td") { $0.link("messages", to: "/messages", ["topic": name, "partition": "\(index)"]) }
                    html.close("tr")
                }
            }
            html.element("p", ["class": "muted"], "– : the partition is not hosted on this broker.")
            html.element("h2", "Configs set on this topic")
            if !may(.describeConfigs, .topic, name) {
                html.element("p", ["class": "muted"], "Not shown: your ACLs do not allow DescribeConfigs on this topic.")
            } else if topic.metadata.configs.isEmpty {
                html.element("p", ["class": "muted"], "None: every setting is the broker's default (runnel topic describe shows them all).")
            } else {
                html.element("table", ["id": "configs"]) { html in
                    html.headerRow(["name", "value"])
                    for (key, value) in topic.metadata.configs.sorted(by: { $0.key < $1.key }) { html.row([key, value]) }
                }
            }
            topicConfigForm(&html, topic: name)
        } }
    }

    /// `1.5 MiB`-style sizes.
    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : "\((value * 10).rounded() / 10) \(units[unit])"
    }
}
