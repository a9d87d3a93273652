// The JSON of etcd's v3 HTTP gateway (grpc-gateway over etcdserverpb): base64 keys and values,
// int64 fields as JSON strings, fields equal to their default omitted from answers.
import Foundation

/// JSON encoding and decoding of gateway messages. Nothing here does I/O.
enum EtcdWire {
    // MARK: Encoding requests

    static func base64(_ key: String) -> String { Data(key.utf8).base64EncodedString() }
    static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    static func rangeBody(_ range: EtcdKeyRange, revision: Int64? = nil) -> [String: Any] {
        var body: [String: Any] = ["key": base64(range.key)]
        if let end = range.rangeEnd { body["range_end"] = base64(end) }
        if let revision { body["revision"] = String(revision) }
        return body
    }

    static func putBody(key: String, value: Data, lease: Int64) -> [String: Any] {
        var body: [String: Any] = ["key": base64(key), "value": value.base64EncodedString()]
        if lease != 0 { body["lease"] = String(lease) }
        return body
    }

    static func deleteBody(_ range: EtcdKeyRange) -> [String: Any] {
        var body: [String: Any] = ["key": base64(range.key)]
        if let end = range.rangeEnd { body["range_end"] = base64(end) }
        return body
    }

    static func compareBody(_ compare: EtcdCompare) -> [String: Any] {
        var body: [String: Any] = ["key": base64(compare.key), "result": compare.result.rawValue]
        switch compare.target {
        case .version(let v): body["target"] = "VERSION"; body["version"] = String(v)
        case .createRevision(let r): body["target"] = "CREATE"; body["create_revision"] = String(r)
        case .modRevision(let r): body["target"] = "MOD"; body["mod_revision"] = String(r)
        case .value(let value): body["target"] = "VALUE"; body["value"] = value.base64EncodedString()
        case .lease(let id): body["target"] = "LEASE"; body["lease"] = String(id)
        }
        return body
    }

    static func operationBody(_ operation: EtcdOperation) -> [String: Any] {
        switch operation {
        case .put(let key, let value, let lease): ["request_put": putBody(key: key, value: value, lease: lease)]
        case .delete(let range): ["request_delete_range": deleteBody(range)]
        case .range(let range): ["request_range": rangeBody(range)]
        }
    }

    static func transactionBody(_ txn: EtcdTransaction) -> [String: Any] {
        ["compare": txn.compare.map(compareBody), "success": txn.success.map(operationBody),
         "failure": txn.failure.map(operationBody)]
    }

    static func encode(_ body: [String: Any]) -> Data {
        // Only strings, numbers, arrays and dictionaries built above: serialization cannot fail.
        (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data("{}".utf8)
    }

    // MARK: Decoding answers

    /// A decoding failure, described for `EtcdError.Kind.malformedResponse`.
    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    static func object(_ data: Data) throws(Malformed) -> [String: Any] {
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: data) } catch {
            throw Malformed(description: "not JSON: \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
        guard let object = parsed as? [String: Any] else { throw Malformed(description: "not a JSON object") }
        return object
    }

    /// etcd's error body (`{"error": "...", "message": "...", "code": N}`) or a stream's error object.
    static func serverError(_ object: [String: Any]) -> (code: Int, message: String)? {
        if let nested = object["error"] as? [String: Any] {
            let code = int(nested["grpc_code"]).map(Int.init) ?? int(nested["code"]).map(Int.init) ?? 2
            return (code, (nested["message"] as? String) ?? "\(nested)")
        }
        guard object["error"] != nil || object["message"] != nil, object["header"] == nil, object["result"] == nil else {
            return nil
        }
        let code = int(object["code"]).map(Int.init) ?? 2
        return (code, (object["message"] as? String) ?? (object["error"] as? String) ?? "unknown error")
    }

    /// An int64 sent as a JSON string (or, leniently, a number); nil when absent or unreadable.
    static func int(_ value: Any?) -> Int64? {
        switch value {
        case let text as String: Int64(text)
        case let number as NSNumber: number.int64Value
        default: nil
        }
    }

    static func headerRevision(_ object: [String: Any]) -> Int64 {
        int((object["header"] as? [String: Any])?["revision"]) ?? 0
    }

    static func keyValue(_ object: [String: Any]) throws(Malformed) -> EtcdKeyValue {
        guard let keyText = object["key"] as? String, let key = Data(base64Encoded: keyText) else {
            throw Malformed(description: "key-value without a base64 key")
        }
        var value = Data()
        if let valueText = object["value"] as? String {
            guard let decoded = Data(base64Encoded: valueText) else { throw Malformed(description: "value is not base64") }
            value = decoded
        }
        return EtcdKeyValue(key: String(decoding: key, as: UTF8.self), value: value,
                            createRevision: int(object["create_revision"]) ?? 0,
                            modRevision: int(object["mod_revision"]) ?? 0,
                            version: int(object["version"]) ?? 0, lease: int(object["lease"]) ?? 0)
    }

    static func keyValues(_ object: [String: Any]) throws(Malformed) -> [EtcdKeyValue] {
        guard let list = object["kvs"] else { return [] }
        guard let items = list as? [[String: Any]] else { throw Malformed(description: "kvs is not a list") }
        var result: [EtcdKeyValue] = []
        for item in items { result.append(try keyValue(item)) }
        return result
    }

    static func transactionResult(_ object: [String: Any]) throws(Malformed) -> EtcdTransactionResult {
        var results: [EtcdOperationResult] = []
        for item in (object["responses"] as? [[String: Any]]) ?? [] {
            if let range = item["response_range"] as? [String: Any] {
                results.append(.range(try keyValues(range)))
            } else if item["response_put"] != nil {
                results.append(.put)
            } else if let delete = item["response_delete_range"] as? [String: Any] {
                results.append(.delete(deleted: int(delete["deleted"]) ?? 0))
            } else {
                throw Malformed(description: "unknown transaction response \(item.keys.sorted())")
            }
        }
        return EtcdTransactionResult(succeeded: (object["succeeded"] as? Bool) ?? false,
                                     revision: headerRevision(object), results: results)
    }

    static func events(_ result: [String: Any]) throws(Malformed) -> [EtcdEvent] {
        var events: [EtcdEvent] = []
        for item in (result["events"] as? [[String: Any]]) ?? [] {
            guard let kv = item["kv"] as? [String: Any] else { throw Malformed(description: "watch event without kv") }
            let kind: EtcdEvent.Kind = (item["type"] as? String) == "DELETE" ? .delete : .put
            events.append(EtcdEvent(kind: kind, keyValue: try keyValue(kv)))
        }
        return events
    }
}
