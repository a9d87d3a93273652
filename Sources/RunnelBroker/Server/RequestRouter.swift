// RequestRouter: the seam between the network layer (this folder) and request handlers.
import NIOCore

/// Turns one request frame into a response. Implemented by the broker's handlers.
///
/// - The future may complete on any event loop; the server hops back to the connection's loop.
/// - Responses leave in request order per connection, whatever order futures complete in.
/// - A failed future closes the connection (as Kafka does for requests it cannot process);
///   errors a client should see must instead be encoded as Kafka error codes in the response.
public protocol RequestRouter: Sendable {
    /// Handles `request` and produces the response to write (or `.none` for none at all).
    func route(_ request: KafkaRequestFrame, context: RequestContext) -> EventLoopFuture<ResponsePayload>
}
