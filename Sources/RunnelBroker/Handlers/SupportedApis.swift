// The APIs and version ranges this broker implements — exactly what ApiVersions advertises.
import KafkaProtocol

/// Version ranges served, per API. A version outside its range is answered as Kafka does:
/// ApiVersions gets a v0 UNSUPPORTED_VERSION reply, anything else has its connection closed.
enum SupportedApis {
    static let ranges: [ApiKey: ClosedRange<Int16>] = [
        .produce: 3...13,
        .fetch: 4...18,
        .listOffsets: 1...11,
        .metadata: 0...13,
        .apiVersions: 0...4,
        .createTopics: 2...7,
        .deleteTopics: 1...6,
        .deleteRecords: 0...2,
        .initProducerId: 0...6,
        .addPartitionsToTxn: 0...5,
        .addOffsetsToTxn: 0...4,
        // v5 is KIP-890 part 2 (an epoch bump per transaction): see docs/transactions.md.
        .endTxn: 0...5,
        .writeTxnMarkers: 1...2,
        .listTransactions: 0...2,
        .describeTransactions: 0...0,
        .offsetForLeaderEpoch: 2...4,
        .describeConfigs: 1...4,
        .alterConfigs: 0...2,
        .createPartitions: 0...3,
        .incrementalAlterConfigs: 0...1,
        .describeCluster: 0...2,
        .describeProducers: 0...0,
        .electLeaders: 0...2,
        .describeLogDirs: 1...5,
        .alterPartitionReassignments: 0...1,
        .listPartitionReassignments: 0...0,
        .findCoordinator: 0...6,
        .joinGroup: 0...9,
        .heartbeat: 0...4,
        .leaveGroup: 0...5,
        .syncGroup: 0...5,
        .describeGroups: 0...6,
        .listGroups: 0...5,
        .offsetCommit: 2...10,
        .offsetFetch: 1...10,
        .txnOffsetCommit: 0...5,
        .deleteGroups: 0...2,
        .offsetDelete: 0...0,
        // Served by SaslRouter (Security/) in front of the handlers.
        .saslHandshake: SaslRouter.handshakeVersions,
        .saslAuthenticate: SaslRouter.authenticateVersions,
        .describeUserScramCredentials: 0...0,
        .alterUserScramCredentials: 0...0,
        .createAcls: 1...3,
        .describeAcls: 1...3,
        .deleteAcls: 1...3,
        .describeClientQuotas: 0...1,
        .alterClientQuotas: 0...1,
    ]

    static func range(of apiKey: ApiKey) -> ClosedRange<Int16>? { ranges[apiKey] }

    /// The ApiVersions list, sorted by key.
    static func apiVersionEntries() -> [ApiVersionsResponse.ApiVersion] {
        ranges.sorted { $0.key.rawValue < $1.key.rawValue }.map { key, range in
            var entry = ApiVersionsResponse.ApiVersion()
            entry.apiKey = key.rawValue
            entry.minVersion = range.lowerBound
            entry.maxVersion = range.upperBound
            return entry
        }
    }
}
