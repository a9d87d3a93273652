// EtcdClient against a real etcd: KV, transactions, leases, watches across an etcd restart, failover
// and timeouts.
import Foundation
import RunnelEtcd
import Synchronization
import Testing

@Suite("EtcdClient against a real etcd", .enabled(if: EtcdTestServer.runs, "needs etcd (apt-get install etcd-server)"))
struct EtcdClientTests {
    func client(_ server: EtcdTestServer, timeout: Duration = .seconds(2)) -> EtcdClient {
        EtcdClient(configuration: EtcdClientConfiguration(endpoints: [server.endpoint], requestTimeout: timeout))
    }

    @Test("put, get, range over a prefix and delete round-trip keys and binary values")
    func keyValueRoundTrip() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        let etcd = client(server)
        let binary = Data([0, 1, 0xFF, 0x0A, 0x22])
        let first = try await etcd.put("/t/a", value: binary)
        try await etcd.put("/t/b", value: Data("two".utf8))
        try await etcd.put("/t2/c", value: Data("other".utf8))
        let got = try #require(try await etcd.get("/t/a"))
        #expect(got.value == binary)
        #expect(got.modRevision == first)
        #expect(got.version == 1)
        let listed = try await etcd.range(.prefix("/t/"))
        #expect(listed.keyValues.map(\.key) == ["/t/a", "/t/b"])
        #expect(listed.revision >= first + 2)
        #expect(try await etcd.delete(.prefix("/t/")) == 2)
        #expect(try await etcd.range(.prefix("/t/")).keyValues.isEmpty)
        #expect(try await etcd.get("/t2/c")?.value == Data("other".utf8))
    }

    @Test("a transaction runs its success branch only when every compare holds, else its failure branch")
    func transactionCompares() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        let etcd = client(server)
        let create = EtcdTransaction(compare: [.absent("/k")], success: [.put(key: "/k", value: Data("v1".utf8))],
                                     failure: [.range(.key("/k"))])
        let created = try await etcd.transaction(create)
        #expect(created.succeeded)
        let again = try await etcd.transaction(create)
        #expect(!again.succeeded)
        #expect(again.rangedKeyValues.first?.value == Data("v1".utf8))
        let stored = try #require(again.rangedKeyValues.first)
        #expect(stored.createRevision == created.revision)

        // mod_revision: the first writer wins, the second (same expectation) loses.
        let update = { (value: String) in
            EtcdTransaction(compare: [.unchanged("/k", since: stored.modRevision)],
                            success: [.put(key: "/k", value: Data(value.utf8))], failure: [.range(.key("/k"))])
        }
        #expect(try await etcd.transaction(update("v2")).succeeded)
        let lost = try await etcd.transaction(update("v3"))
        #expect(!lost.succeeded)
        #expect(lost.rangedKeyValues.first?.value == Data("v2".utf8))

        // version and value compares, and a multi-key branch applied whole.
        let multi = EtcdTransaction(
            compare: [EtcdCompare(key: "/k", .equal, .version(2)), EtcdCompare(key: "/k", .equal, .value(Data("v2".utf8)))],
            success: [.put(key: "/x", value: Data("1".utf8)), .put(key: "/y", value: Data("2".utf8)), .delete(.key("/k"))])
        let applied = try await etcd.transaction(multi)
        #expect(applied.succeeded)
        #expect(applied.results == [.put, .put, .delete(deleted: 1)])
        #expect(try await etcd.get("/x")?.modRevision == applied.revision)
        #expect(try await etcd.get("/y")?.modRevision == applied.revision)
        #expect(try await etcd.get("/k") == nil)
        let wrongValue = EtcdTransaction(compare: [EtcdCompare(key: "/x", .equal, .value(Data("9".utf8)))],
                                         success: [.delete(.key("/x"))])
        #expect(try await !etcd.transaction(wrongValue).succeeded)
        #expect(try await etcd.get("/x") != nil)
    }

    @Test("a leased key lives while the lease is renewed and goes when it is revoked")
    func leases() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        let etcd = client(server)
        let lease = try await etcd.grantLease(ttl: .seconds(5))
        #expect(lease.ttl >= .seconds(5))
        try await etcd.put("/leased", value: Data("x".utf8), lease: lease.id)
        #expect(try await etcd.get("/leased")?.lease == lease.id)
        #expect(try await etcd.keepAlive(lease: lease.id) >= .seconds(4))
        try await etcd.revokeLease(lease.id)
        #expect(try await etcd.get("/leased") == nil)
        await #expect(throws: EtcdError.self) { _ = try await etcd.keepAlive(lease: lease.id) }
        do {
            _ = try await etcd.keepAlive(lease: lease.id)
        } catch {
            #expect(error.kind == .leaseNotFound(id: lease.id))
            #expect(error.description.contains("\(lease.id)"))
        }
        try await etcd.revokeLease(lease.id)  // already gone: not an error
    }

    @Test("a watch survives etcd being killed and restarted: every event once, in revision order")
    func watchResumesAcrossRestart() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        let etcd = client(server)
        let start = try await etcd.put("/w/0", value: Data("0".utf8)) + 1
        let seen = Mutex<[EtcdEvent]>([])
        let watcher = Task {
            try await etcd.watch(.prefix("/w/"), fromRevision: start) { batch in seen.withLock { $0 += batch.events } }
        }
        for i in 1...3 { try await etcd.put("/w/\(i)", value: Data("\(i)".utf8)) }
        #expect(await eventually { seen.withLock { $0.count } == 3 })
        try await server.restart()
        // Written while the watch is (probably) still reconnecting: it must catch up from revision + 1.
        for i in 4...6 { try await etcd.put("/w/\(i)", value: Data("\(i)".utf8)) }
        try await etcd.delete(.key("/w/2"))
        #expect(await eventually { seen.withLock { $0.count } == 7 })
        watcher.cancel()
        _ = await watcher.result
        let events = seen.withLock { $0 }
        #expect(events.map(\.keyValue.key) == ["/w/1", "/w/2", "/w/3", "/w/4", "/w/5", "/w/6", "/w/2"])
        #expect(events.last?.kind == .delete)
        let revisions = events.map(\.keyValue.modRevision)
        #expect(revisions == revisions.sorted() && Set(revisions).count == revisions.count)
    }

    @Test("a watch from a compacted revision reports compaction instead of silently skipping history")
    func watchReportsCompaction() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        let etcd = client(server)
        let first = try await etcd.put("/c/a", value: Data())
        let last = try await etcd.put("/c/a", value: Data("2".utf8))
        try await etcd.compact(revision: last)
        do {
            try await etcd.watch(.prefix("/c/"), fromRevision: first) { _ in }
            Issue.record("the watch returned without reporting compaction")
        } catch {
            #expect(error.kind == .compacted(compactRevision: last))
        }
    }

    @Test("calls fail over to the next endpoint, and name every endpoint when all are down")
    func failover() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        let dead = EtcdEndpoint(host: "127.0.0.1", port: try EtcdTestServer.freePort())
        let etcd = EtcdClient(configuration: EtcdClientConfiguration(endpoints: [dead, server.endpoint], requestTimeout: .seconds(2)))
        try await etcd.put("/f", value: Data("ok".utf8))
        #expect(try await etcd.get("/f")?.value == Data("ok".utf8))

        let nowhere = EtcdClient(configuration: EtcdClientConfiguration(
            endpoints: [dead, EtcdEndpoint(host: "127.0.0.1", port: try EtcdTestServer.freePort())], requestTimeout: .seconds(1)))
        do {
            _ = try await nowhere.get("/f")
            Issue.record("a call with no live endpoint succeeded")
        } catch {
            guard case .allEndpointsFailed(let each) = error.kind else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(each.count == 2)
            #expect(error.description.contains(dead.description))
            #expect(error.isUnavailable)
        }
    }

    @Test("a call to a hung etcd times out within its bound with a typed error")
    func timeout() async throws {
        let server = try await EtcdTestServer.start()
        defer { server.stop() }
        let etcd = client(server, timeout: .milliseconds(500))
        server.pause()
        let started = ContinuousClock.now
        do {
            try await etcd.put("/slow", value: Data())
            Issue.record("a write to a stopped etcd succeeded")
        } catch {
            // The kernel completes the connection to the stopped process, so the request times out; on a
            // loaded machine the connect itself (one per call) may use up the 500 ms first: also typed, also
            // within the bound.
            switch error.kind {
            case .timedOut(milliseconds: 500): break
            case .unreachable(let reason) where reason.hasPrefix("Connect timeout"): break
            default: Issue.record("unexpected error kind: \(error)")
            }
            #expect(error.description.contains("put /slow"))
        }
        #expect(ContinuousClock.now - started < .seconds(3))
        server.resume()
        try await etcd.put("/slow", value: Data("after".utf8))
    }
}
