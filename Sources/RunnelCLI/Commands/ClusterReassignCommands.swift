// `runnel cluster reassign|reassignments|log-dirs`: moving partitions to other brokers
// (AlterPartitionReassignments, Kafka's reassignment JSON accepted), the reassignments in progress, and
// each broker's log dirs with the partitions they hold (DescribeLogDirs).
import ArgumentParser
import Foundation
import RunnelClient

struct ClusterReassign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reassign", abstract: "Move partitions to other brokers, or cancel a move in progress.",
        discussion: """
        The new replicas copy the partition from its leader; once all of them are in sync the
        controller drops the replicas that are not in the new list (which delete their copy) and moves
        leadership if the leader was one of them. --throttle limits the copy to RATE bytes/s as
        kafka-reassign-partitions.sh --throttle does (the topics' leader/follower.replication.throttled.replicas
        and the brokers' dynamic leader/follower.replication.throttled.rate), and removes the throttle
        when the move is complete (it needs --wait). --plan takes Kafka's reassignment JSON
        (kafka-reassign-partitions.sh --reassignment-json-file):
          {"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[2,3]}]}

        EXAMPLES:
          runnel cluster reassign --topic orders --partition 0 --replicas 2,3
          runnel cluster reassign --topic orders --partition 0 --replicas 2,3 --wait
          runnel cluster reassign --topic orders --partition 0 --replicas 2,3 --wait --throttle 10000000
          runnel cluster reassign --topic orders --partition 0 --cancel
          runnel cluster reassign --plan moves.json --wait
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "The topic of the partition to move.") var topic: String?
    @Option(help: "The partition to move.") var partition: Int32?
    @Option(help: ArgumentHelp("The new replica list, preferred leader first.", valueName: "id,id,..."))
    var replicas: String?
    @Flag(help: "Cancel the reassignment in progress (of --topic/--partition, or of every partition in --plan).")
    var cancel = false
    @Option(help: ArgumentHelp("A reassignment plan in Kafka's JSON format.", valueName: "file")) var plan: String?
    @Flag(help: "Wait until the reassignments are complete.") var wait = false
    @Option(help: ArgumentHelp("How long --wait waits, in seconds.", valueName: "s")) var waitTimeout: Int = 600
    @Option(help: ArgumentHelp("Throttle the copy to this many bytes/s until it is complete (with --wait).", valueName: "bytes/s"))
    var throttle: Int64?

    func validate() throws {
        if let throttle {
            guard throttle >= 1, wait, !cancel else {
                throw CLIError.usage("--throttle takes a rate of at least 1 byte/s and needs --wait (the throttle is removed when the move is complete), not --cancel",
                                     hint: "runnel cluster reassign --topic orders --partition 0 --replicas 2,3 --wait --throttle 10000000")
            }
        }
        if plan != nil {
            if topic != nil || partition != nil || replicas != nil {
                throw CLIError.usage("--plan replaces --topic, --partition and --replicas", hint: "runnel cluster reassign --plan moves.json")
            }
            return
        }
        guard topic != nil, partition != nil else {
            throw CLIError.usage("give --topic and --partition (or --plan)",
                                 hint: "runnel cluster reassign --topic orders --partition 0 --replicas 2,3")
        }
        if cancel == (replicas != nil) {
            throw CLIError.usage("give either --replicas or --cancel",
                                 hint: "runnel cluster reassign --topic orders --partition 0 --replicas 2,3")
        }
        if let replicas, Self.parseReplicas(replicas) == nil {
            throw CLIError.usage("--replicas must be a comma-separated list of broker ids", hint: "--replicas 1,2,3")
        }
    }

    static func parseReplicas(_ text: String) -> [Int32]? {
        let ids = text.split(separator: ",").map { Int32($0.trimmingCharacters(in: .whitespaces)) }
        guard !ids.isEmpty, ids.allSatisfy({ $0 != nil }) else { return nil }
        return ids.compactMap { $0 }
    }

    /// Kafka's reassignment JSON.
    struct Plan: Codable {
        struct Entry: Codable {
            var topic: String
            var partition: Int32
            var replicas: [Int32]
        }
        var version: Int?
        var partitions: [Entry]
    }

    func reassignments() throws -> [KafkaAdmin.Reassignment] {
        guard let plan else {
            guard let topic, let partition else { return [] }
            return [KafkaAdmin.Reassignment(topic: topic, partition: partition,
                                            replicas: cancel ? nil : replicas.flatMap(Self.parseReplicas))]
        }
        guard let data = FileManager.default.contents(atPath: plan) else {
            throw CLIError.usage("cannot read \(plan)")
        }
        let decoded: Plan
        do {
            decoded = try JSONDecoder().decode(Plan.self, from: data)
        } catch {
            throw CLIError.usage("\(plan) is not a reassignment plan: \(error)",
                                 hint: #"{"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[2,3]}]}"#)
        }
        return decoded.partitions.map {
            KafkaAdmin.Reassignment(topic: $0.topic, partition: $0.partition, replicas: cancel ? nil : $0.replicas)
        }
    }

    func run() async throws {
        let wanted = try reassignments()
        try await connection.run { client in
            let admin = KafkaAdmin(client: client)
            var throttled: ReassignmentThrottle?
            if let throttle {
                let topics = Set(wanted.map(\.topic)).sorted()
                let current = try await admin.describeTopics(topics)
                let limit = ReassignmentThrottle(rate: throttle, moves: wanted,
                                                 current: Dictionary(current.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a }))
                try await limit.apply(admin)
                throttled = limit
                if !output.isJSON { print("The inter-broker throttle limit was set to \(throttle) B/s.") }
            }
            let results = try await admin.alterPartitionReassignments(wanted)
            if output.isJSON {
                try Terminal.printJSON(results)
            } else {
                Terminal.printTable(["TOPIC", "PARTITION", "RESULT", "MESSAGE"], results.map {
                    [$0.topic, String($0.partition), $0.error ?? (cancel ? "cancelled" : "started"), $0.message ?? ""]
                })
            }
            let failed = results.filter { $0.error != nil }
            guard failed.isEmpty else {
                try await throttled?.clear(admin)
                throw CLIError.reported()
            }
            guard wait, !cancel else { return }
            let moving = Dictionary(grouping: wanted, by: \.topic).mapValues { $0.map(\.partition) }
            let deadline = ContinuousClock.now + .seconds(waitTimeout)
            while true {
                let ongoing = try await admin.listPartitionReassignments(moving)
                if ongoing.isEmpty { break }
                guard ContinuousClock.now < deadline else {
                    throw CLIError.failure("\(ongoing.count) reassignment(s) still in progress after \(waitTimeout) s"
                                           + (throttled == nil ? "" : "; the throttle stays set until the configs are deleted"),
                                           hint: "runnel cluster reassignments")
                }
                try await Task.sleep(for: .milliseconds(500))  // a poll interval
            }
            if let throttled {
                try await throttled.clear(admin)
                if !output.isJSON { print("Throttle was removed.") }
            }
            if !output.isJSON { print("Reassignment complete.") }
        }
    }
}

struct ClusterReassignments: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reassignments", abstract: "List the partition reassignments in progress.",
        discussion: """
        REPLICAS is the target list followed by the replicas being removed.

        EXAMPLES:
          runnel cluster reassignments
          runnel cluster reassignments --topic orders --format json
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "Only this topic's partitions.") var topic: String?

    func run() async throws {
        try await connection.run { client in
            let admin = KafkaAdmin(client: client)
            var partitions: [String: [Int32]]?
            if let topic {
                let described = try await admin.describeTopics([topic])
                partitions = [topic: described.first?.partitions.map(\.partition) ?? []]
            }
            let ongoing = try await admin.listPartitionReassignments(partitions)
            if output.isJSON {
                try Terminal.printJSON(ongoing)
            } else if ongoing.isEmpty {
                print("No reassignment in progress.")
            } else {
                func ids(_ list: [Int32]) -> String { list.isEmpty ? "-" : list.map(String.init).joined(separator: ",") }
                Terminal.printTable(["TOPIC", "PARTITION", "REPLICAS", "ADDING", "REMOVING"], ongoing.map {
                    [$0.topic, String($0.partition), ids($0.replicas), ids($0.addingReplicas), ids($0.removingReplicas)]
                })
            }
        }
    }
}

struct ClusterLogDirs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log-dirs", abstract: "Show each broker's log dirs and the partitions in them, with their sizes.",
        discussion: """
        EXAMPLES:
          runnel cluster log-dirs
          runnel cluster log-dirs --broker 2 --topic orders --format json
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "Only this broker (default: every live broker).") var broker: Int32?
    @Option(help: "Only this topic's partitions.") var topic: String?

    func run() async throws {
        try await connection.run { client in
            let admin = KafkaAdmin(client: client)
            let brokers: [Int32]
            if let broker {
                brokers = [broker]
            } else {
                brokers = try await admin.describeCluster().brokers.map(\.nodeId).sorted()
            }
            var topics: [String: [Int32]]?
            if let topic {
                let described = try await admin.describeTopics([topic])
                topics = [topic: described.first?.partitions.map(\.partition) ?? []]
            }
            var dirs: [LogDirDescription] = []
            for id in brokers { dirs += try await admin.describeLogDirs(broker: id, topics: topics) }
            if output.isJSON {
                try Terminal.printJSON(dirs)
                return
            }
            var rows: [[String]] = []
            for dir in dirs {
                if let error = dir.error {
                    rows.append([String(dir.broker), dir.path, error, "", ""])
                }
                for p in dir.partitions {
                    rows.append([String(dir.broker), dir.path, p.topic, String(p.partition), String(p.size)])
                }
                if dir.error == nil, dir.partitions.isEmpty { rows.append([String(dir.broker), dir.path, "-", "", ""]) }
            }
            Terminal.printTable(["BROKER", "LOG DIR", "TOPIC", "PARTITION", "SIZE"], rows)
        }
    }
}
