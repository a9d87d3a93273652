// How a broken etcd exchange is classified: only a request that never reached the connection may be
// sent again when it is a write; one that did may have been applied.
import NIOCore
import Testing
@testable import RunnelEtcd

struct HTTPExchangeFailureTests {
    @Test("a connection closed before the request was written is 'not sent'; after, 'connection lost'")
    func closedBeforeOrAfterTheRequest() {
        let closed = ChannelError.ioOnClosedChannel
        guard case .notSent(let reason) = HTTPExchange.failure(closed, timedOut: false, sent: false) else {
            Issue.record("a request that never reached the connection must be safe to send again")
            return
        }
        #expect(reason.contains("I/O on closed channel"))
        guard case .connectionLost = HTTPExchange.failure(closed, timedOut: false, sent: true) else {
            Issue.record("a request that reached the connection may have been applied")
            return
        }
        // The deadline closes the connection itself: that is a timeout, whatever was sent.
        guard case .timedOut = HTTPExchange.failure(closed, timedOut: true, sent: false) else {
            Issue.record("a closed connection after the deadline is a timeout")
            return
        }
    }
}
