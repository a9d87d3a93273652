// `runnel txn list|describe|producers|abort`: transactions, as kafka-transactions.sh shows and ends them.
import ArgumentParser
import Foundation
import KafkaProtocol
import RunnelClient

struct TxnCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "txn", abstract: "List, describe and abort transactions.",
        discussion: """
        EXAMPLES:
          runnel txn list
          runnel txn list --state Ongoing --format json
          runnel txn describe payments-app-0
          runnel txn producers --topic orders --partition 0
          runnel txn abort --topic orders --partition 0 --start-offset 1200
          runnel txn abort --topic orders --partition 0 --producer-id 4000 --producer-epoch 3 --coordinator-epoch 0
        """,
        subcommands: [TxnList.self, TxnDescribe.self, TxnProducers.self, TxnAbort.self])
}

struct TxnList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the transactional ids every broker coordinates.",
        discussion: """
        States: Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort, Dead,
        PrepareEpochFence.

        EXAMPLES:
          runnel txn list
          runnel txn list --state Ongoing --duration-filter 60000
          runnel txn list --producer-id 4000 --format json
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Option(name: .long, help: "Only transactions in this state (repeatable).") var state: [String] = []
    @Option(name: .long, help: "Only transactions of this producer id (repeatable).") var producerId: [Int64] = []
    @Option(name: .long, help: ArgumentHelp("Only transactions running at least this long.", valueName: "ms"))
    var durationFilter: Int64?

    func run() async throws {
        try await connection.run { client in
            let listings = try await KafkaAdmin(client: client).listTransactions(
                states: state, producerIds: producerId, minimumDurationMs: durationFilter)
            if output.isJSON {
                try Terminal.printJSON(listings)
            } else {
                Terminal.printTable(["TRANSACTIONAL-ID", "COORDINATOR", "PRODUCER-ID", "STATE"], listings.map {
                    [$0.transactionalId, String($0.coordinatorId), String($0.producerId), $0.state]
                })
            }
        }
    }
}

struct TxnDescribe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe", abstract: "Show a transactional id's state at its coordinator.",
        discussion: """
        EXAMPLES:
          runnel txn describe payments-app-0
          runnel txn describe payments-app-0 --format json
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The transactional id.") var transactionalId: String

    struct Report: Encodable {
        var transaction: TransactionDescription
        /// How long the open transaction has been running (ms), by this machine's clock; null when none is open.
        var durationMs: Int64?

        enum CodingKeys: String, CodingKey { case transaction, durationMs }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(transaction, forKey: .transaction)
            try container.encode(durationMs, forKey: .durationMs)
        }
    }

    func run() async throws {
        try await connection.run { client in
            let description = try await KafkaAdmin(client: client).describeTransaction(transactionalId)
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let duration = description.transactionStartTimeMs.map { Swift.max(0, now - $0) }
            if output.isJSON {
                try Terminal.printJSON(Report(transaction: description, durationMs: duration))
                return
            }
            Terminal.printTable(
                ["COORDINATOR", "TRANSACTIONAL-ID", "PRODUCER-ID", "EPOCH", "STATE", "TIMEOUT-MS", "START", "DURATION-MS",
                 "PARTITIONS"],
                [[String(description.coordinatorId), description.transactionalId, String(description.producerId),
                  String(description.producerEpoch), description.state, String(description.transactionTimeoutMs),
                  description.transactionStartTimeMs.map(TimestampParser.format) ?? "-",
                  duration.map(String.init) ?? "-",
                  description.partitions.isEmpty ? "-" : description.partitions.map(\.description).joined(separator: ",")]])
        }
    }
}

/// `--topic` and `--partition`, shared by producers and abort.
struct TxnPartitionOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "The topic.") var topic: String
    @Option(name: .shortAndLong, help: "The partition.") var partition: Int32

    func validate() throws {
        guard partition >= 0 else { throw ValidationError("--partition must not be negative") }
    }
}

struct TxnProducers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "producers", abstract: "Show the active producers of a partition and their open transactions.",
        discussion: """
        The partition's leader reports each producer's id, epoch, last sequence and timestamp, the
        coordinator epoch of its last marker and where its open transaction starts (START-OFFSET, the
        value `txn abort --start-offset` takes).

        EXAMPLES:
          runnel txn producers --topic orders --partition 0
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var target: TxnPartitionOptions

    func run() async throws {
        try await connection.run { client in
            let producers = try await KafkaAdmin(client: client).describeProducers(topic: target.topic,
                                                                                  partition: target.partition)
            if output.isJSON {
                try Terminal.printJSON(producers)
            } else {
                Terminal.printTable(["PRODUCER-ID", "EPOCH", "COORDINATOR-EPOCH", "LAST-SEQUENCE", "LAST-TIMESTAMP",
                                     "START-OFFSET"], producers.map {
                    [String($0.producerId), String($0.producerEpoch), String($0.coordinatorEpoch),
                     String($0.lastSequence), $0.lastTimestamp >= 0 ? TimestampParser.format($0.lastTimestamp) : "-",
                     $0.currentTransactionStartOffset.map(String.init) ?? "-"]
                })
            }
        }
    }
}

struct TxnAbort: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abort", abstract: "Abort a hanging transaction in one partition.",
        discussion: """
        Writes an ABORT marker for one producer into the partition (WriteTxnMarkers to its leader), as
        kafka-transactions.sh abort does. Name the transaction by the offset it starts at (see
        `runnel txn producers`), or by producer id, epoch and coordinator epoch. Only for transactions
        their coordinator no longer completes: a live producer's transaction is ended by its producer.

        EXAMPLES:
          runnel txn abort --topic orders --partition 0 --start-offset 1200
          runnel txn abort -t orders -p 0 --producer-id 4000 --producer-epoch 3 --coordinator-epoch 0
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var target: TxnPartitionOptions
    @Option(name: .long, help: "The first offset of the transaction to abort.") var startOffset: Int64?
    @Option(name: .long, help: "The producer id of the transaction to abort.") var producerId: Int64?
    @Option(name: .long, help: "Its producer epoch.") var producerEpoch: Int16?
    @Option(name: .long, help: "The coordinator epoch of the marker (default 0).") var coordinatorEpoch: Int32?

    func validate() throws {
        if startOffset != nil {
            guard producerId == nil && producerEpoch == nil && coordinatorEpoch == nil else {
                throw ValidationError("give either --start-offset or --producer-id/--producer-epoch, not both")
            }
        } else {
            guard producerId != nil else {
                throw ValidationError("give --start-offset, or --producer-id with --producer-epoch")
            }
            guard producerEpoch != nil else { throw ValidationError("--producer-id needs --producer-epoch") }
        }
    }

    func run() async throws {
        try await connection.run { client in
            let admin = KafkaAdmin(client: client)
            let spec: AbortTransactionSpec
            if let startOffset {
                spec = try await admin.abortSpec(topic: target.topic, partition: target.partition, startOffset: startOffset)
            } else if let producerId, let producerEpoch {
                spec = AbortTransactionSpec(topic: target.topic, partition: target.partition, producerId: producerId,
                                            producerEpoch: producerEpoch,
                                            coordinatorEpoch: Swift.max(0, coordinatorEpoch ?? 0))
            } else {
                throw CLIError.usage("give --start-offset, or --producer-id with --producer-epoch")
            }
            try await admin.abortTransaction(spec)
            if output.isJSON {
                try Terminal.printJSON(["aborted": spec])
            } else {
                print("Aborted the transaction of producer \(spec.producerId) (epoch \(spec.producerEpoch)) in "
                      + "\(spec.topic)-\(spec.partition).")
            }
        }
    }
}
