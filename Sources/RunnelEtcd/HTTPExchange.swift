// HTTPExchange: one HTTP/1.1 POST on its own connection (swift-nio), answered as a whole body or as a
// stream of newline-delimited JSON messages (the gateway's watch and keep-alive streams).
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Why an exchange failed, before it becomes an `EtcdError` naming the endpoint and operation.
enum HTTPExchangeFailure: Error {
    /// The connection could not be opened: nothing was sent.
    case connectFailed(String)
    /// The connection closed before the request was written to it: etcd cannot have acted on it (a POST
    /// whose Content-Length bytes did not all arrive is not processed), so it is safe to send again.
    case notSent(String)
    /// The deadline passed (connect included).
    case timedOut
    /// The connection broke after the request was (maybe) sent.
    case connectionLost(String)
    /// The answer was larger than allowed.
    case responseTooLarge(Int)
}

/// An error thrown by the caller's body handler, carried out of the read loop unchanged.
private struct CallbackFailure: Error {
    let underlying: any Error
}

/// One POST to an etcd gateway endpoint. A fresh connection per exchange keeps failure handling simple
/// (no pooled connection in an unknown state); metadata traffic is a few calls a second at most.
struct HTTPExchange: Sendable {
    let endpoint: EtcdEndpoint
    let group: any EventLoopGroup
    let connectTimeout: Duration

    /// POSTs `body` to `path` and returns the status and the whole response body; fails with
    /// `.timedOut` when nothing complete arrived by `timeout`.
    func post(path: String, body: Data, timeout: Duration, maxResponseBytes: Int) async throws -> (status: Int, body: Data) {
        let collected = Mutex<(status: Int, body: Data)>((0, Data()))
        try await exchange(path: path, body: body, deadline: .now() + .nanoseconds(Int64(timeout.wholeMilliseconds) * 1_000_000),
                           onHead: { status in collected.withLock { $0.status = status } },
                           onBody: { buffer in
                               try collected.withLock { state in
                                   guard state.body.count + buffer.readableBytes <= maxResponseBytes else {
                                       throw HTTPExchangeFailure.responseTooLarge(maxResponseBytes)
                                   }
                                   state.body.append(contentsOf: buffer.readableBytesView)
                               }
                           })
        return collected.withLock { $0 }
    }

    /// POSTs `body` and hands every newline-terminated message of the answer to `onMessage` as it
    /// arrives, until the server ends the answer, the task is cancelled or `deadline` (if any) passes.
    /// Returns the HTTP status; a non-200 status's body is given as one message.
    func stream(path: String, body: Data, deadline: NIODeadline?, headers: [(String, String)] = [],
                onMessage: @escaping @Sendable (Data) async throws -> Void) async throws -> Int {
        let status = Mutex(0)
        let pending = Mutex(Data())
        try await exchange(path: path, body: body, deadline: deadline, headers: headers,
                           onHead: { code in status.withLock { $0 = code } },
                           onBody: { buffer in pending.withLock { $0.append(contentsOf: buffer.readableBytesView) } },
                           afterBody: {
                               while let line = pending.withLock({ data -> Data? in
                                   guard let newline = data.firstIndex(of: 0x0A) else { return nil }
                                   let line = data[data.startIndex..<newline]
                                   data.removeSubrange(data.startIndex...newline)
                                   return Data(line)
                               }) {
                                   if !line.isEmpty { try await onMessage(line) }
                               }
                           })
        let rest = pending.withLock { $0 }
        if !rest.isEmpty { try await onMessage(rest) }
        return status.withLock { $0 }
    }

    private func exchange(path: String, body: Data, deadline: NIODeadline?, headers: [(String, String)] = [],
                          onHead: @escaping @Sendable (Int) -> Void,
                          onBody: @escaping @Sendable (ByteBuffer) throws -> Void,
                          afterBody: @escaping @Sendable () async throws -> Void = {}) async throws {
        let connectMs = Int64(connectTimeout.wholeMilliseconds)
        var connectLimit = TimeAmount.milliseconds(connectMs)
        if let deadline {
            let left = deadline - .now()
            guard left > .zero else { throw HTTPExchangeFailure.timedOut }
            connectLimit = min(connectLimit, left)
        }
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(connectLimit)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: endpoint.host, port: endpoint.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw HTTPExchangeFailure.connectFailed("\(error)")
        }
        // The deadline closes the connection, which ends the read loop below.
        let timedOut = Atomic<Bool>(false)
        let timer = deadline.map { deadline in
            channel.channel.eventLoop.scheduleTask(deadline: deadline) { [channel = channel.channel] in
                timedOut.store(true, ordering: .sequentiallyConsistent)
                channel.close(promise: nil)
            }
        }
        defer { timer?.cancel() }
        let raw = channel.channel
        // Set once the whole request is in the connection: a failure before that means it was not sent.
        let sent = Atomic<Bool>(false)
        do {
            try await withTaskCancellationHandler {
                try await channel.executeThenClose { inbound, outbound in
                    var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
                    head.headers.add(name: "Host", value: "\(endpoint.host):\(endpoint.port)")
                    head.headers.add(name: "Content-Type", value: "application/json")
                    head.headers.add(name: "Content-Length", value: "\(body.count)")
                    head.headers.add(name: "Connection", value: "close")
                    for (name, value) in headers { head.headers.add(name: name, value: value) }
                    // One write of all three parts, so that nothing of ours is left to write once etcd
                    // can answer: with a write per part, etcd's answer to the complete body and its
                    // close (`Connection: close`) sometimes arrived before the `.end` part was written,
                    // NIO closed the channel on that end of input, and the `.end` write failed with
                    // "I/O on closed channel" — an applied change reported as "may or may not be
                    // applied" (about once per thousand topic creations on loopback).
                    try await outbound.write(contentsOf: [.head(head), .body(.byteBuffer(ByteBuffer(bytes: body))), .end(nil)])
                    sent.store(true, ordering: .sequentiallyConsistent)
                    for try await part in inbound {
                        switch part {
                        case .head(let response): onHead(Int(response.status.code))
                        case .body(let buffer):
                            do {
                                try onBody(buffer)
                                try await afterBody()
                            } catch {
                                throw CallbackFailure(underlying: error)
                            }
                        case .end: return
                        }
                    }
                    throw HTTPExchangeFailure.connectionLost("closed before the answer was complete")
                }
            } onCancel: {
                raw.close(promise: nil)
            }
        } catch let failure as CallbackFailure {
            // The caller's own error (a watch message it rejected, a body too large): not a network failure.
            throw failure.underlying
        } catch let failure as HTTPExchangeFailure {
            if timedOut.load(ordering: .sequentiallyConsistent) { throw HTTPExchangeFailure.timedOut }
            throw failure
        } catch {
            throw Self.failure(error, timedOut: timedOut.load(ordering: .sequentiallyConsistent),
                               sent: sent.load(ordering: .sequentiallyConsistent))
        }
    }

    /// What a broken exchange means for its caller: the deadline's doing; a connection that closed before
    /// the whole request was written to it (etcd cannot have acted on it, so it may be sent again, writes
    /// included); or one that broke after, when etcd may have applied it.
    static func failure(_ error: any Error, timedOut: Bool, sent: Bool) -> HTTPExchangeFailure {
        if timedOut { return .timedOut }
        if !sent { return .notSent("\(error)") }
        return .connectionLost("\(error)")
    }
}
