// ConsoleActions: the console's write actions, present only with `console.read.only = false` — create
// a topic, reset a group's committed offsets to the earliest, the latest or a timestamp's offsets.
import KafkaProtocol
import RunnelClient
import RunnelGroups

extension Console {
    /// Runs a form POST. Refused (403) in read-only mode and when the browser says the form came from
    /// another site (`Origin` / `Referer` not this host: cross-site request forgery).
    func perform(_ request: ConsoleRequest, http: MetricsServer.PageRequest) async -> ConsoleResponse? {
        guard ["/topics/create", "/group/reset", "/topic/config"].contains(request.path) else { return nil }
        guard !readOnly else {
            return problem(403, "Read-only console", "This console is read-only (console.read.only = true).")
        }
        guard let host = http.host, let origin = http.origin,
              origin == "http://\(host)" || origin.hasPrefix("http://\(host)/") else {
            return problem(403, "Refused", "The form did not come from this console (its Origin header does not name this host).")
        }
        if let denied = actionDenied(request) { return denied }
        switch request.path {
        case "/topics/create": return await createTopic(request)
        case "/topic/config": return await alterTopicConfig(request)
        default: return await resetOffsets(request)
        }
    }

    /// 403 when the viewer's ACLs refuse the action as Kafka would refuse its request: CreateTopics (CREATE
    /// on the cluster or the topic), IncrementalAlterConfigs (ALTER_CONFIGS on the topic), OffsetCommit
    /// (READ on the group and the topic).
    private func actionDenied(_ request: ConsoleRequest) -> ConsoleResponse? {
        let allowed: Bool
        switch request.path {
        case "/topics/create":
            let name = request["name"] ?? ""
            allowed = may(.create, .cluster, BrokerCore.clusterResource) || may(.create, .topic, name)
        case "/topic/config":
            allowed = may(.alterConfigs, .topic, request["name"] ?? "")
        default:
            allowed = may(.read, .group, request["id"] ?? "") && may(.read, .topic, request["topic"] ?? "")
        }
        return allowed ? nil : forbidden("Not authorized", "Your ACLs do not allow this action.")
    }

    private func createTopic(_ request: ConsoleRequest) async -> ConsoleResponse {
        guard let name = request["name"] else { return problem(400, "Create topic", "The topic needs a name.") }
        guard let partitions = Int32(request["partitions"] ?? "\(core.settings.defaultPartitions)"), partitions > 0 else {
            return problem(400, "Create topic", "partitions must be a positive number.")
        }
        guard let replication = Int16(request["replication_factor"] ?? "\(core.settings.defaultReplicationFactor)"),
              replication > 0 else {
            return problem(400, "Create topic", "replication_factor must be a positive number.")
        }
        do throws(TopicCreationError) {
            _ = try await core.createTopic(name: name, partitions: partitions, replicationFactor: replication, configs: [:],
                                           logger: core.logger)
        } catch {
            return problem(400, "Create topic", "Topic '\(name)' was not created: \(error.errorCode.name): \(error.message)")
        }
        core.logger.info("console created topic", metadata: ["topic": "\(name)", "partitions": "\(partitions)"])
        return page("Created topic \(name)") { html in
            html.element("p", ["id": "done"], "Created topic '\(name)' with \(partitions) partition(s).")
            html.link("Open it", to: "/topic", ["name": name])
        }
    }

    private func resetOffsets(_ request: ConsoleRequest) async -> ConsoleResponse {
        guard let groupId = request["id"], let topicName = request["topic"] else {
            return problem(400, "Reset offsets", "Name the group (id) and the topic.")
        }
        guard let topic = core.metadataStore.image.topic(named: topicName) else {
            return problem(404, "Reset offsets", "There is no topic named '\(topicName)'.")
        }
        let groups = await core.groupCoordinator.metricsSnapshot()
        if let group = groups.first(where: { $0.groupId == groupId }), group.members > 0 {
            return problem(409, "Reset offsets", "Group '\(groupId)' has \(group.members) member(s); stop its consumers first.")
        }
        let target = request["to"] ?? "earliest"
        var timestamp: Int64?
        if target == "timestamp" {
            do throws(TimeParseError) {
                timestamp = try TimestampParser.parse(request["timestamp"] ?? "")
            } catch {
                return problem(400, "Reset offsets", error.description)
            }
        } else if target != "earliest" && target != "latest" {
            return problem(400, "Reset offsets", "to must be earliest, latest or timestamp.")
        }
        var entries: [OffsetCommitEntry] = []
        for index in 0..<topic.metadata.partitionCount {
            guard let partition = core.replicas.partition(topic: topicName, index: index) else { continue }
            let log = partition.log.snapshot
            let offset: Int64
            if let timestamp {
                offset = (try? partition.log.offset(for: .timestamp(timestamp)))?.offset ?? log.highWatermark
            } else {
                offset = target == "earliest" ? log.logStartOffset : log.highWatermark
            }
            entries.append(OffsetCommitEntry(partition: TopicPartition(topic: topicName, partition: index), offset: offset))
        }
        let results = await core.groupCoordinator.commitOffsets(groupId: groupId, generationId: -1, memberId: "",
                                                                groupInstanceId: nil, offsets: entries)
        let failed = zip(entries, results).filter { $0.1 != .none }
        if let first = failed.first {
            return problem(409, "Reset offsets", "Offsets of '\(groupId)' were not reset: \(first.0.partition): \(first.1.name).")
        }
        core.logger.info("console reset group offsets", metadata: ["group": "\(groupId)", "topic": "\(topicName)", "to": "\(target)"])
        return page("Reset offsets of \(groupId)") { html in
            html.element("p", ["id": "done"], "Reset \(entries.count) partition(s) of '\(topicName)' to \(target).")
            html.link("Back to the group", to: "/group", ["id": groupId])
        }
    }

    /// Sets one config of a topic (`value` empty: back to the broker's default), through the same
    /// validation and store write as IncrementalAlterConfigs.
    private func alterTopicConfig(_ request: ConsoleRequest) async -> ConsoleResponse {
        guard let name = request["name"], let key = request["key"] else {
            return problem(400, "Topic config", "Name the topic (name) and the config (key).")
        }
        let value = request["value"]
        let outcome = await core.applyTopicConfigs(type: ConfigResourceType.topic.rawValue, name: name, validateOnly: false,
                                                   logger: core.logger, touching: [key]) { current in
            var next = current
            next[key] = value
            return next
        }
        guard outcome.code == .none else {
            return problem(outcome.code == .unknownTopicOrPartition ? 404 : 400, "Topic config",
                           "\(key) of '\(name)' was not changed: \(outcome.code.name)" + (outcome.message.map { ": \($0)" } ?? ""))
        }
        return page("Changed \(key) of \(name)") { html in
            html.element("p", ["id": "done"], value.map { "Set \(key) = \($0) on '\(name)'." } ?? "Removed \(key) from '\(name)' (broker default).")
            html.link("Back to the topic", to: "/topic", ["name": name])
        }
    }

    /// The config form on a topic's page (write mode only).
    func topicConfigForm(_ html: inout HTMLWriter, topic: String) {
        guard !readOnly, may(.alterConfigs, .topic, topic) else { return }
        html.open("form", ["method": "post", "action": "/topic/config", "id": "topic-config"])
        html.open("input", ["type": "hidden", "name": "name", "value": topic])
        html.element("label") { html in
            html.text("config")
            html.open("input", ["name": "key", "required": "required", "placeholder": "retention.ms"])
        }
        html.element("label") { html in
            html.text("value (empty: broker default)")
            html.open("input", ["name": "value"])
        }
        html.element("button", ["type": "submit"], "Set")
        html.close("form")
    }

    /// The create-topic form on the topics page (write mode only).
    func createTopicForm(_ html: inout HTMLWriter) {
        guard !readOnly else { return }
        html.element("h2", "Create a topic")
        html.open("form", ["method": "post", "action": "/topics/create", "id": "create-topic"])
        html.element("label") { html in
            html.text("name")
            html.open("input", ["name": "name", "required": "required", "pattern": "[a-zA-Z0-9._\\-]+"])
        }
        html.element("label") { html in
            html.text("partitions")
            html.open("input", ["name": "partitions", "value": "\(core.settings.defaultPartitions)", "size": "4"])
        }
        html.element("label") { html in
            html.text("replication factor")
            html.open("input", ["name": "replication_factor", "value": "\(core.settings.defaultReplicationFactor)", "size": "3"])
        }
        html.element("button", ["type": "submit"], "Create")
        html.close("form")
    }

    /// The reset-offsets form on a group's page (write mode only).
    func resetOffsetsForm(_ html: inout HTMLWriter, groupId: String, topics: [String]) {
        guard !readOnly, !topics.isEmpty, may(.read, .group, groupId) else { return }
        html.element("h2", "Reset committed offsets")
        html.open("form", ["method": "post", "action": "/group/reset", "id": "reset-offsets"])
        html.open("input", ["type": "hidden", "name": "id", "value": groupId])
        html.element("label") { html in
            html.text("topic")
            html.element("select", ["name": "topic"]) { html in
                for topic in topics { html.element("option", ["value": topic], topic) }
            }
        }
        html.element("label") { html in
            html.text("to")
            html.element("select", ["name": "to"]) { html in
                html.element("option", ["value": "earliest"], "earliest")
                html.element("option", ["value": "latest"], "latest")
                html.element("option", ["value": "timestamp"], "timestamp")
            }
        }
        html.element("label") { html in
            html.text("timestamp (2026-01-01T00:00:00Z, -1h, @millis)")
            html.open("input", ["name": "timestamp", "size": "24"])
        }
        html.element("button", ["type": "submit"], "Reset")
        html.close("form")
        html.element("p", ["class": "muted"], "Only while the group has no members, as kafka-consumer-groups.sh --reset-offsets.")
    }
}
