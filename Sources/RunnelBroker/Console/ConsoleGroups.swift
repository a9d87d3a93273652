// ConsoleGroups: the consumer groups this broker coordinates — state, members and lag — and one
// group's members, assignments and committed offsets with lag per partition.
import KafkaProtocol
import RunnelClient
import RunnelGroups

extension Console {
    func groupsPage() async -> Prepared {
        let groups = await core.groupCoordinator.metricsSnapshot().filter { may(.describe, .group, $0.groupId) }
        let logs = hostedLogs()
        /// High watermark of a partition hosted here, nil otherwise.
        @Sendable func highWatermark(_ partition: TopicPartition) -> Int64? { logs[partition.topic]?[partition.partition]?.highWatermark }
        return { page("Consumer groups") { html in
            if groups.isEmpty {
                html.element("p", ["class": "muted", "id": "empty"], "No consumer groups on this broker.")
                return
            }
            html.element("table", ["id": "groups"]) { html in
                html.headerRow(["group", "state", "members", "partitions", "lag"])
                for group in groups {
                    let lag = group.committed.reduce(Int64(0)) { total, entry in
                        total + max(0, (highWatermark(entry.partition) ?? entry.offset) - entry.offset)
                    }
                    html.open("tr", ["data-group": group.groupId])
                    html.element("td") { $0.link(group.groupId, to: "/group", ["id": group.groupId]) }
                    html.element("td", group.state.rawValue)
                    html.element("td", ["class": "num"], "\(group.members)")
                    html.element("td", ["class": "num"], "\(group.committed.count)")
                    html.element("td", ["class": "num lag"], "\(lag)")
                    html.close("tr")
                }
            }
        } }
    }

    func groupPage(_ request: ConsoleRequest) async -> Prepared {
        guard let groupId = request["id"] else { return Self.ready(problem(400, "Group", "Which group? Add ?id=<group>.")) }
        let snapshot = await core.groupCoordinator.metricsSnapshot().first { $0.groupId == groupId }
        guard let snapshot, may(.describe, .group, groupId) else {
            return Self.ready(problem(404, "Group", "There is no group '\(groupId)' on this broker."))
        }
        let description = await core.groupCoordinator.describeGroup(groupId)
        let logs = hostedLogs()
        return { page("Group \(groupId)") { html in
            html.element("p", "State \(snapshot.state.rawValue) · \(snapshot.members) member(s)"
                         + (description.protocolName.isEmpty ? "" : " · assignor \(description.protocolName)"))
            html.element("h2", "Members")
            if description.members.isEmpty {
                html.element("p", ["class": "muted"], "No members: the group is empty (its offsets stay committed).")
            } else {
                html.element("table", ["id": "members"]) { html in
                    html.headerRow(["member", "client id", "host", "assigned partitions"])
                    for member in description.members {
                        let assigned = ConsumerProtocol.decodeAssignment(member.assignment)?
                            .filter { mayDescribe(topic: $0.topic) }.map { "\($0.topic)-\($0.partition)" }.joined(separator: ", ") ?? ""
                        html.row([member.memberId, member.clientId, member.clientHost, assigned])
                    }
                }
            }
            html.element("h2", "Committed offsets and lag")
            html.element("table", ["id": "offsets"]) { html in
                html.headerRow(["topic", "partition", "committed", "high watermark", "lag"])
                for (partition, offset) in snapshot.committed where mayDescribe(topic: partition.topic) {
                    let end = logs[partition.topic]?[partition.partition]?.highWatermark
                    html.open("tr", ["data-partition": "\(partition.topic)-\(partition.partition)"])
                    html.element("td") { $0.link(partition.topic, to: "/topic", ["name": partition.topic]) }
                    html.element("td", ["class": "num"], "\(partition.partition)")
                    html.element("td", ["class": "num"], "\(offset)")
                    html.element("td", ["class": "num"], end.map { "\($0)" } ?? "–")
                    html.element("td", ["class": "num lag"], end.map { "\(max(0, $0 - offset))" } ?? "–")
                    html.close("tr")
                }
            }
            resetOffsetsForm(&html, groupId: groupId,
                             topics: Array(Set(snapshot.committed.map(\.partition.topic))).filter { may(.read, .topic, $0) }.sorted())
        } }
    }
}
