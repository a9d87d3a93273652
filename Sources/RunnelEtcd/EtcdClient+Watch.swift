// Watching a key range: a stream of revisions that resumes after a disconnect without losing one.
import Foundation
import NIOCore
import Synchronization

extension EtcdClient {
    /// Watches `range` from `revision` on and hands each batch of events to `onBatch`, in revision order,
    /// one batch at a time (the watch reads nothing more until `onBatch` returns).
    ///
    /// A broken connection (etcd restarted, an endpoint down) is resumed on the next endpoint from the
    /// last delivered revision + 1, so no event is missed and none is delivered twice. Returns when the
    /// calling task is cancelled. Throws `.compacted` when etcd no longer has the history the watch
    /// needs: the caller reloads the range at the current revision and watches again from there.
    public func watch(_ range: EtcdKeyRange, fromRevision revision: Int64,
                      onBatch: @escaping @Sendable (EtcdWatchBatch) async -> Void) async throws(EtcdError) {
        let cursor = WatchCursor(revision)
        while !Task.isCancelled {
            for index in endpointOrder() {
                guard !Task.isCancelled else { return }
                let endpoint = configuration.endpoints[index]
                var request = EtcdWire.rangeBody(range)
                request["start_revision"] = String(cursor.next.load(ordering: .relaxed))
                let exchange = HTTPExchange(endpoint: endpoint, group: group, connectTimeout: configuration.connectTimeout)
                do {
                    // "hasleader": a member cut off from the cluster's leader cancels the watch instead of
                    // keeping it open and silent.
                    let status = try await exchange.stream(
                        path: "/v3/watch", body: EtcdWire.encode(["create_request": request]), deadline: nil,
                        headers: [("Grpc-Metadata-hasleader", "true")]
                    ) { message in
                        try await Self.handleWatchMessage(message, cursor: cursor, onBatch: onBatch)
                        cursor.failedAttempts.store(0, ordering: .relaxed)
                    }
                    if status != 200 { throw WatchStreamError.server(code: -status, message: "HTTP \(status)") }
                    logger.debug("etcd watch ended, resuming",
                                 metadata: ["endpoint": "\(endpoint)", "from_revision": "\(cursor.next.load(ordering: .relaxed))"])
                } catch let WatchStreamError.compacted(compactRevision) {
                    throw EtcdError(endpoint: endpoint.description, operation: "watch \(range)",
                                    kind: .compacted(compactRevision: compactRevision))
                } catch {
                    guard !Task.isCancelled else { return }
                    let failedAttempts = cursor.failedAttempts.add(1, ordering: .relaxed).newValue
                    if failedAttempts == 1 || failedAttempts % 20 == 0 {
                        logger.warning("etcd watch interrupted; resuming", metadata: [
                            "endpoint": "\(endpoint)", "from_revision": "\(cursor.next.load(ordering: .relaxed))", "error": "\(error)"])
                    }
                    // Back off a little so a dead cluster is not hammered: 50 ms doubling to 1 s.
                    let delay = min(1000, 50 << min(failedAttempts, 5))
                    do { try await Task.sleep(for: .milliseconds(delay)) } catch { return }
                }
            }
        }
    }

    private static func handleWatchMessage(_ message: Data, cursor: WatchCursor,
                                           onBatch: @Sendable (EtcdWatchBatch) async -> Void) async throws {
        let object = try EtcdWire.object(message)
        if let (code, text) = EtcdWire.serverError(object) { throw WatchStreamError.server(code: code, message: text) }
        guard let result = object["result"] as? [String: Any] else { throw EtcdWire.Malformed(description: "watch message without result") }
        if (result["canceled"] as? Bool) == true {
            if let compact = EtcdWire.int(result["compact_revision"]), compact > 0 { throw WatchStreamError.compacted(compact) }
            throw WatchStreamError.server(code: 1, message: (result["cancel_reason"] as? String) ?? "watch canceled by etcd")
        }
        // On a resumed watch etcd starts at `next`; anything older was delivered before the disconnect.
        let events = try EtcdWire.events(result).filter { $0.keyValue.modRevision >= cursor.next.load(ordering: .relaxed) }
        guard let last = events.last else { return }
        await onBatch(EtcdWatchBatch(events: events, headerRevision: EtcdWire.headerRevision(result)))
        cursor.next.store(last.keyValue.modRevision + 1, ordering: .relaxed)
    }
}

/// Why one watch connection ended.
private enum WatchStreamError: Error {
    case compacted(Int64)
    case server(code: Int, message: String)
}

/// Where a watch resumes (one past the last delivered event) and how often in a row it failed.
final class WatchCursor: Sendable {
    let next: Atomic<Int64>
    let failedAttempts = Atomic<Int>(0)
    init(_ revision: Int64) { next = Atomic(revision) }
}
