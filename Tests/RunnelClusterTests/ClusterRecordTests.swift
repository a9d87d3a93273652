// Cluster records: one generic keyed namespace per kind with compare-and-swap and atomic batches, the
// same contract on the local file store and on etcd (where another broker sees the writes).
import Foundation
import KafkaProtocol
import Logging
import RunnelCluster
import Testing

/// The contract, run against `writer`; `reader` is another broker's store (the writer itself on one node).
func checkRecordContract(writer: any MetadataStore, reader: any MetadataStore) async throws {
    // Create only if absent; the version identifies this write.
    let created = try await writer.writeRecords([.put(.alias, key: "serving", value: #"{"target":"v1"}"#, expectedVersion: 0)])
    let first = try #require(created.first ?? nil)
    #expect(first.value == #"{"target":"v1"}"# && first.version > 0)
    #expect(writer.image.record(.alias, key: "serving") == first)  // the writer reads its own write at once
    #expect(await eventually { reader.image.record(.alias, key: "serving") == first })

    // A second create loses: the error names the record and what is stored.
    await #expect(throws: MetadataStoreError.self) {
        try await writer.writeRecords([.put(.alias, key: "serving", value: "{}", expectedVersion: 0)])
    }
    let refusal = await refusalOf([.put(.alias, key: "serving", value: "{}", expectedVersion: 0)], by: writer)
    guard case .recordVersionMismatch(let kind, let key, let expected, let current)? = refusal else {
        Issue.record("expected recordVersionMismatch, got \(String(describing: refusal))")
        return
    }
    #expect(kind == .alias && key == "serving" && expected == 0 && current == first.version)

    // Two swaps from the same version: exactly one wins.
    let swaps = await withTaskGroup(of: Bool.self) { group in
        for target in ["v2", "v3"] {
            group.addTask {
                do {
                    try await writer.writeRecords([.put(.alias, key: "serving", value: #"{"target":"\#(target)"}"#,
                                                        expectedVersion: first.version)])
                    return true
                } catch { return false }
            }
        }
        return await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
    }
    #expect(swaps == 1)
    let swapped = try #require(writer.image.record(.alias, key: "serving"))
    #expect(swapped.version > first.version && swapped.value != first.value)

    // A batch is all or nothing: the second write's condition fails, so the first is not applied either.
    await #expect(throws: MetadataStoreError.self) {
        try await writer.writeRecords([.put(.acl, key: "User:bob/topic/orders", value: "allow"),
                                       .put(.alias, key: "serving", value: "{}", expectedVersion: first.version)])
    }
    #expect(writer.image.record(.acl, key: "User:bob/topic/orders") == nil)

    // Keys may hold any characters (principals, patterns); kinds are separate namespaces.
    let stored = try await writer.writeRecords([.put(.acl, key: "User:CN=a,O=b/topic/pre*", value: "1"),
                                                .put(.scramCredential, key: "serving", value: "2")])
    #expect(stored.compactMap { $0?.key } == ["User:CN=a,O=b/topic/pre*", "serving"])
    #expect(await eventually {
        reader.image.records(.acl).keys.sorted() == ["User:CN=a,O=b/topic/pre*"]
            && reader.image.record(.scramCredential, key: "serving")?.value == "2"
            && reader.image.record(.alias, key: "serving") == swapped
    })

    // Delete with a stale version is refused; with the current one it removes; a re-create gets a new version.
    await #expect(throws: MetadataStoreError.self) {
        try await writer.writeRecords([.delete(.alias, key: "serving", expectedVersion: first.version)])
    }
    try await writer.writeRecords([.delete(.alias, key: "serving", expectedVersion: swapped.version)])
    #expect(writer.image.record(.alias, key: "serving") == nil)
    #expect(await eventually { reader.image.record(.alias, key: "serving") == nil })
    let again = try #require(try await writer.writeRecords([.put(.alias, key: "serving", value: "{}", expectedVersion: 0)]).first ?? nil)
    #expect(again.version > swapped.version)

    // Aliases and topics share one name space, enforced in the write itself (no check-then-write race):
    // a topic named like an alias, and an alias named like a topic, are refused as TOPIC_ALREADY_EXISTS.
    let shared = TopicMetadata(name: "shared-name", topicId: KafkaUUID.random(), partitionCount: 1, replicationFactor: 1)
    try await writer.writeRecords([.put(.alias, key: "shared-name", value: "{}", expectedVersion: 0)])
    do {
        try await writer.createTopic(shared, assignments: [[1]])
        Issue.record("a topic was created under an alias's name")
    } catch {
        guard case .topicAlreadyExists("shared-name") = error else { Issue.record("refused with \(error)"); return }
    }
    try await writer.writeRecords([.delete(.alias, key: "shared-name")])
    try await writer.createTopic(shared, assignments: [[1]])
    let refused = await refusalOf([.put(.alias, key: "shared-name", value: "{}")], by: writer)
    guard case .topicAlreadyExists("shared-name")? = refused else {
        Issue.record("an alias named like a topic: \(String(describing: refused))")
        return
    }
    #expect(writer.image.record(.alias, key: "shared-name") == nil)
    // Other kinds do not share the name space.
    #expect(await refusalOf([.put(.acl, key: "shared-name", value: "{}")], by: writer) == nil)

    // Bad batches are refused before the store: empty, duplicate, bad kind, oversized.
    for bad: [ClusterRecordWrite] in [[], [.put(.acl, key: "k", value: ""), .delete(.acl, key: "k")],
                                      [.put("Bad/Kind", key: "k", value: "")], [.put(.acl, key: "", value: "")],
                                      [.put(.acl, key: "k", value: String(repeating: "x", count: 300_000))]] {
        await #expect(throws: MetadataStoreError.self) { try await writer.writeRecords(bad) }
    }
}

/// The error a batch is refused with, nil when it is applied.
func refusalOf(_ writes: [ClusterRecordWrite], by store: any MetadataStore) async -> MetadataStoreError? {
    do {
        try await store.writeRecords(writes)
        return nil
    } catch {
        return error
    }
}

@Suite("Cluster records")
struct ClusterRecordTests {
    @Test("local store: create-if-absent, compare-and-swap, atomic batches, deletes; records survive a restart; old files load")
    func localStore() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("runnel-records-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try LocalMetadataStore(directory: directory, nodeId: 1, logger: Logger(label: "test"))
        try await checkRecordContract(writer: store, reader: store)
        let before = store.image.records
        let reopened = try LocalMetadataStore(directory: directory, nodeId: 1, logger: Logger(label: "test"))
        #expect(reopened.image.records == before)
        // Versions keep growing across the restart.
        let next = try #require(try await reopened.writeRecords([.put(.quota, key: "user=bob", value: "{}")]).first ?? nil)
        #expect(next.version > (before.values.flatMap(\.values).map(\.version).max() ?? 0))
    }
}

@Suite("Cluster records on etcd", .serialized, .enabled(if: EtcdTestServer.runs, "needs etcd (apt-get install etcd-server)"))
struct EtcdClusterRecordTests {
    @Test("etcd store: the same contract; another broker sees every write through its watch")
    func etcdStore() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        let tests = EtcdMetadataStoreTests()
        // Nothing here is about timeouts: 5 s per call, not 1 s (a write timed out once at 1 s in the loaded
        // parallel unit run, etcd fsyncing its WAL on a slow disk).
        func open(_ node: Int32) async throws -> EtcdMetadataStore {
            try await tests.open(server, node: node, requestTimeout: .seconds(5))
        }
        let a = try await open(1), b = try await open(2)
        try await checkRecordContract(writer: a, reader: b)
        // A broker that starts later loads the records with the rest of the image.
        let c = try await open(3)
        #expect(c.image.records == a.image.records)
        for store in [a, b, c] { await store.shutdown() }
    }
}
