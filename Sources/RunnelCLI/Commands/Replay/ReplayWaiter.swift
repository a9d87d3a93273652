// ReplayWaiter: `runnel replay --wait-caught-up` — polls a group's committed offsets once a second
// (one OffsetFetch, to a cached coordinator connection) and prints progress until they reach the end
// offsets, the group disappears, or the wait times out.
import Foundation
import KafkaProtocol
import RunnelClient

struct ReplayWaiter {
    let client: KafkaClient
    let group: String
    let endOffsets: [TopicPartition: Int64]
    let json: Bool
    let timeoutMilliseconds: Int64?

    func run() async throws {
        let clock = ContinuousClock()
        let started = clock.now
        let deadline = timeoutMilliseconds.map { started + .milliseconds($0) }
        let interrupt = InterruptFlag()
        let signalSources = interrupt.install()
        defer { signalSources.forEach { $0.cancel() } }
        var progress = CatchUpProgress(endOffsets: endOffsets)
        var coordinator: BrokerConnection?
        var nextPoll = started
        var lastError: String?
        while true {
            try await clock.sleep(until: nextPoll)
            nextPoll = max(nextPoll + .seconds(1), clock.now)
            if interrupt.isRaised { throw CLIError.failure("interrupted before group '\(group)' caught up") }
            let committed: [TopicPartition: Int64]
            do {
                if coordinator == nil { coordinator = try await client.coordinatorConnection(group: group) }
                committed = try await client.committedOffsets(group: group, partitions: Array(endOffsets.keys),
                                                              connection: coordinator)
                lastError = nil
            } catch KafkaClientError.broker(code: .groupIdNotFound, _, _) {
                throw disappeared()
            } catch let error as KafkaClientError where error.isRetriable {
                // The coordinator moved or a connection dropped: find it again at the next poll.
                coordinator = nil
                lastError = error.description
                try checkDeadline(deadline, clock: clock, left: nil)
                continue
            }
            if committed.isEmpty { throw disappeared() }
            let status = progress.record(committed, at: clock.now)
            try report(status, elapsed: clock.now - started)
            if status.caughtUp {
                if !json { print("Group \(group) caught up.") }
                return
            }
            try checkDeadline(deadline, clock: clock, left: status.left, lastError: lastError)
        }
    }

    private func disappeared() -> CLIError {
        CLIError.failure("group '\(group)' disappeared while waiting (it has no committed offsets any more)",
                         hint: "was it deleted, or did its offsets expire? Start again with `runnel replay`")
    }

    private func checkDeadline(_ deadline: ContinuousClock.Instant?, clock: ContinuousClock, left: Int64?,
                               lastError: String? = nil) throws {
        guard let deadline, clock.now >= deadline else { return }
        let what = left.map { "\($0) record(s) still to go" } ?? "the group's offsets could not be read"
        throw CLIError.failure("timed out waiting for group '\(group)' to catch up: \(what)"
                               + (lastError.map { " (last error: \($0))" } ?? ""),
                               hint: "raise --wait-timeout, or check the group's consumers with `runnel group describe \(group)`")
    }

    private func report(_ status: CatchUpProgress.Status, elapsed: Duration) throws {
        if json {
            try Terminal.printJSONLine(ReplayCommand.Progress(event: status.caughtUp ? "caught-up" : "progress",
                                                              group: group, status: status))
            return
        }
        let partitions = status.partitions.map {
            "\($0.topic)-\($0.partition) \($0.left) \(Self.rate($0.rate)) \(Self.eta($0.etaSeconds))"
        }.joined(separator: ", ")
        print("[\(elapsed.components.seconds)s] left \(status.left)  rate \(Self.rate(status.rate))  "
              + "eta \(Self.eta(status.etaSeconds))  |  \(partitions)")
        Terminal.flush()
    }

    static func rate(_ perSecond: Double) -> String { String(format: "%.0f/s", perSecond) }

    static func eta(_ seconds: Double?) -> String {
        guard let seconds else { return "-" }
        let whole = Int(seconds.rounded(.up))
        if whole < 60 { return "\(whole)s" }
        if whole < 3600 { return "\(whole / 60)m\(whole % 60)s" }
        return "\(whole / 3600)h\((whole % 3600) / 60)m"
    }
}
