// OfflineScramCredentials: SCRAM users written straight into a stopped single node's metadata file
// (`runnel user create --offline`, as `kafka-storage format --add-scram`).
import Logging
import RunnelClient
import RunnelCluster

/// SCRAM credential administration without a running broker (`metadata.store=local` only).
public enum OfflineScramCredentials {
    /// Why an offline change failed.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong.
        public var description: String
    }

    private static func withStore<T>(_ config: BrokerConfig, _ body: (LocalMetadataStore) async throws -> T) async throws -> T {
        guard config.string(.metadataStore) == "local" else {
            throw Failure(description: "--offline needs metadata.store=local; in cluster mode run `runnel user` against a broker")
        }
        guard let directory = config.logDirs.first else { throw Failure(description: "log.dirs is empty") }
        let store = try LocalMetadataStore(directory: directory, nodeId: config.nodeId, logger: Logger(label: "runnel.user"))
        do {
            let result = try await body(store)
            await store.shutdown()
            return result
        } catch {
            await store.shutdown()
            throw error
        }
    }

    /// Sets `user`'s credential for `mechanism` from `password`.
    public static func upsert(config: BrokerConfig, user: String, mechanism: ScramMechanism, password: String,
                              iterations: Int) async throws {
        guard (ScramMechanism.minIterations...ScramMechanism.maxIterations).contains(iterations) else {
            throw Failure(description: "iterations must be between \(ScramMechanism.minIterations) and \(ScramMechanism.maxIterations)")
        }
        let credential = try ScramCredential(mechanism: mechanism, password: password, iterations: iterations)
        try await alter(config: config, [ScramAlteration(user: user, mechanism: mechanism, credential: credential)])
    }

    /// Removes `user`'s credential for `mechanism`.
    public static func delete(config: BrokerConfig, user: String, mechanism: ScramMechanism) async throws {
        try await alter(config: config, [ScramAlteration(user: user, mechanism: mechanism, credential: nil)])
    }

    private static func alter(config: BrokerConfig, _ alterations: [ScramAlteration]) async throws {
        try await withStore(config) { store in
            for case let (user, failure?) in await store.alterScramCredentials(alterations) {
                throw Failure(description: "\(user): \(failure.message)")
            }
        }
    }

    /// Every user with SCRAM credentials: user → (mechanism, iterations).
    public static func list(config: BrokerConfig) async throws -> [String: [(mechanism: String, iterations: Int)]] {
        try await withStore(config) { store in
            var result: [String: [(mechanism: String, iterations: Int)]] = [:]
            for (user, record) in store.image.records(.scramCredential) {
                let stored = StoredScramUser(record: record)?.mechanisms ?? [:]
                result[user] = stored.sorted { $0.key < $1.key }.map { ($0.key, $0.value.iterations) }
            }
            return result
        }
    }
}
