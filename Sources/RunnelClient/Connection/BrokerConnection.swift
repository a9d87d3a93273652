// One TCP connection to a broker: connects with NIO, negotiates API versions, pipelines requests.
import Foundation
import KafkaProtocol
import NIOCore
import NIOPosix

/// Settings for broker connections.
public struct ConnectionConfiguration: Sendable {
    /// Sent as `client.id` in every request header.
    public var clientId: String = "runnel"
    /// How long to wait for a TCP connection.
    public var connectTimeout: TimeAmount = .seconds(10)
    /// `request.timeout.ms`: how long to wait for a response.
    public var requestTimeout: TimeAmount = .seconds(30)
    /// Responses larger than this close the connection (protects memory).
    public var maxResponseSize: Int = 512 << 20
    /// TLS and SASL (nil: plaintext, no authentication).
    public var security: ClientSecurity?

    /// Defaults: client id "runnel", 10 s connect timeout, 30 s request timeout.
    public init() {}
}

/// A connection to one broker. Sendable: any task may send on it; requests are pipelined and their
/// responses matched by correlation id.
public final class BrokerConnection: Sendable {
    /// The address this connection was opened to.
    public let address: BrokerAddress
    /// The API versions the broker advertised.
    public let apiVersions: ApiVersionTable
    let channel: any Channel
    let configuration: ConnectionConfiguration

    private init(address: BrokerAddress, channel: any Channel, apiVersions: ApiVersionTable,
                 configuration: ConnectionConfiguration) {
        self.address = address
        self.channel = channel
        self.apiVersions = apiVersions
        self.configuration = configuration
    }

    /// Opens a connection and negotiates API versions (ApiVersions with the highest version the broker
    /// accepts, falling back to v0 when it answers UNSUPPORTED_VERSION).
    public static func connect(to address: BrokerAddress, configuration: ConnectionConfiguration = .init(),
                               group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton)
        async throws -> BrokerConnection {
        let maxFrame = configuration.maxResponseSize
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(configuration.connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ResponseFrameHandler(maxFrameSize: maxFrame,
                                             pacing: configuration.security?.tls == nil ? .plaintext : .tls))
                    try channel.pipeline.syncOperations.addHandler(RequestRouter())
                    try addTLS(channel, configuration: configuration, host: address.host)
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: address.host, port: address.port).get()
        } catch {
            throw KafkaClientError.connectionFailed(address: address.description, reason: Self.describe(error))
        }
        do {
            let table = try await negotiate(channel: channel, address: address, configuration: configuration)
            try await authenticate(channel: channel, address: address, configuration: configuration, table: table)
            return BrokerConnection(address: address, channel: channel, apiVersions: table,
                                    configuration: configuration)
        } catch {
            try? await channel.close()
            throw error
        }
    }

    private static func negotiate(channel: any Channel, address: BrokerAddress,
                                  configuration: ConnectionConfiguration) async throws -> ApiVersionTable {
        var request = ApiVersionsRequest()
        request.clientSoftwareName = "runnel"
        request.clientSoftwareVersion = "0.1.0"
        var version: Int16 = ApiVersionTable.clientRange(for: .apiVersions)?.upperBound ?? 3
        for _ in 0..<3 {
            let frame = try await roundTrip(request, version: version, channel: channel, address: address,
                                            configuration: configuration)
            var body = frame
            let response = try? ApiVersionsResponse(from: &body, version: version)
            if let response, response.errorCode == 0 {
                return table(from: response)
            }
            // UNSUPPORTED_VERSION: the broker answered in v0 with its own range; retry inside it.
            var v0Body = frame
            guard let fallback = try? ApiVersionsResponse(from: &v0Body, version: 0),
                  let range = fallback.apiKeys.first(where: { $0.apiKey == ApiKey.apiVersions.rawValue }) else {
                let code = response?.errorCode ?? ErrorCode.unsupportedVersion.rawValue
                throw KafkaClientError.broker(code: ErrorCode(rawValue: code), context: "ApiVersions to \(address)",
                                              message: nil)
            }
            let next = Swift.min(range.maxVersion, version - 1)
            guard next >= 0, next < version else { return table(from: fallback) }
            version = next
        }
        throw KafkaClientError.unsupportedApi(address: address.description, api: "ApiVersions")
    }

    private static func table(from response: ApiVersionsResponse) -> ApiVersionTable {
        var ranges: [Int16: ClosedRange<Int16>] = [:]
        for entry in response.apiKeys where entry.minVersion <= entry.maxVersion {
            ranges[entry.apiKey] = entry.minVersion...entry.maxVersion
        }
        return ApiVersionTable(ranges: ranges)
    }

    /// Sends `request` in the negotiated version (or `version`) and waits for its response.
    /// `timeout` overrides the request timeout (JoinGroup waits up to the rebalance timeout).
    public func send<Request: KafkaRequestMessage>(_ request: Request, version: Int16? = nil,
                                                   timeout: TimeAmount? = nil) async throws -> Request.Response {
        let chosen = try self.version(for: Request.apiKey, requested: version)
        var configuration = self.configuration
        if let timeout { configuration.requestTimeout = timeout }
        let frame = try await Self.roundTrip(request, version: chosen, channel: channel, address: address,
                                             configuration: configuration)
        var body = frame
        do {
            return try Request.Response(from: &body, version: chosen)
        } catch {
            throw KafkaClientError.protocolError("cannot decode \(Request.apiKey.name) v\(chosen) response from \(address): \(error)")
        }
    }

    /// Sends `request` without waiting for a response (Produce with acks=0).
    public func sendWithoutResponse<Request: KafkaRequestMessage>(_ request: Request, version: Int16? = nil,
                                                                  estimatedSize: Int = 256) async throws {
        let chosen = try self.version(for: Request.apiKey, requested: version)
        let frame = try Self.encodeFrame(request, version: chosen, clientId: configuration.clientId,
                                         allocator: channel.allocator, estimatedSize: estimatedSize)
        do {
            try await channel.writeAndFlush(OutboundRequest(frame: frame, promise: nil,
                                                            timeout: configuration.requestTimeout)).get()
        } catch {
            throw KafkaClientError.connectionClosed(address: address.description)
        }
    }

    /// The version to use for `api`: the requested one if given, else the negotiated one.
    public func version(for api: ApiKey, requested: Int16? = nil) throws -> Int16 {
        if let requested { return requested }
        guard let negotiated = apiVersions.negotiatedVersion(for: api) else {
            throw KafkaClientError.unsupportedApi(address: address.description, api: api.name)
        }
        return negotiated
    }

    /// True while the TCP connection is open.
    public var isActive: Bool { channel.isActive }

    /// Closes the connection; in-flight requests fail with `connectionClosed`.
    public func close() async {
        try? await channel.close()
    }

    // MARK: Framing

    static func roundTrip<Request: KafkaRequestMessage>(_ request: Request, version: Int16, channel: any Channel,
                                                        address: BrokerAddress,
                                                        configuration: ConnectionConfiguration)
        async throws -> ByteBuffer {
        let future = try startRoundTrip(request, version: version, channel: channel, configuration: configuration)
        return try await awaitResponse(future, api: Request.apiKey, version: version, address: address,
                                       configuration: configuration)
    }

    /// Encodes and writes `request` on the channel's event loop, in the order requests are started (so
    /// requests started in order leave in order), and returns the future response frame.
    static func startRoundTrip<Request: KafkaRequestMessage>(_ request: Request, version: Int16, channel: any Channel,
                                                             configuration: ConnectionConfiguration,
                                                             estimatedSize: Int = 256) throws
        -> EventLoopFuture<ByteBuffer> {
        startRoundTrip(building: { request }, version: version, channel: channel, configuration: configuration,
                       estimatedSize: estimatedSize)
    }

    /// Like `startRoundTrip(_:...)`, with the request made by `make` on the event loop (the producer
    /// builds its record batches there). A `make` that throws fails the returned future.
    static func startRoundTrip<Request: KafkaRequestMessage>(building make: @escaping @Sendable () throws -> Request,
                                                             version: Int16, channel: any Channel,
                                                             configuration: ConnectionConfiguration,
                                                             estimatedSize: Int) -> EventLoopFuture<ByteBuffer> {
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        let clientId = configuration.clientId
        let timeout = configuration.requestTimeout
        // Encoded on the event loop: a large request (Produce) is copied into its frame there rather than
        // on the caller's thread, and requests still leave in the order they were started (event loop
        // tasks run in submission order).
        channel.eventLoop.execute {
            do {
                let request = try make()
                let outbound: OutboundRequest
                if let produce = request as? ProduceRequest {
                    // Record batches go out as they are, between small buffers with the other fields.
                    var segments = try ProduceFrameSegments.encode(produce, version: version, clientId: clientId,
                                                                   allocator: channel.allocator)
                    let head = segments.removeFirst()
                    outbound = OutboundRequest(frame: head, tail: segments, promise: promise, timeout: timeout)
                } else {
                    let frame = try encodeFrame(request, version: version, clientId: clientId,
                                                allocator: channel.allocator, estimatedSize: estimatedSize)
                    outbound = OutboundRequest(frame: frame, promise: promise, timeout: timeout)
                }
                // On a channel that has closed meanwhile the write never reaches the router (the pipeline is
                // gone), which would neither answer nor time the request out: its failure fails the request.
                // (A promise completed twice keeps its first result.)
                let written = channel.eventLoop.makePromise(of: Void.self)
                written.futureResult.whenFailure { _ in promise.fail(RequestRouter.Closed()) }
                channel.writeAndFlush(outbound, promise: written)
            } catch {
                promise.fail(error)
            }
        }
        return promise.futureResult
    }

    /// Waits for a response frame and strips its header.
    static func awaitResponse(_ future: EventLoopFuture<ByteBuffer>, api: ApiKey, version: Int16,
                              address: BrokerAddress, configuration: ConnectionConfiguration) async throws -> ByteBuffer {
        var response: ByteBuffer
        do {
            response = try await future.get()
        } catch is RequestRouter.TimedOut {
            throw KafkaClientError.requestTimedOut(address: address.description, api: api.name,
                                                   timeoutMilliseconds: configuration.requestTimeout.nanoseconds / 1_000_000)
        } catch is RequestRouter.Closed {
            throw KafkaClientError.connectionClosed(address: address.description)
        } catch let error as KafkaClientError {
            throw error  // the request could not be encoded
        } catch {
            throw KafkaClientError.connectionFailed(address: address.description, reason: describe(error))
        }
        // Response header: correlation id, then (v1, flexible APIs except ApiVersions) tagged fields.
        response.moveReaderIndex(forwardBy: 4)
        if api != .apiVersions && api.isFlexible(version: version) {
            guard response.skipTaggedFields() else {
                throw KafkaClientError.protocolError("truncated response header from \(address)")
            }
        }
        return response
    }

    /// Writes `request` immediately, in the negotiated version; the returned handle awaits its response.
    /// Callers that must keep requests in order (the producer) call this from one isolation domain.
    /// `estimatedSize` sizes the frame buffer up front (Produce: the batches' bytes), so encoding it does
    /// not regrow and copy the buffer.
    /// Like `start(_:version:estimatedSize:)`, but the request is made by `make` on the event loop just
    /// before it is encoded; errors `make` throws are thrown by `PendingResponse.get()`.
    public func start<Request: KafkaRequestMessage>(version: Int16, estimatedSize: Int = 256,
                                                    building make: @escaping @Sendable () throws -> Request)
        -> PendingResponse<Request> {
        let future = Self.startRoundTrip(building: make, version: version, channel: channel,
                                         configuration: configuration, estimatedSize: estimatedSize)
        return PendingResponse(future: future, version: version, connection: self)
    }

    public func start<Request: KafkaRequestMessage>(_ request: Request, version requested: Int16? = nil,
                                                    estimatedSize: Int = 256) throws -> PendingResponse<Request> {
        let version = try self.version(for: Request.apiKey, requested: requested)
        let future = try Self.startRoundTrip(request, version: version, channel: channel, configuration: configuration,
                                             estimatedSize: estimatedSize)
        return PendingResponse(future: future, version: version, connection: self)
    }

    static func encodeFrame<Request: KafkaRequestMessage>(_ request: Request, version: Int16, clientId: String?,
                                                          allocator: ByteBufferAllocator,
                                                          estimatedSize: Int = 256) throws -> ByteBuffer {
        var buffer = allocator.buffer(capacity: Swift.max(256, estimatedSize))
        buffer.writeInteger(Int32(0))
        buffer.writeInteger(Request.apiKey.rawValue)
        buffer.writeInteger(version)
        buffer.writeInteger(Int32(0))  // correlation id, set by the RequestRouter
        if let clientId {
            buffer.writeInteger(Int16(clientId.utf8.count))
            buffer.writeString(clientId)
        } else {
            buffer.writeInteger(Int16(-1))
        }
        if Request.apiKey.isFlexible(version: version) {
            buffer.writeInteger(UInt8(0))  // request header v2: no tagged fields
        }
        do {
            try request.encode(to: &buffer, version: version)
        } catch {
            throw KafkaClientError.encodingFailed("\(Request.apiKey.name) v\(version): \(error)")
        }
        buffer.setInteger(Int32(buffer.readableBytes - 4), at: buffer.readerIndex)
        return buffer
    }

    static func describe(_ error: any Error) -> String {
        if let connection = error as? NIOConnectionError, let first = connection.connectionErrors.first {
            return describe(first.error)
        }
        if let io = error as? IOError {
            return String(cString: strerror(io.errnoCode))
        }
        if error is ChannelError { return "\(error)" }
        return "\(error)"
    }
}

extension ByteBuffer {
    /// Skips a tagged-field section (count, then tag/size/bytes each). False when truncated.
    mutating func skipTaggedFields() -> Bool {
        guard let count = readUnsignedVarint() else { return false }
        for _ in 0..<count {
            guard readUnsignedVarint() != nil, let size = readUnsignedVarint(),
                  size <= UInt64(readableBytes) else { return false }
            moveReaderIndex(forwardBy: Int(size))
        }
        return true
    }

    mutating func readUnsignedVarint() -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while shift < 64 {
            guard let byte = readInteger(as: UInt8.self) else { return nil }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        return nil
    }
}

/// A request already written to a connection, whose response can be awaited.
public struct PendingResponse<Request: KafkaRequestMessage>: Sendable {
    let future: EventLoopFuture<ByteBuffer>
    let version: Int16
    let connection: BrokerConnection

    /// Waits for and decodes the response.
    public func get() async throws -> Request.Response {
        var body = try await BrokerConnection.awaitResponse(future, api: Request.apiKey, version: version,
                                                            address: connection.address,
                                                            configuration: connection.configuration)
        do {
            return try Request.Response(from: &body, version: version)
        } catch {
            throw KafkaClientError.protocolError(
                "cannot decode \(Request.apiKey.name) v\(version) response from \(connection.address): \(error)")
        }
    }
}
