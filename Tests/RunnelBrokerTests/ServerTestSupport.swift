// Test helpers for the server pipeline: request frames, controllable routers, response parsing.
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
@testable import RunnelBroker

/// Builds a size-prefixed request frame with the fixed header fields and `body` bytes.
func requestBytes(apiKey: Int16 = 18, apiVersion: Int16 = 3, correlationId: Int32, body: [UInt8] = []) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeInteger(Int32(8 + body.count))
    buffer.writeInteger(apiKey)
    buffer.writeInteger(apiVersion)
    buffer.writeInteger(correlationId)
    buffer.writeBytes(body)
    return buffer
}

/// A router that answers each request with `int32 correlation_id` immediately.
struct EchoRouter: RequestRouter {
    func route(_ request: KafkaRequestFrame, context: RequestContext) -> EventLoopFuture<ResponsePayload> {
        var buffer = ByteBuffer()
        buffer.writeInteger(request.correlationId)
        return context.eventLoop.makeSucceededFuture(.buffer(buffer))
    }
}

/// A router whose responses the test completes, in any order.
final class ManualRouter: RequestRouter {
    private let promises = NIOLockedValueBox<[Int32: EventLoopPromise<ResponsePayload>]>([:])

    func route(_ request: KafkaRequestFrame, context: RequestContext) -> EventLoopFuture<ResponsePayload> {
        let promise = context.eventLoop.makePromise(of: ResponsePayload.self)
        promises.withLockedValue { $0[request.correlationId] = promise }
        return promise.futureResult
    }

    var pendingCorrelationIds: [Int32] { promises.withLockedValue { $0.keys.sorted() } }

    /// Answers `correlationId` with `int32 correlation_id` (or nothing when `payload` is `.none`).
    func answer(_ correlationId: Int32, with payload: ResponsePayload? = nil) {
        guard let promise = promises.withLockedValue({ $0.removeValue(forKey: correlationId) }) else { return }
        var buffer = ByteBuffer()
        buffer.writeInteger(correlationId)
        promise.succeed(payload ?? .buffer(buffer))
    }

    func fail(_ correlationId: Int32) {
        let promise = promises.withLockedValue { $0.removeValue(forKey: correlationId) }
        promise?.fail(ServerError.unsupportedRequest(apiKey: 0, apiVersion: 0))
    }
}

/// An outbound handler at the head of the pipeline counting `read()` calls that reach the socket.
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = Any
    private(set) var reads = 0
    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}

/// Captures log lines for assertions.
final class LogCapture: Sendable {
    private let lines = NIOLockedValueBox<[String]>([])
    var all: [String] { lines.withLockedValue { $0 } }

    var logger: Logger {
        Logger(label: "test") { label in
            KeyValueLogHandler(label: label, level: .debug) { [lines] line in lines.withLockedValue { $0.append(line) } }
        }
    }
}

/// An `EmbeddedChannel` running the server pipeline.
func makePipelineChannel(
    router: any RequestRouter, configuration: ServerConfiguration = ServerConfiguration(),
    logger: Logger = Logger(label: "test"), readCounter: ReadCounter? = nil
) throws -> EmbeddedChannel {
    let channel = EmbeddedChannel()
    channel.remoteAddress = try SocketAddress(ipAddress: "127.0.0.1", port: 50_000)
    try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9092)).wait()
    if let readCounter { try channel.pipeline.syncOperations.addHandler(readCounter) }
    try KafkaServer.configurePipeline(
        channel.pipeline.syncOperations, configuration: configuration, router: router, metrics: ServerMetrics(),
        connectionId: "test-connection", listenerName: "PLAINTEXT", logger: logger)
    return channel
}

/// Reads every flushed outbound part and splits them into responses (size prefix checked).
func readResponses(_ channel: EmbeddedChannel) throws -> [ByteBuffer] {
    channel.embeddedEventLoop.run()  // the pipeline flushes from a task queued on its loop
    var bytes = ByteBuffer()
    while let part = try channel.readOutbound(as: IOData.self) {
        switch part {
        case .byteBuffer(var buffer): bytes.writeBuffer(&buffer)
        case .fileRegion(let region): bytes.writeString("<file:\(region.readableBytes)>")
        }
    }
    var responses: [ByteBuffer] = []
    while let size = bytes.readInteger(as: Int32.self), let body = bytes.readSlice(length: Int(size)) {
        responses.append(body)
    }
    return responses
}

/// The leading `int32` of each response (the correlation id the test routers write).
func correlationIds(_ responses: [ByteBuffer]) -> [Int32] {
    responses.compactMap { $0.getInteger(at: $0.readerIndex, as: Int32.self) }
}

/// A log dir under the temporary directory, removed when the value is released.
final class TemporaryLogDir: Sendable {
    let path = NSTemporaryDirectory() + "runnel-broker-" + UUID().uuidString

    /// True once storage closed cleanly (the marker is removed when storage opens).
    var hasCleanShutdownMarker: Bool { FileManager.default.fileExists(atPath: path + "/.kafka_cleanshutdown") }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
