// AdminResults: what the admin nouns (acl, user, quota) share after sending a request — per-item
// error codes reported as one line each, and rows printed as a table or JSON.
import Foundation
import KafkaProtocol

/// One item's outcome in an admin response: what it was about (nil: the request), its code and message.
struct AdminOutcome {
    var subject: String?
    var code: Int16
    var message: String?
}

/// Prints every failed item as `error: [subject: ]NAME[: message]` and throws when any failed.
func failOnErrors(_ outcomes: [AdminOutcome]) throws {
    let failed = outcomes.filter { $0.code != 0 }
    for failure in failed {
        let subject = failure.subject.map { "\($0): " } ?? ""
        let message = failure.message.flatMap { $0.isEmpty ? nil : ": \($0)" } ?? ""
        Terminal.printError("error: \(subject)\(ErrorCode(rawValue: failure.code).name)\(message)")
    }
    if !failed.isEmpty { throw CLIError.reported() }
}

/// Prints `rows` as a tab-separated table with `columns` as header, or as a JSON array of objects.
func printRows(_ rows: [[String: String]], columns: [String], json: Bool) throws {
    if json {
        let data = try JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
        return
    }
    print(columns.map { $0.uppercased() }.joined(separator: "\t"))
    for row in rows { print(columns.map { row[$0] ?? "" }.joined(separator: "\t")) }
}
