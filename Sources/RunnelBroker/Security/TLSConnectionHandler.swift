// TLSConnectionHandler: what a TLS listener adds to a connection's pipeline behind NIOSSL — the
// client certificate's principal, TLS failures in the log, and file regions read into buffers.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOCore
import NIOSSL
import NIOTLS
import CLibCrypto

extension KafkaServer {
    /// Adds TLS in front of the request pipeline when the session's listener uses it.
    static func addSecurityHandlers(_ pipeline: ChannelPipeline.SynchronousOperations, session: ConnectionSession,
                                    logger: Logger, listenerName: String = "") throws {
        guard let tls = session.security.tls else { return }
        try pipeline.addHandler(NIOSSLServerHandler(context: tls.context))
        try pipeline.addHandler(TLSConnectionHandler(session: session, logger: logger, listenerName: listenerName))
    }
}

/// Sits right behind `NIOSSLServerHandler`.
///
/// - When the handshake completes, the client certificate's subject (RFC 2253 form) is mapped by
///   `ssl.principal.mapping.rules` to the connection's principal (`User:ANONYMOUS` without a certificate);
///   a subject no rule matches closes the connection, as Kafka fails its authentication.
/// - TLS cannot use `sendfile`: a Fetch response's file regions are read here into buffers (`pread`
///   on the event loop from the page cache, as Kafka's SSL transport reads `FileRecords` on its
///   network thread) and then encrypted by NIOSSL.
final class TLSConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private let session: ConnectionSession
    private var logger: Logger
    private let listenerName: String

    init(session: ConnectionSession, logger: Logger, listenerName: String = "") {
        self.session = session
        self.logger = logger
        self.listenerName = listenerName
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if let client = context.channel.remoteAddress { logger[metadataKey: "client"] = "\(client)" }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted(let negotiated) = event {
            handshakeCompleted(context: context, alpn: negotiated)
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func handshakeCompleted(context: ChannelHandlerContext, alpn: String?) {
        let certificate: NIOSSLCertificate?
        do {
            certificate = try context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self).peerCertificate
        } catch {
            certificate = nil
        }
        guard let certificate else { return }  // no client certificate: User:ANONYMOUS
        let subject: String
        do {
            subject = try Self.subject(derEncoded: certificate.toDERBytes())
        } catch {
            logger.warning("closing connection: unreadable client certificate", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        guard let name = session.security.principalMapper.name(for: subject) else {
            SecurityAuditMetrics.authenticationFailed(mechanism: "SSL", listener: listenerName)
            logger.warning("authentication failed: no ssl.principal.mapping.rules rule matches the client certificate",
                           metadata: ["subject": "\(subject)"])
            context.close(promise: nil)
            return
        }
        session.setCertificatePrincipal(KafkaPrincipal(name: name))
        SecurityAuditMetrics.authenticated(mechanism: "SSL", listener: listenerName)
        logger.debug("TLS client authenticated", metadata: ["subject": "\(subject)", "principal": "User:\(name)"])
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOSSLError || error is BoringSSLError {
            logger.warning("closing connection: TLS failed", metadata: ["error": "\(error)"])
        }
        context.fireErrorCaught(error)
    }

    /// How much of a file region is read and handed to NIOSSL at a time. NIOSSL encrypts everything written
    /// before a flush and only then writes the ciphertext to the socket, so a region written whole (up to a
    /// partition's fetch size, megabytes) reaches the client only once all of it is encrypted: the client's
    /// decryption waits for the broker's encryption, and a consumer's fetches alternate between the two
    /// cores instead of using both. Flushing each chunk lets the client decrypt the first records while the
    /// broker encrypts the next (docs/benchmarks.md, "TLS consume pipelined, the console paced").
    static let regionChunkBytes = 64 * 1024

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .fileRegion(let region) = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        var offset = region.readerIndex
        var remaining = region.readableBytes
        do {
            repeat {
                let length = min(remaining, Self.regionChunkBytes)
                let buffer = try Self.read(region.fileHandle, offset: offset, length: length,
                                           allocator: context.channel.allocator)
                offset += length
                remaining -= length
                if remaining == 0 {
                    context.write(wrapOutboundOut(.byteBuffer(buffer)), promise: promise)
                } else {
                    // Earlier chunks go out now (with whatever the response wrote before them); the caller's
                    // own flush after the last write sends the rest.
                    context.write(wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
                    context.flush()
                }
            } while remaining > 0
        } catch {
            logger.error("closing connection: cannot read a fetch response's file region", metadata: ["error": "\(error)"])
            promise?.fail(error)
            context.close(promise: nil)
        }
    }

    /// Why a file region could not be read.
    struct RegionReadError: Error, CustomStringConvertible {
        var errno: Int32
        var offset: Int
        var description: String {
            errno == 0 ? "the segment file ends at offset \(offset), inside the region being read"
                : "pread at offset \(offset) failed (errno \(errno))"
        }
    }

    /// `length` bytes of the open file `handle` from `offset`.
    static func read(_ handle: NIOFileHandle, offset: Int, length: Int, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        var buffer = allocator.buffer(capacity: length)
        var offset = offset
        var remaining = length
        try handle.withUnsafeFileDescriptor { fd in
            while remaining > 0 {
                var failure: Int32 = 0
                let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: remaining) { pointer in
                    let n = pread(fd, pointer.baseAddress, remaining, off_t(offset))
                    if n < 0 { failure = errno }
                    return max(n, 0)
                }
                if read == 0 {
                    if failure == EINTR { continue }
                    throw RegionReadError(errno: failure, offset: offset)  // errno 0: the file is shorter than the region
                }
                offset += read
                remaining -= read
            }
        }
        return buffer
    }
}

/// A client certificate libcrypto could not read.
struct UnreadableCertificateError: Error, CustomStringConvertible {
    var description: String { "the client certificate is not a DER X.509 certificate libcrypto can parse" }
}

extension TLSConnectionHandler {
    /// The subject of a DER certificate in RFC 2253 form ("CN=alice,OU=eng,O=Runnel": the most significant
    /// RDN last, as Kafka's principal builder prints it through Java's X500Principal).
    static func subject(derEncoded der: [UInt8]) throws -> String {
        var capacity = 1024
        while capacity <= 1 << 20 {
            var out = [CChar](repeating: 0, count: capacity)
            let n = der.withUnsafeBufferPointer { d in
                runnel_certificate_subject_rfc2253(d.baseAddress, d.count, &out, capacity)
            }
            if n >= 0 {
                return String(decoding: out.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            if n == -1 { throw UnreadableCertificateError() }
            capacity *= 8
        }
        throw UnreadableCertificateError()
    }
}
