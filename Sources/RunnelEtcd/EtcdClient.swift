// EtcdClient: etcd's v3 KV, lease and watch API over its JSON gateway, with endpoint failover and a
// timeout on every call (decision 0006).
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A client of an etcd v3 cluster (etcd 3.4+ gateway paths `/v3/...`).
///
/// Every call goes to the endpoint that last answered and fails over to the next when that one cannot
/// be reached. Reads and lease renewals also fail over after a timeout or a broken connection; writes
/// (put, delete, txn, grant) do not, since etcd may have applied them: they fail with
/// `.timedOut` / `.outcomeUnknown` and the caller re-reads.
public final class EtcdClient: Sendable {
    /// How the client reaches etcd.
    public let configuration: EtcdClientConfiguration
    let group: any EventLoopGroup
    let logger: Logger
    private let preferred = Atomic<Int>(0)
    private let closed = Atomic<Bool>(false)

    /// Creates a client; no connection is opened until the first call.
    public init(configuration: EtcdClientConfiguration,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger = Logger(label: "runnel.etcd")) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
    }

    /// Makes every later call fail with `.shutdown` (calls in flight finish).
    public func shutdown() { closed.store(true, ordering: .relaxed) }

    // MARK: KV

    /// The keys of `range`, at `revision` (nil: the latest).
    public func range(_ range: EtcdKeyRange, revision: Int64? = nil) async throws(EtcdError) -> EtcdRangeResult {
        let object = try await call("range \(range)", path: "/v3/kv/range", body: EtcdWire.rangeBody(range, revision: revision),
                                    retryable: true)
        return try decode("range \(range)") { () throws(EtcdWire.Malformed) in
            EtcdRangeResult(keyValues: try EtcdWire.keyValues(object), revision: EtcdWire.headerRevision(object))
        }
    }

    /// The value of one key, or nil.
    public func get(_ key: String) async throws(EtcdError) -> EtcdKeyValue? {
        try await range(.key(key)).keyValues.first
    }

    /// Writes `value` at `key` (attached to `lease` unless 0); returns the revision of the write.
    @discardableResult
    public func put(_ key: String, value: Data, lease: Int64 = 0) async throws(EtcdError) -> Int64 {
        let object = try await call("put \(key)", path: "/v3/kv/put", body: EtcdWire.putBody(key: key, value: value, lease: lease),
                                    retryable: false)
        return EtcdWire.headerRevision(object)
    }

    /// Deletes the keys of `range`; returns how many were deleted.
    @discardableResult
    public func delete(_ range: EtcdKeyRange) async throws(EtcdError) -> Int64 {
        let object = try await call("delete \(range)", path: "/v3/kv/deleterange", body: EtcdWire.deleteBody(range),
                                    retryable: false)
        return EtcdWire.int(object["deleted"]) ?? 0
    }

    /// Runs a transaction atomically.
    public func transaction(_ txn: EtcdTransaction) async throws(EtcdError) -> EtcdTransactionResult {
        let name = "txn " + (txn.success.first.map(Self.describe) ?? txn.compare.first?.key ?? "")
        let object = try await call(name, path: "/v3/kv/txn", body: EtcdWire.transactionBody(txn), retryable: false)
        return try decode(name) { () throws(EtcdWire.Malformed) in try EtcdWire.transactionResult(object) }
    }

    /// Compacts the history up to `revision` (tests and operators; etcd can also auto-compact).
    public func compact(revision: Int64) async throws(EtcdError) {
        _ = try await call("compact \(revision)", path: "/v3/kv/compaction",
                           body: ["revision": String(revision), "physical": true], retryable: false)
    }

    // MARK: Leases

    /// Grants a lease of `ttl` (whole seconds, at least 1; etcd may raise it to its minimum).
    public func grantLease(ttl: Duration) async throws(EtcdError) -> EtcdLease {
        let seconds = max(1, (ttl.wholeMilliseconds + 999) / 1000)
        let object = try await call("lease grant", path: "/v3/lease/grant", body: ["TTL": String(seconds)], retryable: false)
        guard let id = EtcdWire.int(object["ID"]), let granted = EtcdWire.int(object["TTL"]), granted > 0 else {
            throw EtcdError(endpoint: currentEndpoint, operation: "lease grant", kind: .malformedResponse("no ID/TTL in \(object)"))
        }
        return EtcdLease(id: id, ttl: .seconds(granted))
    }

    /// Renews `lease` once; returns the TTL etcd restarted it with. Throws `.leaseNotFound` when the lease
    /// has expired or was revoked. `timeout` bounds the call (default: the request timeout).
    public func keepAlive(lease: Int64, timeout: Duration? = nil) async throws(EtcdError) -> Duration {
        let object = try await call("lease keepalive \(lease)", path: "/v3/lease/keepalive", body: ["ID": String(lease)],
                                    retryable: true, timeout: timeout)
        let result = (object["result"] as? [String: Any]) ?? object
        guard let ttl = EtcdWire.int(result["TTL"]), ttl > 0 else {
            throw EtcdError(endpoint: currentEndpoint, operation: "lease keepalive \(lease)", kind: .leaseNotFound(id: lease))
        }
        return .seconds(ttl)
    }

    /// Revokes `lease`, deleting every key attached to it. A lease already gone is not an error.
    public func revokeLease(_ lease: Int64) async throws(EtcdError) {
        do {
            _ = try await call("lease revoke \(lease)", path: "/v3/lease/revoke", body: ["ID": String(lease)], retryable: true)
        } catch {
            if case .server(let code, _) = error.kind, code == 5 { return }  // NOT_FOUND: already gone
            throw error
        }
    }

    // MARK: Calls

    var currentEndpoint: String {
        configuration.endpoints.isEmpty ? "(no endpoints)"
            : configuration.endpoints[preferred.load(ordering: .relaxed) % configuration.endpoints.count].description
    }

    /// Which endpoint to try first, and remembering the one that answered.
    func endpointOrder() -> [Int] {
        let count = configuration.endpoints.count
        let first = preferred.load(ordering: .relaxed) % max(count, 1)
        return (0..<count).map { (first + $0) % count }
    }

    func markPreferred(_ index: Int) { preferred.store(index, ordering: .relaxed) }

    /// POSTs a JSON body, failing over between endpoints; returns the decoded JSON object of a 200 answer.
    private func call(_ operation: String, path: String, body: [String: Any], retryable: Bool,
                      timeout: Duration? = nil) async throws(EtcdError) -> [String: Any] {
        guard !closed.load(ordering: .relaxed) else {
            throw EtcdError(endpoint: currentEndpoint, operation: operation, kind: .shutdown)
        }
        let payload = EtcdWire.encode(body)
        let limit = timeout ?? configuration.requestTimeout
        // Up to four rounds over the endpoints within the request timeout: a member that is starting
        // or restarting refuses or drops connections for a moment. A round is repeated only for what is
        // safe to repeat (reads, keep-alives; anything that was never sent).
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        var failures: [EtcdError] = []
        for round in 0..<4 {
            if round > 0 {
                let retriable = failures.allSatisfy { failure in
                    if case .unreachable = failure.kind { return true }
                    if case .server(code: 14, _) = failure.kind { return true }
                    return false
                }
                let pause = Duration.milliseconds(50 << round)
                guard retriable, clock.now + pause < deadline else { break }
                try? await Task.sleep(for: pause)  // backoff before the next round
                failures.removeAll()
            }
            if let object = try await callOnce(operation, path: path, payload: payload, retryable: retryable, limit: limit,
                                               failures: &failures) {
                return object
            }
        }
        if failures.count == 1, let only = failures.first { throw only }
        throw EtcdError(endpoint: configuration.endpoints.map(\.description).joined(separator: ","), operation: operation,
                        kind: .allEndpointsFailed(failures))
    }

    /// One round over the endpoints: the answer, or nil with the failures that allow another round.
    private func callOnce(_ operation: String, path: String, payload: Data, retryable: Bool, limit: Duration,
                          failures: inout [EtcdError]) async throws(EtcdError) -> [String: Any]? {
        for index in endpointOrder() {
            let endpoint = configuration.endpoints[index]
            let exchange = HTTPExchange(endpoint: endpoint, group: group, connectTimeout: configuration.connectTimeout)
            let fail = { (kind: EtcdError.Kind) in EtcdError(endpoint: endpoint.description, operation: operation, kind: kind) }
            let answer: (status: Int, body: Data)
            do {
                answer = try await exchange.post(path: path, body: payload, timeout: limit,
                                                 maxResponseBytes: configuration.maxResponseBytes)
            } catch HTTPExchangeFailure.connectFailed(let reason) {
                failures.append(fail(.unreachable(reason)))
                continue
            } catch HTTPExchangeFailure.notSent(let reason) {
                // Safe to repeat, writes included: etcd never had the whole request.
                failures.append(fail(.unreachable("connection closed before the request was sent: \(reason)")))
                continue
            } catch HTTPExchangeFailure.timedOut {
                let error = fail(.timedOut(milliseconds: limit.wholeMilliseconds))
                guard retryable else { throw error }
                failures.append(error)
                continue
            } catch HTTPExchangeFailure.responseTooLarge(let max) {
                throw fail(.malformedResponse("answer larger than \(max) bytes"))
            } catch {
                let error = fail(retryable ? .unreachable("\(error)") : .outcomeUnknown("\(error)"))
                guard retryable else { throw error }
                failures.append(error)
                continue
            }
            let object: [String: Any]
            do {
                object = try EtcdWire.object(answer.body)
            } catch {
                guard answer.status == 200 else {
                    throw fail(.http(status: answer.status, body: String(decoding: answer.body, as: UTF8.self)))
                }
                throw fail(.malformedResponse(error.description))
            }
            if let (code, message) = EtcdWire.serverError(object) {
                // UNAVAILABLE (no leader, member stopping): another member may answer, when that is safe.
                if code == 14 && (retryable || message.contains("no leader")) {
                    failures.append(fail(.server(code: code, message: message)))
                    continue
                }
                throw fail(.server(code: code, message: message))
            }
            guard answer.status == 200 else {
                throw fail(.http(status: answer.status, body: String(decoding: answer.body, as: UTF8.self)))
            }
            markPreferred(index)
            return object
        }
        return nil
    }

    private func decode<T>(_ operation: String, _ body: () throws(EtcdWire.Malformed) -> T) throws(EtcdError) -> T {
        do { return try body() } catch {
            throw EtcdError(endpoint: currentEndpoint, operation: operation, kind: .malformedResponse(error.description))
        }
    }

    private static func describe(_ operation: EtcdOperation) -> String {
        switch operation {
        case .put(let key, _, _): key
        case .delete(let range): "delete \(range)"
        case .range(let range): "range \(range)"
        }
    }
}
