// `runnel perf produce|consume`: throughput and latency tests like kafka-producer-perf-test.
import ArgumentParser
import Foundation
import KafkaRecords
import NIOCore
import RunnelClient

struct PerfCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perf", abstract: "Measure produce and consume throughput and latency.",
        discussion: """
        EXAMPLES:
          runnel perf produce bench --num-records 1000000 --record-size 100
          runnel perf produce bench --num-records 200000 --throughput 50000 -z lz4
          runnel perf consume bench --num-records 1000000
        """,
        subcommands: [PerfProduce.self, PerfConsume.self])
}

struct PerfProduce: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "produce", abstract: "Produce records as fast as possible (or at --throughput).",
        discussion: """
        Prints a progress line each second (records/s, MB/s, p50/p99/max latency
        from hand-over to acknowledgement) and a final summary.

        EXAMPLES:
          runnel perf produce bench --num-records 1000000 --record-size 100
          runnel perf produce bench --num-records 100000 --acks 1 --no-idempotence
          runnel perf produce bench --json
        """)

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The topic.") var topic: String
    @Option(help: "Records to send.") var numRecords: Int = 1_000_000
    @Option(help: "Bytes per record value.") var recordSize: Int = 100
    @Option(help: "Records per second at most (-1: unlimited).") var throughput: Int = -1
    @Option(help: "Acknowledgements: 0, 1 or all.") var acks: String = "all"
    @Flag(inversion: .prefixedNo, help: "Idempotent producer.") var idempotence = true
    @Option(name: [.customShort("z"), .long], help: "Compression: none, gzip, snappy, lz4, zstd.") var compression = "none"
    @Option(help: "batch.size in bytes (librdkafka's default).") var batchSize: Int = 1_000_000
    @Option(help: "linger.ms.") var lingerMs: Int = 5
    @Option(help: "buffer.memory: bytes handed over and not yet acknowledged (librdkafka's queue.buffering.max.kbytes of the reference driver).")
    var bufferMemory: Int = 1 << 30
    @Option(help: "max.in.flight.requests.per.connection, per partition (at most 5 with idempotence).")
    var maxInFlight: Int?
    @Option(help: "sticky.partitioning.linger.ms: null-key records stay on one partition this long (librdkafka's default).")
    var stickyLingerMs: Int = 10
    @Flag(help: "Print the summary as JSON.") var json = false

    func validate() throws {
        guard numRecords > 0 else { throw ValidationError("--num-records must be positive") }
        guard recordSize >= 0 else { throw ValidationError("--record-size must not be negative") }
    }

    func run() async throws {
        try await runReportingErrors(brokers: connection.resolvedBrokers) {
            var configuration = ProducerConfiguration()
            guard let codec = CompressionCodec(name: compression) else {
                throw CLIError.usage("unknown compression '\(compression)'", hint: "use none, gzip, snappy, lz4 or zstd")
            }
            guard let acks = Acks(name: acks) else { throw CLIError.usage("bad --acks '\(acks)'", hint: "use 0, 1 or all") }
            configuration.compression = codec
            configuration.acks = acks
            configuration.enableIdempotence = idempotence && acks == .all
            configuration.batchSize = batchSize
            configuration.linger = .milliseconds(lingerMs)
            configuration.stickyPartitioningLinger = .milliseconds(stickyLingerMs)
            configuration.bufferMemory = max(bufferMemory, batchSize)
            // Without idempotence nothing limits ordering, so keep as many requests in flight as the broker
            // serves concurrently per connection (librdkafka allows 1000000 then).
            configuration.maxInFlightPerPartition = maxInFlight ?? (configuration.enableIdempotence ? 5 : 32)
            var payload = ByteBuffer()
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<recordSize { payload.writeInteger(UInt8.random(in: 65...90, using: &generator)) }
            // Timed from the first record handed over to the last acknowledgement (as the librdkafka
            // reference driver times itself): connecting and closing are not part of the figure.
            let summary = try await connection.withClient { client in
                let producer = try KafkaProducer(client: client, configuration: configuration)
                _ = try await client.topicMetadata(topic)
                let stats = PerfStats()
                let progress = stats.startProgress()
                let clock = ContinuousClock()
                let start = clock.now
                let size = recordSize
                let chunk = throughput > 0 ? max(1, min(500, throughput / 100)) : 500
                var sent = 0
                while sent < numRecords {
                    if throughput > 0 {
                        let due = start + .seconds(Double(sent) / Double(throughput))
                        if due > clock.now { try await Task.sleep(until: due, clock: clock) }
                    }
                    let count = min(chunk, numRecords - sent)
                    let records = [ProducerRecord](repeating: ProducerRecord(topic: topic, value: payload), count: count)
                    let sentAt = clock.now
                    try await producer.produce(contentsOf: records) { _, result in
                        let elapsed = clock.now - sentAt
                        let micros = UInt64(max(0, elapsed.components.seconds * 1_000_000
                                                + elapsed.components.attoseconds / 1_000_000_000_000))
                        if case .failure(let error) = result {
                            if stats.completed < 10 { Terminal.printError("error: \(error)") }
                            stats.record(bytes: size, latencyMicros: nil, failed: true)
                        } else {
                            stats.record(bytes: size, latencyMicros: micros)
                        }
                    }
                    sent += count
                }
                await producer.flush()
                progress.cancel()
                return stats.totals()
            }
            if json { try Terminal.printJSON(summary) } else { print(PerfStats.line(summary, prefix: "total: ")) }
            if summary.errors > 0 { throw CLIError.reported() }
        }
    }
}

struct PerfConsume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume", abstract: "Consume records as fast as possible.",
        discussion: """
        Prints a progress line each second (records/s, MB/s and p50/p99/max
        end-to-end latency: the time since each record's timestamp) and a final
        summary.

        EXAMPLES:
          runnel perf consume bench --num-records 1000000
          runnel perf consume bench --from end --json     # while producing
        """)

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The topic.") var topic: String
    @Option(help: "Records to consume.") var numRecords: Int = 1_000_000
    @Option(parsing: .unconditional, help: "Where to start: beginning, end, an offset or a time.")
    var from: String = "beginning"
    @Option(help: "Consume in this group.") var group: String?
    @Option(help: "Give up after this many seconds without records.") var idleTimeout: Int = 10
    @Option(help: "fetch.max.bytes: the most one Fetch response may carry.") var fetchMaxBytes: Int32 = 52_428_800
    @Option(help: "max.partition.fetch.bytes: the most per partition in one Fetch.")
    var maxPartitionFetchBytes: Int32 = 1_048_576
    @Flag(help: "Print the summary as JSON.") var json = false

    func run() async throws {
        try await runReportingErrors(brokers: connection.resolvedBrokers) {
            let start = try StartPosition.parse(from)
            var configuration = ConsumerConfiguration()
            configuration.groupId = group
            configuration.fetchMaxBytes = fetchMaxBytes
            configuration.maxPartitionFetchBytes = maxPartitionFetchBytes
            let summary = try await connection.withClient { client in
                let consumer = KafkaConsumer(client: client, configuration: configuration)
                if group != nil {
                    try await consumer.subscribe(topics: [topic], startingAt: start)
                } else {
                    try await consumer.assign(topic: topic, from: start)
                }
                let stats = PerfStats()
                let progress = stats.startProgress()
                var received = 0
                var latencies: [UInt64] = []
                var lastRecord = ContinuousClock.now
                let interrupt = InterruptFlag()
                let watchers = interrupt.install()
                defer { withExtendedLifetime(watchers) {} }
                while received < numRecords && !interrupt.isRaised {
                    let records = try await consumer.poll()
                    let now = TimestampParser.nowMilliseconds()
                    if records.isEmpty {
                        if ContinuousClock.now - lastRecord > .seconds(idleTimeout) { break }
                        continue
                    }
                    lastRecord = .now
                    var bytes = 0
                    latencies.removeAll(keepingCapacity: true)
                    for record in records.prefix(numRecords - received) {
                        latencies.append(UInt64(max(0, now - record.timestamp)) * 1000)
                        bytes += (record.value?.readableBytes ?? 0) + (record.key?.readableBytes ?? 0)
                    }
                    stats.record(bytes: bytes, latenciesMicros: latencies)
                    received += min(records.count, numRecords - received)
                }
                let totals = stats.totals()
                progress.cancel()
                await consumer.close()
                return totals
            }
            if json { try Terminal.printJSON(summary) } else { print(PerfStats.line(summary, prefix: "total: ")) }
            if summary.records < numRecords {
                throw CLIError.failure("only \(summary.records) of \(numRecords) records arrived within --idle-timeout",
                                       hint: "produce more records or lower --num-records")
            }
        }
    }
}
