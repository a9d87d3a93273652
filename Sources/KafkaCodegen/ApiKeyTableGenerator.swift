// ApiKeyTableGenerator: the generated ApiKey constants, metadata table and request/response dispatch.

/// Writes `ApiKey+Metadata.swift` and `KafkaMessageDecoder.swift`.
enum ApiKeyTableGenerator {
    static let metadataFileName = "ApiKey+Metadata.swift"
    static let decoderFileName = "KafkaMessageDecoder.swift"

    /// The API name of a request or response schema ("ProduceRequest" → "Produce").
    static func apiName(_ message: MessageSchema) -> String {
        for suffix in ["Request", "Response"] where message.name.hasSuffix(suffix) {
            return String(message.name.dropLast(suffix.count))
        }
        return message.name
    }

    /// The ApiKey constant name ("ApiVersionsRequest" → "apiVersions").
    static func constantName(_ message: MessageSchema) -> String {
        SwiftNames.lowerCamel(apiName(message))
    }

    static func metadata(requests: [MessageSchema]) -> String {
        let sorted = requests.sorted { ($0.apiKey ?? 0) < ($1.apiKey ?? 0) }
        var out = CodeWriter()
        out.line(MessageGenerator.header(for: "every *Request.json"))
        out.blank()
        out.line("extension ApiKey {")
        out.indent()
        for request in sorted {
            guard let key = request.apiKey else { continue }
            out.line("/// \(apiName(request)) (\(key)), valid versions \(request.validVersions).")
            out.line("public static let \(constantName(request)) = ApiKey(rawValue: \(key))")
        }
        out.blank()
        out.line("/// Every API key the schemas define, ascending (retired ones included).")
        out.line("public static var all: [ApiKey] {")
        out.indent()
        out.line("var keys: [ApiKey] = []")
        for request in sorted {
            out.line("keys.append(.\(constantName(request)))")
        }
        out.line("return keys")
        out.dedent()
        out.line("}")
        out.blank()
        let maxKey = sorted.compactMap(\.apiKey).max() ?? 0
        out.line("static let table: [Metadata?] = makeTable()")
        out.blank()
        out.line("static func metadata(for rawValue: Int16) -> Metadata? {")
        out.line("    guard rawValue >= 0 && Int(rawValue) < table.count else { return nil }")
        out.line("    return table[Int(rawValue)]")
        out.line("}")
        out.blank()
        out.line("private static func makeTable() -> [Metadata?] {")
        out.indent()
        out.line("var table: [Metadata?] = Array(repeating: nil, count: \(maxKey + 1))")
        for request in sorted {
            guard let key = request.apiKey else { continue }
            let valid = request.validVersions
            let range = valid.isEmpty ? "nil" : "Int16(\(valid.lowest))...Int16(\(valid.highest ?? valid.lowest))"
            let flexible = request.flexibleVersions.isEmpty ? "nil" : "Int16(\(request.flexibleVersions.lowest))"
            let listeners = "[" + request.listeners.map { SwiftNames.stringLiteral($0) }.joined(separator: ", ") + "]"
            let unstable = request.latestVersionUnstable ? "true" : "false"
            out.line("table[\(key)] = Metadata(name: \(SwiftNames.stringLiteral(apiName(request))), validVersions: \(range), flexibleFrom: \(flexible), listeners: \(listeners), latestVersionUnstable: \(unstable))")
        }
        out.line("return table")
        out.dedent()
        out.line("}")
        out.dedent()
        out.line("}")
        return out.text
    }

    static func decoder(requests: [MessageSchema], responses: [MessageSchema], all: [MessageSchema]) -> String {
        var out = CodeWriter()
        out.line(MessageGenerator.header(for: "every *Request.json and *Response.json"))
        out.line("import NIOCore")
        out.blank()
        out.line("/// Decodes any request or response body by API key and version.")
        out.line("public enum KafkaMessageDecoder {")
        out.indent()
        for (kind, list) in [("Request", requests), ("Response", responses)] {
            let sorted = list.filter { !$0.validVersions.isEmpty }.sorted { ($0.apiKey ?? 0) < ($1.apiKey ?? 0) }
            out.line("/// The generated \(kind.lowercased()) type of an API key, nil when unknown or retired.")
            out.line("public static func \(kind.lowercased())Type(for apiKey: ApiKey) -> (any Kafka\(kind)Message.Type)? {")
            out.indent()
            out.line("switch apiKey.rawValue {")
            for message in sorted {
                guard let key = message.apiKey else { continue }
                out.line("case \(key): return \(message.name).self")
            }
            out.line("default: return nil")
            out.line("}")
            out.dedent()
            out.line("}")
            out.blank()
            out.line("/// Decodes a \(kind.lowercased()) body of `apiKey` at `version`; unknown keys and versions outside the")
            out.line("/// valid range fail with `unsupportedVersion`.")
            out.line("public static func decode\(kind)(apiKey: Int16, version: Int16, from buffer: inout ByteBuffer) throws(KafkaDecodingError) -> any Kafka\(kind)Message {")
            out.indent()
            out.line("switch apiKey {")
            for message in sorted {
                guard let key = message.apiKey else { continue }
                out.line("case \(key): return try \(message.name)(from: &buffer, version: version)")
            }
            out.line("default: throw KafkaDecodingError.unsupportedVersion(apiKey: apiKey, version: version)")
            out.line("}")
            out.dedent()
            out.line("}")
            out.blank()
        }
        out.line("/// The generated type of a schema by its schema name (\"ProduceRequest\", \"OffsetCommitKey\"), nil if unknown.")
        out.line("public static func messageType(named name: String) -> (any KafkaMessage.Type)? {")
        out.indent()
        out.line("switch name {")
        for message in all.sorted(by: { $0.name < $1.name }) {
            out.line("case \(SwiftNames.stringLiteral(message.name)): return \(message.name).self")
        }
        out.line("default: return nil")
        out.line("}")
        out.dedent()
        out.line("}")
        out.dedent()
        out.line("}")
        return out.text
    }
}
