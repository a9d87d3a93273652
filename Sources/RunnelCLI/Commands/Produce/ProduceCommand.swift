// `runnel produce TOPIC`: sends lines from stdin or files as records, reporting each failed record.
import ArgumentParser
import Foundation
import KafkaRecords
import NIOCore
import RunnelClient

struct ProduceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "produce", abstract: "Produce lines from stdin or files as records.",
        discussion: """
        Each line becomes one record. With --key-separator, the text before the
        first separator is the key. A topic that does not exist is created by the
        broker if its auto.create.topics.enable is on (as with Kafka's console
        producer); the command says so. Exits 1 if any record failed; each failure is
        reported on stderr with its file and line number.

        EXAMPLES:
          echo hello | runnel produce events
          runnel produce orders -k : < orders.txt          # "id42:{...}" -> key id42
          runnel produce orders -H source=import -z zstd data1.txt data2.txt
          runnel produce metrics -p 0 --timestamp 2026-01-01T00:00:00Z
        """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The topic to produce to.") var topic: String
    @Argument(help: "Files to read lines from (default: stdin).") var files: [String] = []
    @Option(name: [.short, .customLong("key-separator")], help: "Split each line into key and value at the first SEP.")
    var keySeparator: String?
    @Option(name: [.customShort("H"), .customLong("header")], help: ArgumentHelp("A header for every record, repeatable.", valueName: "key=value"))
    var headers: [String] = []
    @Option(name: .shortAndLong, help: "Write every record to this partition (default: by key, sticky for null keys).")
    var partition: Int32?
    @Option(name: .long, parsing: .unconditional, help: "Create time of the records: ISO 8601, -1h, @millis (default: now).")
    var timestamp: String?
    @Option(name: [.customShort("z"), .long], help: "Compression: none, gzip, snappy, lz4, zstd.")
    var compression: String = "none"
    @Option(name: .long, help: "Acknowledgements: 0, 1 or all.") var acks: String = "all"
    @Flag(inversion: .prefixedNo, help: "Idempotent producer (needs --acks all).") var idempotence = true
    @Option(name: .long, help: "linger.ms: how long to wait to fill batches.") var lingerMs: Int = 5
    @Option(name: .long, help: "batch.size in bytes.") var batchSize: Int = 16_384
    @Flag(name: .shortAndLong, help: "Print partition and offset of every record.") var verbose = false

    func run() async throws {
        try await runReportingErrors(brokers: connection.resolvedBrokers) {
            let configuration = try producerConfiguration()
            let headerList = try parseConfigPairs(headers).map { RecordHeader(key: $0.0, value: ByteBuffer(string: $0.1)) }
            let fixedTimestamp = try timestamp.map { try TimestampParser.parse($0) }
            if let keySeparator, keySeparator.isEmpty { throw CLIError.usage("--key-separator must not be empty") }
            let tracker = DeliveryTracker(verbose: verbose && !output.isJSON)
            try await connection.withClient { client in
                if let created = try await TopicAutoCreation.ensureExists(topic, client: client) { Terminal.printError(created) }
                let producer = try KafkaProducer(client: client, configuration: configuration)
                // Lines go over in chunks: one hop onto the producer per chunk, not per record.
                var records: [ProducerRecord] = []
                var labels: [String] = []
                func handOver() async throws {
                    let chunkLabels = labels
                    try await producer.produce(contentsOf: records) { index, result in
                        tracker.record(chunkLabels[index], result)
                    }
                    records.removeAll(keepingCapacity: true)
                    labels.removeAll(keepingCapacity: true)
                }
                for source in try LineSource.sources(files) {
                    while let line = source.nextLine() {
                        let (key, value) = split(line)
                        records.append(ProducerRecord(topic: topic, partition: partition, key: key, value: value,
                                                      headers: headerList, timestamp: fixedTimestamp))
                        labels.append("\(source.name):\(source.lineNumber)")
                        if records.count >= 256 || !source.hasInputWaiting { try await handOver() }
                    }
                }
                if !records.isEmpty { try await handOver() }
                await producer.flush()
            }
            let summary = tracker.summary
            if output.isJSON {
                try Terminal.printJSON(summary)
            } else {
                Terminal.printError("produced \(summary.delivered) record(s) to \(topic)"
                    + (summary.failed > 0 ? ", \(summary.failed) failed" : ""))
            }
            if summary.failed > 0 { throw CLIError.reported() }
        }
    }

    private func split(_ line: String) -> (String?, String) {
        guard let keySeparator, let range = line.range(of: keySeparator) else { return (nil, line) }
        return (String(line[..<range.lowerBound]), String(line[range.upperBound...]))
    }

    private func producerConfiguration() throws -> ProducerConfiguration {
        var configuration = ProducerConfiguration()
        guard let codec = CompressionCodec(name: compression) else {
            throw CLIError.usage("unknown compression '\(compression)'", hint: "use none, gzip, snappy, lz4 or zstd")
        }
        guard let acks = Acks(name: acks) else {
            throw CLIError.usage("bad --acks '\(acks)'", hint: "use 0, 1 or all")
        }
        configuration.compression = codec
        configuration.acks = acks
        configuration.enableIdempotence = idempotence && acks == .all
        if idempotence && acks != .all {
            throw CLIError.usage("idempotence needs --acks all", hint: "add --no-idempotence to use --acks \(self.acks)")
        }
        configuration.linger = .milliseconds(lingerMs)
        configuration.batchSize = batchSize
        configuration.requestTimeoutMilliseconds = Int32(clamping: connection.timeout)
        configuration.deliveryTimeout = .milliseconds(Swift.max(connection.timeout * 2, 30_000))
        return configuration
    }
}
