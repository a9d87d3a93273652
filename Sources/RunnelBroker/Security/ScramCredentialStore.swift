// ScramCredentialStore: SCRAM credentials as cluster records (kind `scram`, one record per user
// holding each mechanism's salt, iterations, stored key and server key — never the password), and
// DescribeUserScramCredentials / AlterUserScramCredentials with Kafka's validation and error codes.
import Foundation
import KafkaProtocol
import NIOCore
import RunnelClient
import RunnelCluster

/// One user's SCRAM credentials as stored: mechanism name → credential (JSON, base64 byte fields).
struct StoredScramUser: Codable, Equatable {
    struct Entry: Codable, Equatable {
        var salt: String
        var storedKey: String
        var serverKey: String
        var iterations: Int

        enum CodingKeys: String, CodingKey {
            case salt, iterations
            case storedKey = "stored_key"
            case serverKey = "server_key"
        }

        init(_ credential: ScramCredential) {
            salt = ScramMessages.base64(credential.salt)
            storedKey = ScramMessages.base64(credential.storedKey)
            serverKey = ScramMessages.base64(credential.serverKey)
            iterations = credential.iterations
        }

        var credential: ScramCredential? {
            guard let salt = ScramMessages.base64(salt), let stored = ScramMessages.base64(storedKey),
                  let server = ScramMessages.base64(serverKey) else { return nil }
            return ScramCredential(salt: salt, storedKey: stored, serverKey: server, iterations: iterations)
        }
    }

    var mechanisms: [String: Entry] = [:]

    init(mechanisms: [String: Entry] = [:]) { self.mechanisms = mechanisms }

    init?(record: ClusterRecord?) {
        guard let record, let data = record.value.data(using: .utf8),
              let decoded = try? JSONDecoder().decode([String: Entry].self, from: data) else { return nil }
        mechanisms = decoded
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(mechanisms)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// SCRAM credentials read from the metadata store's image (every broker sees the same set).
struct MetadataScramCredentials: ScramCredentialSource {
    let store: any MetadataStore

    func scramCredential(user: String, mechanism: ScramMechanism) -> ScramCredential? {
        StoredScramUser(record: store.image.record(.scramCredential, key: user))?.mechanisms[mechanism.rawValue]?.credential
    }
}

/// Why a credential change was refused (Kafka's codes and messages).
struct ScramAlterationError: Error {
    var code: ErrorCode
    var message: String
}

/// One credential change: set (with its derived credential) or delete.
struct ScramAlteration: Sendable {
    var user: String
    var mechanism: ScramMechanism
    var credential: ScramCredential?  // nil: delete
}

extension MetadataStore {
    /// Applies credential changes in one atomic batch per attempt (compare-and-swap on each user's record,
    /// retried when another writer got there first). Returns, per user, nil or why it was refused.
    func alterScramCredentials(_ alterations: [ScramAlteration]) async -> [String: ScramAlterationError?] {
        let users = Array(Set(alterations.map(\.user))).sorted()
        var outcome: [String: ScramAlterationError?] = [:]
        for attempt in 0..<5 {
            outcome = [:]
            var writes: [ClusterRecordWrite] = []
            let image = image
            for user in users {
                let current = image.record(.scramCredential, key: user)
                var stored = StoredScramUser(record: current) ?? StoredScramUser()
                var failure: ScramAlterationError?
                for change in alterations where change.user == user {
                    if let credential = change.credential {
                        stored.mechanisms[change.mechanism.rawValue] = .init(credential)
                    } else if stored.mechanisms.removeValue(forKey: change.mechanism.rawValue) == nil {
                        failure = ScramAlterationError(code: .resourceNotFound,
                                                       message: "Attempt to delete a user credential that does not exist")
                    }
                }
                outcome[user] = failure
                guard failure == nil else { continue }
                let expected = current?.version ?? 0
                writes.append(stored.mechanisms.isEmpty
                              ? .delete(.scramCredential, key: user, expectedVersion: expected)
                              : .put(.scramCredential, key: user, value: stored.json, expectedVersion: expected))
            }
            guard !writes.isEmpty else { return outcome }
            do {
                _ = try await writeRecords(writes)
                return outcome
            } catch {
                if case .recordVersionMismatch = error, attempt < 4 { continue }
                for write in writes {
                    outcome[write.key] = ScramAlterationError(code: error.errorCode, message: "\(error)")
                }
                return outcome
            }
        }
        return outcome
    }
}

extension BrokerCore {
    func describeUserScramCredentials(_ request: DescribeUserScramCredentialsRequest,
                                      _ context: HandlerRequest) -> HandlerResult<DescribeUserScramCredentialsResponse> {
        var response = DescribeUserScramCredentialsResponse()
        if authorizationEnabled, !context.allowed(self, .describe, .cluster, "kafka-cluster") {
            response.errorCode = ErrorCode.clusterAuthorizationFailed.rawValue
            response.errorMessage = nil
            return .now(response)
        }
        let all = metadataStore.image.records(.scramCredential)
        func result(_ user: String) -> DescribeUserScramCredentialsResponse.DescribeUserScramCredentialsResult {
            var result = DescribeUserScramCredentialsResponse.DescribeUserScramCredentialsResult()
            result.user = user
            guard let stored = StoredScramUser(record: all[user]), !stored.mechanisms.isEmpty else {
                result.errorCode = ErrorCode.resourceNotFound.rawValue
                result.errorMessage = "Attempt to describe a user credential that does not exist"
                return result
            }
            result.errorMessage = nil
            result.credentialInfos = stored.mechanisms.sorted { $0.key < $1.key }.compactMap { name, entry in
                guard let mechanism = ScramMechanism(rawValue: name) else { return nil }
                var info = DescribeUserScramCredentialsResponse.CredentialInfo()
                info.mechanism = mechanism.typeCode
                info.iterations = Int32(clamping: entry.iterations)
                return info
            }
            return result
        }
        response.errorMessage = nil
        guard let requested = request.users, !requested.isEmpty else {
            response.results = all.keys.sorted().map(result)
            return .now(response)
        }
        var counts: [String: Int] = [:]
        for user in requested { counts[user.name, default: 0] += 1 }
        var seen: Set<String> = []
        for user in requested.map(\.name) where seen.insert(user).inserted {
            if counts[user, default: 0] > 1 {
                var duplicate = DescribeUserScramCredentialsResponse.DescribeUserScramCredentialsResult()
                duplicate.user = user
                duplicate.errorCode = ErrorCode.duplicateResource.rawValue
                duplicate.errorMessage = "Cannot describe SCRAM credentials for the same user twice in a single request"
                response.results.append(duplicate)
            } else {
                response.results.append(result(user))
            }
        }
        return .now(response)
    }

    func alterUserScramCredentials(_ request: AlterUserScramCredentialsRequest,
                                   _ context: HandlerRequest) async -> AlterUserScramCredentialsResponse {
        var failures: [String: ScramAlterationError] = [:]
        var order: [String] = []
        var alterations: [ScramAlteration] = []
        var seen: Set<String> = []
        func note(_ user: String) { if !order.contains(user) { order.append(user) } }
        func fail(_ user: String, _ code: ErrorCode, _ message: String) {
            if failures[user] == nil { failures[user] = ScramAlterationError(code: code, message: message) }
        }
        let keyed: [(String, Int8)] = request.deletions.map { ($0.name, $0.mechanism) } + request.upsertions.map { ($0.name, $0.mechanism) }
        for (user, mechanism) in keyed {
            note(user)
            if !seen.insert("\(mechanism)/\(user)").inserted {
                fail(user, .duplicateResource, "A user credential cannot be altered twice in the same request")
            }
        }
        for deletion in request.deletions {
            guard !deletion.name.isEmpty else { fail(deletion.name, .unacceptableCredential, "Username must not be empty"); continue }
            guard let mechanism = ScramMechanism(typeCode: deletion.mechanism) else {
                fail(deletion.name, .unsupportedSaslMechanism, "Unknown SCRAM mechanism")
                continue
            }
            alterations.append(ScramAlteration(user: deletion.name, mechanism: mechanism, credential: nil))
        }
        for upsertion in request.upsertions {
            let user = upsertion.name
            guard !user.isEmpty else { fail(user, .unacceptableCredential, "Username must not be empty"); continue }
            guard let mechanism = ScramMechanism(typeCode: upsertion.mechanism) else {
                fail(user, .unsupportedSaslMechanism, "Unknown SCRAM mechanism")
                continue
            }
            let iterations = Int(upsertion.iterations)
            guard iterations >= ScramMechanism.minIterations else { fail(user, .unacceptableCredential, "Too few iterations"); continue }
            guard iterations <= ScramMechanism.maxIterations else { fail(user, .unacceptableCredential, "Too many iterations"); continue }
            let salt = upsertion.salt.getBytes(at: upsertion.salt.readerIndex, length: upsertion.salt.readableBytes) ?? []
            let salted = upsertion.saltedPassword.getBytes(at: upsertion.saltedPassword.readerIndex,
                                                          length: upsertion.saltedPassword.readableBytes) ?? []
            guard !salt.isEmpty, !salted.isEmpty else {
                fail(user, .unacceptableCredential, "Salt and salted password must not be empty")
                continue
            }
            alterations.append(ScramAlteration(
                user: user, mechanism: mechanism,
                credential: ScramCredential(mechanism: mechanism, saltedPassword: salted, salt: salt, iterations: iterations)))
        }
        if authorizationEnabled, !context.allowed(self, .alter, .cluster, "kafka-cluster") {
            for user in order { fail(user, .clusterAuthorizationFailed, "") }
        }
        let applicable = alterations.filter { failures[$0.user] == nil }
        let outcome = applicable.isEmpty ? [:] : await metadataStore.alterScramCredentials(applicable)
        var response = AlterUserScramCredentialsResponse()
        response.results = order.map { user in
            var result = AlterUserScramCredentialsResponse.AlterUserScramCredentialsResult()
            result.user = user
            if let failure = failures[user] ?? (outcome[user] ?? nil) {
                result.errorCode = failure.code.rawValue
                result.errorMessage = failure.message
            } else {
                result.errorMessage = nil
                context.context.logger.info("SCRAM credentials altered", metadata: [
                    "user": "\(user)", "principal": "\(context.context.session.principal)",
                ])
            }
            return result
        }
        return response
    }
}
