// ClientQuotaEntity: Kafka's client quota entities (a user, a client id, both, or an IP address; each a
// name or the `<default>` entity), the quota keys each accepts with Kafka's validation, and how an
// entity is stored as a cluster record of kind `quota` (key `users/<u>/clients/<c>` like Kafka's old
// ZooKeeper config paths, names percent-encoded; value a JSON object of quota key → number).
import Foundation
import KafkaProtocol
import NIOCore

/// One component of an entity: a name, or the default entity of its type (`<default>`).
enum ClientQuotaEntityName: Hashable, Sendable, CustomStringConvertible {
    case named(String)
    case defaultEntity

    /// The wire form: the name, or nil for the default entity.
    var wireName: String? {
        if case .named(let name) = self { return name }
        return nil
    }

    init(wireName: String?) { self = wireName.map(Self.named) ?? .defaultEntity }

    var description: String { wireName ?? "<default>" }
}

/// A quota entity: Kafka's user / client-id / user+client-id, or an IP address (connection quotas).
struct ClientQuotaEntity: Hashable, Sendable, CustomStringConvertible {
    static let userType = "user"
    static let clientIdType = "client-id"
    static let ipType = "ip"

    var user: ClientQuotaEntityName?
    var clientId: ClientQuotaEntityName?
    var ip: ClientQuotaEntityName?

    init(user: ClientQuotaEntityName? = nil, clientId: ClientQuotaEntityName? = nil, ip: ClientQuotaEntityName? = nil) {
        self.user = user
        self.clientId = clientId
        self.ip = ip
    }

    /// (type, wire name) pairs in Kafka's order.
    var components: [(type: String, name: String?)] {
        var out: [(String, String?)] = []
        if let user { out.append((Self.userType, user.wireName)) }
        if let clientId { out.append((Self.clientIdType, clientId.wireName)) }
        if let ip { out.append((Self.ipType, ip.wireName)) }
        return out
    }

    var description: String { components.map { "\($0.type)=\($0.name ?? "<default>")" }.joined(separator: ",") }

    /// The entity a request names, checked as Kafka's controller checks it (INVALID_REQUEST and its message).
    static func validated(_ components: [(type: String, name: String?)]) -> Result<ClientQuotaEntity, ClientQuotaError> {
        guard !components.isEmpty else { return .failure(.invalid("Invalid empty client quota entity")) }
        var entity = ClientQuotaEntity()
        for (type, name) in components {
            let value = ClientQuotaEntityName(wireName: name)
            switch type {
            case userType where entity.user == nil: entity.user = value
            case clientIdType where entity.clientId == nil: entity.clientId = value
            case ipType where entity.ip == nil: entity.ip = value
            case userType, clientIdType, ipType:
                return .failure(.invalid("Invalid client quota entity, duplicate entity entry \(type)"))
            default:
                return .failure(.invalid("Unhandled client quota entity type: \(type)"))
            }
            if let name, name.isEmpty { return .failure(.invalid("Empty \(type) not supported")) }
        }
        if entity.ip != nil, entity.user != nil || entity.clientId != nil {
            return .failure(.invalid("Invalid quota entity combination, IP entity should not be combined with User or ClientId"))
        }
        if case .named(let address)? = entity.ip, !Self.isIPAddress(address) {
            return .failure(.invalid("\(address) is not a valid IP or resolvable host."))
        }
        return .success(entity)
    }

    /// The quota keys this entity accepts (Kafka's QuotaConfig: user/client-id configs, or IP configs).
    var acceptedKeys: [ClientQuotaKey] {
        ip != nil ? [.connectionCreationRate] : [.producerByteRate, .consumerByteRate, .requestPercentage, .controllerMutationRate]
    }

    // MARK: Record key

    /// The record key: `users/<u>`, `clients/<c>`, `users/<u>/clients/<c>` or `ips/<ip>`.
    var recordKey: String {
        var parts: [String] = []
        if let user { parts += ["users", Self.encode(user)] }
        if let clientId { parts += ["clients", Self.encode(clientId)] }
        if let ip { parts += ["ips", Self.encode(ip)] }
        return parts.joined(separator: "/")
    }

    init?(recordKey: String) {
        let parts = recordKey.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !parts.isEmpty, parts.count % 2 == 0 else { return nil }
        self.init()
        for index in stride(from: 0, to: parts.count, by: 2) {
            guard let name = Self.decode(parts[index + 1]) else { return nil }
            switch parts[index] {
            case "users": user = name
            case "clients": clientId = name
            case "ips": ip = name
            default: return nil
            }
        }
    }

    private static let defaultMarker = "<default>"
    /// Unreserved characters stay; everything else (`/`, `<`, `%`, …) is percent-encoded (Kafka's Sanitizer does the same).
    private static let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:@")

    private static func encode(_ name: ClientQuotaEntityName) -> String {
        guard case .named(let text) = name else { return defaultMarker }
        return text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    private static func decode(_ part: String) -> ClientQuotaEntityName? {
        if part == defaultMarker { return .defaultEntity }
        return part.removingPercentEncoding.map(ClientQuotaEntityName.named)
    }

    private static func isIPAddress(_ text: String) -> Bool {
        (try? SocketAddress(ipAddress: text, port: 0)) != nil
    }
}

/// The quota keys Kafka defines, with the value type its validation applies.
enum ClientQuotaKey: String, CaseIterable, Sendable {
    case producerByteRate = "producer_byte_rate"
    case consumerByteRate = "consumer_byte_rate"
    case requestPercentage = "request_percentage"
    case controllerMutationRate = "controller_mutation_rate"
    case connectionCreationRate = "connection_creation_rate"

    /// Kafka checks LONG and INT values for range and fractions; DOUBLE values only for > 0.
    private var integralLimit: Double? {
        switch self {
        case .producerByteRate, .consumerByteRate: Double(Int64.max)
        case .connectionCreationRate: Double(Int32.max)
        case .requestPercentage, .controllerMutationRate: nil
        }
    }

    /// Kafka's validation of one value for an entity (the messages are Kafka's).
    static func validate(_ key: String, _ value: Double, for entity: ClientQuotaEntity) -> ClientQuotaError? {
        guard let quotaKey = ClientQuotaKey(rawValue: key), entity.acceptedKeys.contains(quotaKey) else {
            return .invalid("Invalid configuration key \(key)")
        }
        guard value > 0 else { return .invalid("Quota \(key) must be greater than 0") }
        // Runnel: the stored form is JSON, which has no infinity (Kafka would store one for a DOUBLE key).
        guard value.isFinite else { return .invalid("Quota \(key) must be a finite number") }
        if let limit = quotaKey.integralLimit {
            guard value <= limit else {
                return .invalid("Proposed value for \(key) is too large for \(limit == Double(Int32.max) ? "an INT" : "a LONG").")
            }
            guard abs(value.truncatingRemainder(dividingBy: 1)) <= 1e-6 else { return .invalid("\(key) cannot be a fractional value.") }
        }
        return nil
    }
}

/// Why a quota request or alteration was refused: Kafka's code and message.
struct ClientQuotaError: Error, Equatable, Sendable {
    var code: ErrorCode
    var message: String

    static func invalid(_ message: String) -> ClientQuotaError { ClientQuotaError(code: .invalidRequest, message: message) }
}

/// One entity's stored quotas: key → value (the record's JSON object).
struct StoredClientQuotas: Equatable, Sendable {
    var values: [String: Double]

    init(values: [String: Double] = [:]) { self.values = values }

    init?(json: String) {
        guard let data = json.data(using: .utf8),
              let decoded = try? JSONDecoder().decode([String: Double].self, from: data) else { return nil }
        values = decoded
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(values)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
