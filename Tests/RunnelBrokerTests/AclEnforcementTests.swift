// The authorization checks the interop matrix cannot reach with a client (inter-broker requests, a
// transactional offset commit refused before its group is asked), and Kafka's authorized-operations
// bitfield, on an offline broker whose authorizer has no ACL: every request from User:ANONYMOUS is denied.
import KafkaProtocol
import Logging
import NIOCore
import Testing
@testable import RunnelBroker

@Suite struct AclEnforcementTests {
    final class Harness: OfflineBroker {
        init(authorizer: Bool = true) throws {
            try super.init(prefix: "runnel-acl-")
            if authorizer {
                broker.core.access.install(AclAuthorizer(enabled: true, superUsers: [], allowEveryoneIfNoAclFound: false,
                                                         logger: Logger(label: "test")))
            }
        }
    }

    @Test("WriteTxnMarkers without ClusterAction (or Alter): CLUSTER_AUTHORIZATION_FAILED on every partition")
    func writeTxnMarkersNeedClusterAction() throws {
        let harness = try Harness()
        var marker = WriteTxnMarkersRequest.WritableTxnMarker()
        marker.producerId = 7
        var topic = WriteTxnMarkersRequest.WritableTxnMarkerTopic()
        topic.name = "orders"
        topic.partitionIndexes = [0, 1]
        marker.topics = [topic]
        var request = WriteTxnMarkersRequest()
        request.markers = [marker]
        guard case .now(let response) = harness.broker.core.authorizedWriteTxnMarkers(request, harness.request(27, version: 1)) else {
            Issue.record("a denied request is answered at once")
            return
        }
        #expect(response.markers.map(\.producerId) == [7])
        #expect(response.markers.first?.topics.first?.partitions.map(\.errorCode)
                == [ErrorCode.clusterAuthorizationFailed.rawValue, ErrorCode.clusterAuthorizationFailed.rawValue])
    }

    @Test("AddPartitionsToTxn: v4+ (brokers) needs ClusterAction; v3 (clients) Write on the transactional id")
    func addPartitionsToTxn() async throws {
        let harness = try Harness()
        let core = harness.broker.core
        var topic = AddPartitionsToTxnRequest.AddPartitionsToTxnTopic()
        topic.name = "orders"
        topic.partitions = [0, 2]
        var v3 = AddPartitionsToTxnRequest()
        v3.v3AndBelowTransactionalId = "txn"
        v3.v3AndBelowTopics = [topic]
        let old = await core.authorizedAddPartitionsToTxn(core.transactionRequests, v3, harness.request(24, version: 3))
        #expect(old.resultsByTopicV3AndBelow.map(\.name) == ["orders"])
        #expect(old.resultsByTopicV3AndBelow.first?.resultsByPartition.map(\.partitionErrorCode)
                == [ErrorCode.transactionalIdAuthorizationFailed.rawValue, ErrorCode.transactionalIdAuthorizationFailed.rawValue])
        var v4 = AddPartitionsToTxnRequest()
        var transaction = AddPartitionsToTxnRequest.AddPartitionsToTxnTransaction()
        transaction.transactionalId = "txn"
        transaction.topics = [topic]
        v4.transactions = [transaction]
        let new = await core.authorizedAddPartitionsToTxn(core.transactionRequests, v4, harness.request(24, version: 4))
        #expect(new.errorCode == ErrorCode.clusterAuthorizationFailed.rawValue)
        #expect(new.resultsByTransaction.isEmpty)
    }

    @Test("TxnOffsetCommit is refused on its transactional id before the group or topics are looked at")
    func txnOffsetCommit() async throws {
        let harness = try Harness()
        let core = harness.broker.core
        var partition = TxnOffsetCommitRequest.TxnOffsetCommitRequestPartition()
        partition.partitionIndex = 3
        var topic = TxnOffsetCommitRequest.TxnOffsetCommitRequestTopic()
        topic.name = "orders"
        topic.partitions = [partition]
        var request = TxnOffsetCommitRequest()
        request.transactionalId = "txn"
        request.groupId = "billing"
        request.topics = [topic]
        let response = await core.authorizedTxnOffsetCommit(core.groupRequests, request, harness.request(28, version: 3))
        #expect(response.topics.map(\.name) == ["orders"])
        #expect(response.topics.first?.partitions.map(\.partitionIndex) == [3])
        #expect(response.topics.first?.partitions.map(\.errorCode) == [ErrorCode.transactionalIdAuthorizationFailed.rawValue])
    }

    @Test("authorized_operations: one bit per reported operation allowed; all of them without an authorizer")
    func authorizedOperationsBitfield() throws {
        let denied = try Harness()
        #expect(denied.broker.core.authorizedOperations(.topic, "orders", denied.request(3, version: 12)) == 0)
        let open = try Harness(authorizer: false)
        let topicBits: Int32 = [3, 4, 5, 6, 7, 8, 10, 11].reduce(0) { $0 | (1 << $1) }
        #expect(open.broker.core.authorizedOperations(.topic, "orders", open.request(3, version: 12)) == topicBits)
        let groupBits: Int32 = [3, 6, 8, 10, 11].reduce(0) { $0 | (1 << $1) }
        #expect(open.broker.core.authorizedOperations(.group, "billing", open.request(15, version: 5)) == groupBits)
    }

    @Test("re-authentication keeps the mechanism and the principal; the session's end is known")
    func reauthenticationRules() throws {
        let security = ListenerSecurity(securityProtocol: .saslPlaintext, tls: nil,
                                        principalMapper: SslPrincipalMapper.defaultMapper, sasl: nil)
        let users = ["alice": "a", "bob": "b"]
        let session = ConnectionSession(security: security)
        #expect(session.beginSasl(SaslServer(plain: users), rawTokens: false))
        let first = session.evaluate(Array("\0alice\0a".utf8), sessionLifetimeMs: 60_000)
        #expect(first?.step == .complete(user: "alice", response: []))
        #expect(!session.sessionExpired())
        #expect(session.sessionExpired(now: NIODeadline.now() + TimeAmount.seconds(61)))
        #expect(session.beginSasl(SaslServer(plain: users), rawTokens: false))  // re-authentication
        let other = session.evaluate(Array("\0bob\0b".utf8), sessionLifetimeMs: 60_000)
        guard case .failed(let reason, _)? = other?.step else {
            Issue.record("a principal change must fail: \(String(describing: other))")
            return
        }
        #expect(reason == "re-authentication as another principal")
        #expect(session.principal.name == "alice" && session.closeAfterResponse)
        // Without a lifetime a second handshake is refused (ILLEGAL_SASL_STATE).
        let unlimited = ConnectionSession(security: security)
        #expect(unlimited.beginSasl(SaslServer(plain: users), rawTokens: false))
        _ = unlimited.evaluate(Array("\0alice\0a".utf8))
        #expect(!unlimited.beginSasl(SaslServer(plain: users), rawTokens: false))
    }
}
