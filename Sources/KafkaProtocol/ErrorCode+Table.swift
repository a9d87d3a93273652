// The Kafka error code table: one static constant and one row (name, retriable, message) per code.
// Written from Kafka 4.x `Errors`; codes outside the table are still representable as raw values.

extension ErrorCode {
    /// UNKNOWN_SERVER_ERROR (-1): The server hit an unexpected error while handling the request.
    public static let unknownServerError = ErrorCode(rawValue: -1)
    /// NONE (0): No error.
    public static let none = ErrorCode(rawValue: 0)
    /// OFFSET_OUT_OF_RANGE (1): The requested offset is outside the range the server holds for this partition.
    public static let offsetOutOfRange = ErrorCode(rawValue: 1)
    /// CORRUPT_MESSAGE (2): The message failed its CRC, exceeded a size limit, or is otherwise malformed.
    public static let corruptMessage = ErrorCode(rawValue: 2)
    /// UNKNOWN_TOPIC_OR_PARTITION (3): This server does not host the topic-partition.
    public static let unknownTopicOrPartition = ErrorCode(rawValue: 3)
    /// INVALID_FETCH_SIZE (4): The requested fetch size is invalid.
    public static let invalidFetchSize = ErrorCode(rawValue: 4)
    /// LEADER_NOT_AVAILABLE (5): The partition has no leader right now, for example during an election.
    public static let leaderNotAvailable = ErrorCode(rawValue: 5)
    /// NOT_LEADER_OR_FOLLOWER (6): This server is neither the leader nor a follower of the partition.
    public static let notLeaderOrFollower = ErrorCode(rawValue: 6)
    /// REQUEST_TIMED_OUT (7): The request timed out.
    public static let requestTimedOut = ErrorCode(rawValue: 7)
    /// BROKER_NOT_AVAILABLE (8): The broker is not available.
    public static let brokerNotAvailable = ErrorCode(rawValue: 8)
    /// REPLICA_NOT_AVAILABLE (9): The replica is not available for the requested topic-partition.
    public static let replicaNotAvailable = ErrorCode(rawValue: 9)
    /// MESSAGE_TOO_LARGE (10): The request contains a message larger than the server accepts.
    public static let messageTooLarge = ErrorCode(rawValue: 10)
    /// STALE_CONTROLLER_EPOCH (11): The request came from a controller with an outdated epoch.
    public static let staleControllerEpoch = ErrorCode(rawValue: 11)
    /// OFFSET_METADATA_TOO_LARGE (12): The metadata attached to the committed offset is too large.
    public static let offsetMetadataTooLarge = ErrorCode(rawValue: 12)
    /// NETWORK_EXCEPTION (13): The server disconnected before a response was received.
    public static let networkException = ErrorCode(rawValue: 13)
    /// COORDINATOR_LOAD_IN_PROGRESS (14): The coordinator is still loading its state.
    public static let coordinatorLoadInProgress = ErrorCode(rawValue: 14)
    /// COORDINATOR_NOT_AVAILABLE (15): The coordinator is not available.
    public static let coordinatorNotAvailable = ErrorCode(rawValue: 15)
    /// NOT_COORDINATOR (16): This server is not the coordinator for the group or transactional id.
    public static let notCoordinator = ErrorCode(rawValue: 16)
    /// INVALID_TOPIC_EXCEPTION (17): The operation targets an invalid topic name.
    public static let invalidTopicException = ErrorCode(rawValue: 17)
    /// RECORD_LIST_TOO_LARGE (18): The produced batch exceeds the segment size limit.
    public static let recordListTooLarge = ErrorCode(rawValue: 18)
    /// NOT_ENOUGH_REPLICAS (19): Fewer in-sync replicas than required; the records were rejected.
    public static let notEnoughReplicas = ErrorCode(rawValue: 19)
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND (20): The records were written but fewer in-sync replicas than required acknowledged them.
    public static let notEnoughReplicasAfterAppend = ErrorCode(rawValue: 20)
    /// INVALID_REQUIRED_ACKS (21): The requested acks value is invalid (must be -1, 0 or 1).
    public static let invalidRequiredAcks = ErrorCode(rawValue: 21)
    /// ILLEGAL_GENERATION (22): The generation id is not the group's current generation.
    public static let illegalGeneration = ErrorCode(rawValue: 22)
    /// INCONSISTENT_GROUP_PROTOCOL (23): The member's protocol type or protocols do not match the group's.
    public static let inconsistentGroupProtocol = ErrorCode(rawValue: 23)
    /// INVALID_GROUP_ID (24): The group id is invalid.
    public static let invalidGroupId = ErrorCode(rawValue: 24)
    /// UNKNOWN_MEMBER_ID (25): The coordinator does not know this member id.
    public static let unknownMemberId = ErrorCode(rawValue: 25)
    /// INVALID_SESSION_TIMEOUT (26): The session timeout is outside the broker's allowed range.
    public static let invalidSessionTimeout = ErrorCode(rawValue: 26)
    /// REBALANCE_IN_PROGRESS (27): The group is rebalancing; the member must rejoin.
    public static let rebalanceInProgress = ErrorCode(rawValue: 27)
    /// INVALID_COMMIT_OFFSET_SIZE (28): The committed offset's metadata is too large.
    public static let invalidCommitOffsetSize = ErrorCode(rawValue: 28)
    /// TOPIC_AUTHORIZATION_FAILED (29): Not authorized to access the topics.
    public static let topicAuthorizationFailed = ErrorCode(rawValue: 29)
    /// GROUP_AUTHORIZATION_FAILED (30): Not authorized to access the group.
    public static let groupAuthorizationFailed = ErrorCode(rawValue: 30)
    /// CLUSTER_AUTHORIZATION_FAILED (31): Not authorized for this cluster operation.
    public static let clusterAuthorizationFailed = ErrorCode(rawValue: 31)
    /// INVALID_TIMESTAMP (32): A record timestamp is outside the accepted range.
    public static let invalidTimestamp = ErrorCode(rawValue: 32)
    /// UNSUPPORTED_SASL_MECHANISM (33): The broker does not support the requested SASL mechanism.
    public static let unsupportedSaslMechanism = ErrorCode(rawValue: 33)
    /// ILLEGAL_SASL_STATE (34): The request is not valid in the current SASL state.
    public static let illegalSaslState = ErrorCode(rawValue: 34)
    /// UNSUPPORTED_VERSION (35): The broker does not support this version of the API.
    public static let unsupportedVersion = ErrorCode(rawValue: 35)
    /// TOPIC_ALREADY_EXISTS (36): The topic already exists.
    public static let topicAlreadyExists = ErrorCode(rawValue: 36)
    /// INVALID_PARTITIONS (37): The number of partitions is invalid.
    public static let invalidPartitions = ErrorCode(rawValue: 37)
    /// INVALID_REPLICATION_FACTOR (38): The replication factor is invalid.
    public static let invalidReplicationFactor = ErrorCode(rawValue: 38)
    /// INVALID_REPLICA_ASSIGNMENT (39): The replica assignment is invalid.
    public static let invalidReplicaAssignment = ErrorCode(rawValue: 39)
    /// INVALID_CONFIG (40): The configuration is invalid.
    public static let invalidConfig = ErrorCode(rawValue: 40)
    /// NOT_CONTROLLER (41): This is not the correct controller for this cluster.
    public static let notController = ErrorCode(rawValue: 41)
    /// INVALID_REQUEST (42): The request is malformed or violates the protocol; the broker log has details.
    public static let invalidRequest = ErrorCode(rawValue: 42)
    /// UNSUPPORTED_FOR_MESSAGE_FORMAT (43): The message format version on the broker does not support the request.
    public static let unsupportedForMessageFormat = ErrorCode(rawValue: 43)
    /// POLICY_VIOLATION (44): The request parameters violate the configured policy.
    public static let policyViolation = ErrorCode(rawValue: 44)
    /// OUT_OF_ORDER_SEQUENCE_NUMBER (45): The broker received an out of order sequence number.
    public static let outOfOrderSequenceNumber = ErrorCode(rawValue: 45)
    /// DUPLICATE_SEQUENCE_NUMBER (46): The broker received a duplicate sequence number.
    public static let duplicateSequenceNumber = ErrorCode(rawValue: 46)
    /// INVALID_PRODUCER_EPOCH (47): The producer's epoch is older than the current one (it has been fenced).
    public static let invalidProducerEpoch = ErrorCode(rawValue: 47)
    /// INVALID_TXN_STATE (48): The producer attempted a transactional operation in an invalid state.
    public static let invalidTxnState = ErrorCode(rawValue: 48)
    /// INVALID_PRODUCER_ID_MAPPING (49): The producer id is not the one mapped to this transactional id.
    public static let invalidProducerIdMapping = ErrorCode(rawValue: 49)
    /// INVALID_TRANSACTION_TIMEOUT (50): The transaction timeout exceeds transaction.max.timeout.ms.
    public static let invalidTransactionTimeout = ErrorCode(rawValue: 50)
    /// CONCURRENT_TRANSACTIONS (51): Another transaction for this producer is still being completed.
    public static let concurrentTransactions = ErrorCode(rawValue: 51)
    /// TRANSACTION_COORDINATOR_FENCED (52): A newer transaction coordinator has taken over.
    public static let transactionCoordinatorFenced = ErrorCode(rawValue: 52)
    /// TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53): Not authorized to use this transactional id.
    public static let transactionalIdAuthorizationFailed = ErrorCode(rawValue: 53)
    /// SECURITY_DISABLED (54): Security features are disabled.
    public static let securityDisabled = ErrorCode(rawValue: 54)
    /// OPERATION_NOT_ATTEMPTED (55): The broker did not attempt this operation because another part of the batch failed.
    public static let operationNotAttempted = ErrorCode(rawValue: 55)
    /// KAFKA_STORAGE_ERROR (56): A disk error occurred while reading or writing the log.
    public static let kafkaStorageError = ErrorCode(rawValue: 56)
    /// LOG_DIR_NOT_FOUND (57): The log directory is not configured on the broker.
    public static let logDirNotFound = ErrorCode(rawValue: 57)
    /// SASL_AUTHENTICATION_FAILED (58): SASL authentication failed.
    public static let saslAuthenticationFailed = ErrorCode(rawValue: 58)
    /// UNKNOWN_PRODUCER_ID (59): The broker has no state for this producer id.
    public static let unknownProducerId = ErrorCode(rawValue: 59)
    /// REASSIGNMENT_IN_PROGRESS (60): A partition reassignment is in progress.
    public static let reassignmentInProgress = ErrorCode(rawValue: 60)
    /// DELEGATION_TOKEN_AUTH_DISABLED (61): Delegation token authentication is disabled.
    public static let delegationTokenAuthDisabled = ErrorCode(rawValue: 61)
    /// DELEGATION_TOKEN_NOT_FOUND (62): The delegation token was not found.
    public static let delegationTokenNotFound = ErrorCode(rawValue: 62)
    /// DELEGATION_TOKEN_OWNER_MISMATCH (63): The principal does not own the delegation token.
    public static let delegationTokenOwnerMismatch = ErrorCode(rawValue: 63)
    /// DELEGATION_TOKEN_REQUEST_NOT_ALLOWED (64): Delegation token requests are not allowed on this connection.
    public static let delegationTokenRequestNotAllowed = ErrorCode(rawValue: 64)
    /// DELEGATION_TOKEN_AUTHORIZATION_FAILED (65): Not authorized for the delegation token operation.
    public static let delegationTokenAuthorizationFailed = ErrorCode(rawValue: 65)
    /// DELEGATION_TOKEN_EXPIRED (66): The delegation token has expired.
    public static let delegationTokenExpired = ErrorCode(rawValue: 66)
    /// INVALID_PRINCIPAL_TYPE (67): The principal type is not supported.
    public static let invalidPrincipalType = ErrorCode(rawValue: 67)
    /// NON_EMPTY_GROUP (68): The group is not empty.
    public static let nonEmptyGroup = ErrorCode(rawValue: 68)
    /// GROUP_ID_NOT_FOUND (69): The group id does not exist.
    public static let groupIdNotFound = ErrorCode(rawValue: 69)
    /// FETCH_SESSION_ID_NOT_FOUND (70): The fetch session id was not found.
    public static let fetchSessionIdNotFound = ErrorCode(rawValue: 70)
    /// INVALID_FETCH_SESSION_EPOCH (71): The fetch session epoch is invalid.
    public static let invalidFetchSessionEpoch = ErrorCode(rawValue: 71)
    /// LISTENER_NOT_FOUND (72): The leader has no endpoint for the listener the request came in on.
    public static let listenerNotFound = ErrorCode(rawValue: 72)
    /// TOPIC_DELETION_DISABLED (73): Topic deletion is disabled.
    public static let topicDeletionDisabled = ErrorCode(rawValue: 73)
    /// FENCED_LEADER_EPOCH (74): The leader epoch in the request is older than the broker's.
    public static let fencedLeaderEpoch = ErrorCode(rawValue: 74)
    /// UNKNOWN_LEADER_EPOCH (75): The leader epoch in the request is newer than the broker's.
    public static let unknownLeaderEpoch = ErrorCode(rawValue: 75)
    /// UNSUPPORTED_COMPRESSION_TYPE (76): The consumer does not support the compression type of the requested records.
    public static let unsupportedCompressionType = ErrorCode(rawValue: 76)
    /// STALE_BROKER_EPOCH (77): The broker epoch has changed.
    public static let staleBrokerEpoch = ErrorCode(rawValue: 77)
    /// OFFSET_NOT_AVAILABLE (78): The leader's high watermark has not caught up after an election; retry.
    public static let offsetNotAvailable = ErrorCode(rawValue: 78)
    /// MEMBER_ID_REQUIRED (79): The group member must rejoin with the member id the coordinator returned.
    public static let memberIdRequired = ErrorCode(rawValue: 79)
    /// PREFERRED_LEADER_NOT_AVAILABLE (80): The preferred leader is not available.
    public static let preferredLeaderNotAvailable = ErrorCode(rawValue: 80)
    /// GROUP_MAX_SIZE_REACHED (81): The group has reached its maximum size.
    public static let groupMaxSizeReached = ErrorCode(rawValue: 81)
    /// FENCED_INSTANCE_ID (82): Another member with the same group.instance.id has fenced this one.
    public static let fencedInstanceId = ErrorCode(rawValue: 82)
    /// ELIGIBLE_LEADERS_NOT_AVAILABLE (83): No eligible leader is available for the partition.
    public static let eligibleLeadersNotAvailable = ErrorCode(rawValue: 83)
    /// ELECTION_NOT_NEEDED (84): The leader election is not needed for the partition.
    public static let electionNotNeeded = ErrorCode(rawValue: 84)
    /// NO_REASSIGNMENT_IN_PROGRESS (85): No partition reassignment is in progress.
    public static let noReassignmentInProgress = ErrorCode(rawValue: 85)
    /// GROUP_SUBSCRIBED_TO_TOPIC (86): Offsets cannot be deleted while the group is subscribed to the topic.
    public static let groupSubscribedToTopic = ErrorCode(rawValue: 86)
    /// INVALID_RECORD (87): The record failed broker-side validation and was rejected.
    public static let invalidRecord = ErrorCode(rawValue: 87)
    /// UNSTABLE_OFFSET_COMMIT (88): There are unstable offsets waiting for a transaction to complete.
    public static let unstableOffsetCommit = ErrorCode(rawValue: 88)
    /// THROTTLING_QUOTA_EXCEEDED (89): The throttling quota has been exceeded.
    public static let throttlingQuotaExceeded = ErrorCode(rawValue: 89)
    /// PRODUCER_FENCED (90): A newer producer with the same transactional id has fenced this one.
    public static let producerFenced = ErrorCode(rawValue: 90)
    /// RESOURCE_NOT_FOUND (91): The resource does not exist.
    public static let resourceNotFound = ErrorCode(rawValue: 91)
    /// DUPLICATE_RESOURCE (92): The resource is named more than once in the request.
    public static let duplicateResource = ErrorCode(rawValue: 92)
    /// UNACCEPTABLE_CREDENTIAL (93): The requested credential does not meet the criteria for acceptability.
    public static let unacceptableCredential = ErrorCode(rawValue: 93)
    /// INCONSISTENT_VOTER_SET (94): The voter set does not match the local one.
    public static let inconsistentVoterSet = ErrorCode(rawValue: 94)
    /// INVALID_UPDATE_VERSION (95): The update version is invalid.
    public static let invalidUpdateVersion = ErrorCode(rawValue: 95)
    /// FEATURE_UPDATE_FAILED (96): Updating the finalized features failed.
    public static let featureUpdateFailed = ErrorCode(rawValue: 96)
    /// PRINCIPAL_DESERIALIZATION_FAILURE (97): The principal in the request could not be deserialized.
    public static let principalDeserializationFailure = ErrorCode(rawValue: 97)
    /// SNAPSHOT_NOT_FOUND (98): The snapshot was not found.
    public static let snapshotNotFound = ErrorCode(rawValue: 98)
    /// POSITION_OUT_OF_RANGE (99): The requested position is outside the snapshot.
    public static let positionOutOfRange = ErrorCode(rawValue: 99)
    /// UNKNOWN_TOPIC_ID (100): This server does not host the topic id.
    public static let unknownTopicId = ErrorCode(rawValue: 100)
    /// DUPLICATE_BROKER_REGISTRATION (101): This broker id is already registered.
    public static let duplicateBrokerRegistration = ErrorCode(rawValue: 101)
    /// BROKER_ID_NOT_REGISTERED (102): The broker id is not registered.
    public static let brokerIdNotRegistered = ErrorCode(rawValue: 102)
    /// INCONSISTENT_TOPIC_ID (103): The topic id in the request does not match the one in the log.
    public static let inconsistentTopicId = ErrorCode(rawValue: 103)
    /// INCONSISTENT_CLUSTER_ID (104): The cluster id in the request does not match the one stored.
    public static let inconsistentClusterId = ErrorCode(rawValue: 104)
    /// TRANSACTIONAL_ID_NOT_FOUND (105): The transactional id was not found.
    public static let transactionalIdNotFound = ErrorCode(rawValue: 105)
    /// FETCH_SESSION_TOPIC_ID_ERROR (106): The fetch session had topic id errors.
    public static let fetchSessionTopicIdError = ErrorCode(rawValue: 106)
    /// INELIGIBLE_REPLICA (107): The new ISR contains at least one ineligible replica.
    public static let ineligibleReplica = ErrorCode(rawValue: 107)
    /// NEW_LEADER_ELECTED (108): The AlterPartition request came from a stale leader; a new leader was elected.
    public static let newLeaderElected = ErrorCode(rawValue: 108)
    /// OFFSET_MOVED_TO_TIERED_STORAGE (109): The requested offset has moved to tiered storage.
    public static let offsetMovedToTieredStorage = ErrorCode(rawValue: 109)
    /// FENCED_MEMBER_EPOCH (110): The member epoch is fenced; the member must rejoin with epoch 0.
    public static let fencedMemberEpoch = ErrorCode(rawValue: 110)
    /// UNRELEASED_INSTANCE_ID (111): The instance id is still used by another member.
    public static let unreleasedInstanceId = ErrorCode(rawValue: 111)
    /// UNSUPPORTED_ASSIGNOR (112): The assignor or its version range is not supported by the group.
    public static let unsupportedAssignor = ErrorCode(rawValue: 112)
    /// STALE_MEMBER_EPOCH (113): The member epoch is stale; retry with the current one.
    public static let staleMemberEpoch = ErrorCode(rawValue: 113)
    /// MISMATCHED_ENDPOINT_TYPE (114): The request was sent to an endpoint of the wrong type.
    public static let mismatchedEndpointType = ErrorCode(rawValue: 114)
    /// UNSUPPORTED_ENDPOINT_TYPE (115): This endpoint type does not support the request.
    public static let unsupportedEndpointType = ErrorCode(rawValue: 115)
    /// UNKNOWN_CONTROLLER_ID (116): The controller id is unknown.
    public static let unknownControllerId = ErrorCode(rawValue: 116)
    /// UNKNOWN_SUBSCRIPTION_ID (117): The client telemetry subscription id is unknown.
    public static let unknownSubscriptionId = ErrorCode(rawValue: 117)
    /// TELEMETRY_TOO_LARGE (118): The client telemetry payload is too large.
    public static let telemetryTooLarge = ErrorCode(rawValue: 118)
    /// INVALID_REGISTRATION (119): The controller rejected the registration.
    public static let invalidRegistration = ErrorCode(rawValue: 119)
    /// TRANSACTION_ABORTABLE (120): The server hit an error that requires the producer to abort the transaction.
    public static let transactionAbortable = ErrorCode(rawValue: 120)
    /// INVALID_RECORD_STATE (121): The record state is invalid; the acknowledgement was rejected.
    public static let invalidRecordState = ErrorCode(rawValue: 121)
    /// SHARE_SESSION_NOT_FOUND (122): The share session was not found.
    public static let shareSessionNotFound = ErrorCode(rawValue: 122)
    /// INVALID_SHARE_SESSION_EPOCH (123): The share session epoch is invalid.
    public static let invalidShareSessionEpoch = ErrorCode(rawValue: 123)
    /// FENCED_STATE_EPOCH (124): The share coordinator state epoch is fenced.
    public static let fencedStateEpoch = ErrorCode(rawValue: 124)
    /// INVALID_VOTER_KEY (125): The voter key does not match the receiving replica's key.
    public static let invalidVoterKey = ErrorCode(rawValue: 125)
    /// DUPLICATE_VOTER (126): The voter is already in the voter set.
    public static let duplicateVoter = ErrorCode(rawValue: 126)
    /// VOTER_NOT_FOUND (127): The voter is not in the voter set.
    public static let voterNotFound = ErrorCode(rawValue: 127)
    /// INVALID_REGULAR_EXPRESSION (128): The regular expression is invalid.
    public static let invalidRegularExpression = ErrorCode(rawValue: 128)
    /// REBOOTSTRAP_REQUIRED (129): The client must rebootstrap its metadata.
    public static let rebootstrapRequired = ErrorCode(rawValue: 129)
    /// STREAMS_INVALID_TOPOLOGY (130): The supplied streams topology is invalid.
    public static let streamsInvalidTopology = ErrorCode(rawValue: 130)
    /// STREAMS_INVALID_TOPOLOGY_EPOCH (131): The supplied streams topology epoch is invalid.
    public static let streamsInvalidTopologyEpoch = ErrorCode(rawValue: 131)
    /// STREAMS_TOPOLOGY_FENCED (132): The supplied streams topology epoch is outdated.
    public static let streamsTopologyFenced = ErrorCode(rawValue: 132)
    /// SHARE_SESSION_LIMIT_REACHED (133): The broker has reached its limit of share sessions.
    public static let shareSessionLimitReached = ErrorCode(rawValue: 133)

    /// Every known code in ascending order, with its Kafka name, retriability and short message.
    static let table: [ErrorCode.Entry] = [
        Entry(code: -1, name: "UNKNOWN_SERVER_ERROR", isRetriable: false, message: "The server hit an unexpected error while handling the request."),
        Entry(code: 0, name: "NONE", isRetriable: false, message: "No error."),
        Entry(code: 1, name: "OFFSET_OUT_OF_RANGE", isRetriable: false, message: "The requested offset is outside the range the server holds for this partition."),
        Entry(code: 2, name: "CORRUPT_MESSAGE", isRetriable: true, message: "The message failed its CRC, exceeded a size limit, or is otherwise malformed."),
        Entry(code: 3, name: "UNKNOWN_TOPIC_OR_PARTITION", isRetriable: true, message: "This server does not host the topic-partition."),
        Entry(code: 4, name: "INVALID_FETCH_SIZE", isRetriable: false, message: "The requested fetch size is invalid."),
        Entry(code: 5, name: "LEADER_NOT_AVAILABLE", isRetriable: true, message: "The partition has no leader right now, for example during an election."),
        Entry(code: 6, name: "NOT_LEADER_OR_FOLLOWER", isRetriable: true, message: "This server is neither the leader nor a follower of the partition."),
        Entry(code: 7, name: "REQUEST_TIMED_OUT", isRetriable: true, message: "The request timed out."),
        Entry(code: 8, name: "BROKER_NOT_AVAILABLE", isRetriable: false, message: "The broker is not available."),
        Entry(code: 9, name: "REPLICA_NOT_AVAILABLE", isRetriable: true, message: "The replica is not available for the requested topic-partition."),
        Entry(code: 10, name: "MESSAGE_TOO_LARGE", isRetriable: false, message: "The request contains a message larger than the server accepts."),
        Entry(code: 11, name: "STALE_CONTROLLER_EPOCH", isRetriable: false, message: "The request came from a controller with an outdated epoch."),
        Entry(code: 12, name: "OFFSET_METADATA_TOO_LARGE", isRetriable: false, message: "The metadata attached to the committed offset is too large."),
        Entry(code: 13, name: "NETWORK_EXCEPTION", isRetriable: true, message: "The server disconnected before a response was received."),
        Entry(code: 14, name: "COORDINATOR_LOAD_IN_PROGRESS", isRetriable: true, message: "The coordinator is still loading its state."),
        Entry(code: 15, name: "COORDINATOR_NOT_AVAILABLE", isRetriable: true, message: "The coordinator is not available."),
        Entry(code: 16, name: "NOT_COORDINATOR", isRetriable: true, message: "This server is not the coordinator for the group or transactional id."),
        Entry(code: 17, name: "INVALID_TOPIC_EXCEPTION", isRetriable: false, message: "The operation targets an invalid topic name."),
        Entry(code: 18, name: "RECORD_LIST_TOO_LARGE", isRetriable: false, message: "The produced batch exceeds the segment size limit."),
        Entry(code: 19, name: "NOT_ENOUGH_REPLICAS", isRetriable: true, message: "Fewer in-sync replicas than required; the records were rejected."),
        Entry(code: 20, name: "NOT_ENOUGH_REPLICAS_AFTER_APPEND", isRetriable: true, message: "The records were written but fewer in-sync replicas than required acknowledged them."),
        Entry(code: 21, name: "INVALID_REQUIRED_ACKS", isRetriable: false, message: "The requested acks value is invalid (must be -1, 0 or 1)."),
        Entry(code: 22, name: "ILLEGAL_GENERATION", isRetriable: false, message: "The generation id is not the group's current generation."),
        Entry(code: 23, name: "INCONSISTENT_GROUP_PROTOCOL", isRetriable: false, message: "The member's protocol type or protocols do not match the group's."),
        Entry(code: 24, name: "INVALID_GROUP_ID", isRetriable: false, message: "The group id is invalid."),
        Entry(code: 25, name: "UNKNOWN_MEMBER_ID", isRetriable: false, message: "The coordinator does not know this member id."),
        Entry(code: 26, name: "INVALID_SESSION_TIMEOUT", isRetriable: false, message: "The session timeout is outside the broker's allowed range."),
        Entry(code: 27, name: "REBALANCE_IN_PROGRESS", isRetriable: false, message: "The group is rebalancing; the member must rejoin."),
        Entry(code: 28, name: "INVALID_COMMIT_OFFSET_SIZE", isRetriable: false, message: "The committed offset's metadata is too large."),
        Entry(code: 29, name: "TOPIC_AUTHORIZATION_FAILED", isRetriable: false, message: "Not authorized to access the topics."),
        Entry(code: 30, name: "GROUP_AUTHORIZATION_FAILED", isRetriable: false, message: "Not authorized to access the group."),
        Entry(code: 31, name: "CLUSTER_AUTHORIZATION_FAILED", isRetriable: false, message: "Not authorized for this cluster operation."),
        Entry(code: 32, name: "INVALID_TIMESTAMP", isRetriable: false, message: "A record timestamp is outside the accepted range."),
        Entry(code: 33, name: "UNSUPPORTED_SASL_MECHANISM", isRetriable: false, message: "The broker does not support the requested SASL mechanism."),
        Entry(code: 34, name: "ILLEGAL_SASL_STATE", isRetriable: false, message: "The request is not valid in the current SASL state."),
        Entry(code: 35, name: "UNSUPPORTED_VERSION", isRetriable: false, message: "The broker does not support this version of the API."),
        Entry(code: 36, name: "TOPIC_ALREADY_EXISTS", isRetriable: false, message: "The topic already exists."),
        Entry(code: 37, name: "INVALID_PARTITIONS", isRetriable: false, message: "The number of partitions is invalid."),
        Entry(code: 38, name: "INVALID_REPLICATION_FACTOR", isRetriable: false, message: "The replication factor is invalid."),
        Entry(code: 39, name: "INVALID_REPLICA_ASSIGNMENT", isRetriable: false, message: "The replica assignment is invalid."),
        Entry(code: 40, name: "INVALID_CONFIG", isRetriable: false, message: "The configuration is invalid."),
        Entry(code: 41, name: "NOT_CONTROLLER", isRetriable: true, message: "This is not the correct controller for this cluster."),
        Entry(code: 42, name: "INVALID_REQUEST", isRetriable: false, message: "The request is malformed or violates the protocol; the broker log has details."),
        Entry(code: 43, name: "UNSUPPORTED_FOR_MESSAGE_FORMAT", isRetriable: false, message: "The message format version on the broker does not support the request."),
        Entry(code: 44, name: "POLICY_VIOLATION", isRetriable: false, message: "The request parameters violate the configured policy."),
        Entry(code: 45, name: "OUT_OF_ORDER_SEQUENCE_NUMBER", isRetriable: false, message: "The broker received an out of order sequence number."),
        Entry(code: 46, name: "DUPLICATE_SEQUENCE_NUMBER", isRetriable: false, message: "The broker received a duplicate sequence number."),
        Entry(code: 47, name: "INVALID_PRODUCER_EPOCH", isRetriable: false, message: "The producer's epoch is older than the current one (it has been fenced)."),
        Entry(code: 48, name: "INVALID_TXN_STATE", isRetriable: false, message: "The producer attempted a transactional operation in an invalid state."),
        Entry(code: 49, name: "INVALID_PRODUCER_ID_MAPPING", isRetriable: false, message: "The producer id is not the one mapped to this transactional id."),
        Entry(code: 50, name: "INVALID_TRANSACTION_TIMEOUT", isRetriable: false, message: "The transaction timeout exceeds transaction.max.timeout.ms."),
        Entry(code: 51, name: "CONCURRENT_TRANSACTIONS", isRetriable: true, message: "Another transaction for this producer is still being completed."),
        Entry(code: 52, name: "TRANSACTION_COORDINATOR_FENCED", isRetriable: false, message: "A newer transaction coordinator has taken over."),
        Entry(code: 53, name: "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", isRetriable: false, message: "Not authorized to use this transactional id."),
        Entry(code: 54, name: "SECURITY_DISABLED", isRetriable: false, message: "Security features are disabled."),
        Entry(code: 55, name: "OPERATION_NOT_ATTEMPTED", isRetriable: false, message: "The broker did not attempt this operation because another part of the batch failed."),
        Entry(code: 56, name: "KAFKA_STORAGE_ERROR", isRetriable: true, message: "A disk error occurred while reading or writing the log."),
        Entry(code: 57, name: "LOG_DIR_NOT_FOUND", isRetriable: false, message: "The log directory is not configured on the broker."),
        Entry(code: 58, name: "SASL_AUTHENTICATION_FAILED", isRetriable: false, message: "SASL authentication failed."),
        Entry(code: 59, name: "UNKNOWN_PRODUCER_ID", isRetriable: false, message: "The broker has no state for this producer id."),
        Entry(code: 60, name: "REASSIGNMENT_IN_PROGRESS", isRetriable: false, message: "A partition reassignment is in progress."),
        Entry(code: 61, name: "DELEGATION_TOKEN_AUTH_DISABLED", isRetriable: false, message: "Delegation token authentication is disabled."),
        Entry(code: 62, name: "DELEGATION_TOKEN_NOT_FOUND", isRetriable: false, message: "The delegation token was not found."),
        Entry(code: 63, name: "DELEGATION_TOKEN_OWNER_MISMATCH", isRetriable: false, message: "The principal does not own the delegation token."),
        Entry(code: 64, name: "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", isRetriable: false, message: "Delegation token requests are not allowed on this connection."),
        Entry(code: 65, name: "DELEGATION_TOKEN_AUTHORIZATION_FAILED", isRetriable: false, message: "Not authorized for the delegation token operation."),
        Entry(code: 66, name: "DELEGATION_TOKEN_EXPIRED", isRetriable: false, message: "The delegation token has expired."),
        Entry(code: 67, name: "INVALID_PRINCIPAL_TYPE", isRetriable: false, message: "The principal type is not supported."),
        Entry(code: 68, name: "NON_EMPTY_GROUP", isRetriable: false, message: "The group is not empty."),
        Entry(code: 69, name: "GROUP_ID_NOT_FOUND", isRetriable: false, message: "The group id does not exist."),
        Entry(code: 70, name: "FETCH_SESSION_ID_NOT_FOUND", isRetriable: true, message: "The fetch session id was not found."),
        Entry(code: 71, name: "INVALID_FETCH_SESSION_EPOCH", isRetriable: true, message: "The fetch session epoch is invalid."),
        Entry(code: 72, name: "LISTENER_NOT_FOUND", isRetriable: true, message: "The leader has no endpoint for the listener the request came in on."),
        Entry(code: 73, name: "TOPIC_DELETION_DISABLED", isRetriable: false, message: "Topic deletion is disabled."),
        Entry(code: 74, name: "FENCED_LEADER_EPOCH", isRetriable: true, message: "The leader epoch in the request is older than the broker's."),
        Entry(code: 75, name: "UNKNOWN_LEADER_EPOCH", isRetriable: true, message: "The leader epoch in the request is newer than the broker's."),
        Entry(code: 76, name: "UNSUPPORTED_COMPRESSION_TYPE", isRetriable: false, message: "The consumer does not support the compression type of the requested records."),
        Entry(code: 77, name: "STALE_BROKER_EPOCH", isRetriable: false, message: "The broker epoch has changed."),
        Entry(code: 78, name: "OFFSET_NOT_AVAILABLE", isRetriable: true, message: "The leader's high watermark has not caught up after an election; retry."),
        Entry(code: 79, name: "MEMBER_ID_REQUIRED", isRetriable: false, message: "The group member must rejoin with the member id the coordinator returned."),
        Entry(code: 80, name: "PREFERRED_LEADER_NOT_AVAILABLE", isRetriable: true, message: "The preferred leader is not available."),
        Entry(code: 81, name: "GROUP_MAX_SIZE_REACHED", isRetriable: false, message: "The group has reached its maximum size."),
        Entry(code: 82, name: "FENCED_INSTANCE_ID", isRetriable: false, message: "Another member with the same group.instance.id has fenced this one."),
        Entry(code: 83, name: "ELIGIBLE_LEADERS_NOT_AVAILABLE", isRetriable: true, message: "No eligible leader is available for the partition."),
        Entry(code: 84, name: "ELECTION_NOT_NEEDED", isRetriable: true, message: "The leader election is not needed for the partition."),
        Entry(code: 85, name: "NO_REASSIGNMENT_IN_PROGRESS", isRetriable: false, message: "No partition reassignment is in progress."),
        Entry(code: 86, name: "GROUP_SUBSCRIBED_TO_TOPIC", isRetriable: false, message: "Offsets cannot be deleted while the group is subscribed to the topic."),
        Entry(code: 87, name: "INVALID_RECORD", isRetriable: false, message: "The record failed broker-side validation and was rejected."),
        Entry(code: 88, name: "UNSTABLE_OFFSET_COMMIT", isRetriable: true, message: "There are unstable offsets waiting for a transaction to complete."),
        Entry(code: 89, name: "THROTTLING_QUOTA_EXCEEDED", isRetriable: true, message: "The throttling quota has been exceeded."),
        Entry(code: 90, name: "PRODUCER_FENCED", isRetriable: false, message: "A newer producer with the same transactional id has fenced this one."),
        Entry(code: 91, name: "RESOURCE_NOT_FOUND", isRetriable: false, message: "The resource does not exist."),
        Entry(code: 92, name: "DUPLICATE_RESOURCE", isRetriable: false, message: "The resource is named more than once in the request."),
        Entry(code: 93, name: "UNACCEPTABLE_CREDENTIAL", isRetriable: false, message: "The requested credential does not meet the criteria for acceptability."),
        Entry(code: 94, name: "INCONSISTENT_VOTER_SET", isRetriable: false, message: "The voter set does not match the local one."),
        Entry(code: 95, name: "INVALID_UPDATE_VERSION", isRetriable: false, message: "The update version is invalid."),
        Entry(code: 96, name: "FEATURE_UPDATE_FAILED", isRetriable: false, message: "Updating the finalized features failed."),
        Entry(code: 97, name: "PRINCIPAL_DESERIALIZATION_FAILURE", isRetriable: false, message: "The principal in the request could not be deserialized."),
        Entry(code: 98, name: "SNAPSHOT_NOT_FOUND", isRetriable: false, message: "The snapshot was not found."),
        Entry(code: 99, name: "POSITION_OUT_OF_RANGE", isRetriable: false, message: "The requested position is outside the snapshot."),
        Entry(code: 100, name: "UNKNOWN_TOPIC_ID", isRetriable: true, message: "This server does not host the topic id."),
        Entry(code: 101, name: "DUPLICATE_BROKER_REGISTRATION", isRetriable: false, message: "This broker id is already registered."),
        Entry(code: 102, name: "BROKER_ID_NOT_REGISTERED", isRetriable: false, message: "The broker id is not registered."),
        Entry(code: 103, name: "INCONSISTENT_TOPIC_ID", isRetriable: true, message: "The topic id in the request does not match the one in the log."),
        Entry(code: 104, name: "INCONSISTENT_CLUSTER_ID", isRetriable: false, message: "The cluster id in the request does not match the one stored."),
        Entry(code: 105, name: "TRANSACTIONAL_ID_NOT_FOUND", isRetriable: false, message: "The transactional id was not found."),
        Entry(code: 106, name: "FETCH_SESSION_TOPIC_ID_ERROR", isRetriable: true, message: "The fetch session had topic id errors."),
        Entry(code: 107, name: "INELIGIBLE_REPLICA", isRetriable: false, message: "The new ISR contains at least one ineligible replica."),
        Entry(code: 108, name: "NEW_LEADER_ELECTED", isRetriable: false, message: "The AlterPartition request came from a stale leader; a new leader was elected."),
        Entry(code: 109, name: "OFFSET_MOVED_TO_TIERED_STORAGE", isRetriable: false, message: "The requested offset has moved to tiered storage."),
        Entry(code: 110, name: "FENCED_MEMBER_EPOCH", isRetriable: false, message: "The member epoch is fenced; the member must rejoin with epoch 0."),
        Entry(code: 111, name: "UNRELEASED_INSTANCE_ID", isRetriable: false, message: "The instance id is still used by another member."),
        Entry(code: 112, name: "UNSUPPORTED_ASSIGNOR", isRetriable: false, message: "The assignor or its version range is not supported by the group."),
        Entry(code: 113, name: "STALE_MEMBER_EPOCH", isRetriable: false, message: "The member epoch is stale; retry with the current one."),
        Entry(code: 114, name: "MISMATCHED_ENDPOINT_TYPE", isRetriable: false, message: "The request was sent to an endpoint of the wrong type."),
        Entry(code: 115, name: "UNSUPPORTED_ENDPOINT_TYPE", isRetriable: false, message: "This endpoint type does not support the request."),
        Entry(code: 116, name: "UNKNOWN_CONTROLLER_ID", isRetriable: false, message: "The controller id is unknown."),
        Entry(code: 117, name: "UNKNOWN_SUBSCRIPTION_ID", isRetriable: false, message: "The client telemetry subscription id is unknown."),
        Entry(code: 118, name: "TELEMETRY_TOO_LARGE", isRetriable: false, message: "The client telemetry payload is too large."),
        Entry(code: 119, name: "INVALID_REGISTRATION", isRetriable: false, message: "The controller rejected the registration."),
        Entry(code: 120, name: "TRANSACTION_ABORTABLE", isRetriable: false, message: "The server hit an error that requires the producer to abort the transaction."),
        Entry(code: 121, name: "INVALID_RECORD_STATE", isRetriable: false, message: "The record state is invalid; the acknowledgement was rejected."),
        Entry(code: 122, name: "SHARE_SESSION_NOT_FOUND", isRetriable: true, message: "The share session was not found."),
        Entry(code: 123, name: "INVALID_SHARE_SESSION_EPOCH", isRetriable: true, message: "The share session epoch is invalid."),
        Entry(code: 124, name: "FENCED_STATE_EPOCH", isRetriable: false, message: "The share coordinator state epoch is fenced."),
        Entry(code: 125, name: "INVALID_VOTER_KEY", isRetriable: false, message: "The voter key does not match the receiving replica's key."),
        Entry(code: 126, name: "DUPLICATE_VOTER", isRetriable: false, message: "The voter is already in the voter set."),
        Entry(code: 127, name: "VOTER_NOT_FOUND", isRetriable: false, message: "The voter is not in the voter set."),
        Entry(code: 128, name: "INVALID_REGULAR_EXPRESSION", isRetriable: false, message: "The regular expression is invalid."),
        Entry(code: 129, name: "REBOOTSTRAP_REQUIRED", isRetriable: false, message: "The client must rebootstrap its metadata."),
        Entry(code: 130, name: "STREAMS_INVALID_TOPOLOGY", isRetriable: false, message: "The supplied streams topology is invalid."),
        Entry(code: 131, name: "STREAMS_INVALID_TOPOLOGY_EPOCH", isRetriable: false, message: "The supplied streams topology epoch is invalid."),
        Entry(code: 132, name: "STREAMS_TOPOLOGY_FENCED", isRetriable: false, message: "The supplied streams topology epoch is outdated."),
        Entry(code: 133, name: "SHARE_SESSION_LIMIT_REACHED", isRetriable: true, message: "The broker has reached its limit of share sessions."),
    ]
}
