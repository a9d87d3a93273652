// `runnel user create|list|delete`: SCRAM credentials (AlterUserScramCredentials /
// DescribeUserScramCredentials, or the stopped node's metadata file with --offline).
import ArgumentParser
import Foundation
import KafkaProtocol
import NIOCore
import RunnelBroker
import RunnelClient

/// The `user` noun: SCRAM users.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Create, list and delete SCRAM users (SASL/SCRAM-SHA-256 and SCRAM-SHA-512).",
        discussion: """
        EXAMPLES:
          runnel user create alice --mechanism SCRAM-SHA-512 --password alice-secret
          runnel user list
          runnel user delete alice --mechanism SCRAM-SHA-512
          runnel user create admin --password s3cret --offline --config runnel.toml   # before the first start
        """,
        subcommands: [UserCreate.self, UserList.self, UserDelete.self])
}

extension ScramMechanism: ExpressibleByArgument {}

/// `--offline` and the broker configuration it needs.
struct OfflineOptions: ParsableArguments {
    @Flag(help: "Write the stopped node's metadata file instead of asking a broker (metadata.store=local).")
    var offline = false

    @Option(name: .long, help: "The broker's TOML config file (with --offline).")
    var config: String?

    func load() throws -> BrokerConfig {
        do {
            return try BrokerConfig.load(path: config, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw CLIError.usage(error.description, hint: error.hint)
        }
    }

    /// Runs an offline change with the loaded configuration, reporting failures as one CLI error line.
    func run<T>(_ body: (BrokerConfig) async throws -> T) async throws -> T {
        let config = try load()
        do {
            return try await body(config)
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError.failure("\(error)")
        }
    }
}

private func checkResults(_ results: [(user: String, code: Int16, message: String?)]) throws {
    try failOnErrors(results.map { AdminOutcome(subject: $0.user, code: $0.code, message: $0.message) })
}

struct UserCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a SCRAM user or change its password.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var offline: OfflineOptions
    @Argument(help: "The user name.") var name: String
    @Option(help: "SCRAM-SHA-256 or SCRAM-SHA-512.") var mechanism: ScramMechanism = .sha512
    @Option(help: "The password (or use --password-file).") var password: String?
    @Option(help: "A file whose first line is the password.") var passwordFile: String?
    @Option(help: "PBKDF2 iterations (4096 to 16384).") var iterations: Int = 4096

    func resolvedPassword() throws -> String {
        if let password { return password }
        guard let passwordFile else { throw CLIError.usage("give --password or --password-file") }
        guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
            throw CLIError.usage("cannot read \(passwordFile)")
        }
        return String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
    }

    func run() async throws {
        let password = try resolvedPassword()
        guard !password.isEmpty else { throw CLIError.usage("the password is empty") }
        if offline.offline {
            try await offline.run { config in
                try await OfflineScramCredentials.upsert(config: config, user: name, mechanism: mechanism,
                                                         password: password, iterations: iterations)
            }
            print("Created \(mechanism.rawValue) credentials for \(name) (offline).")
            return
        }
        try await connection.run { client in
            let salt = ScramMessages.randomBytes(32)
            var upsertion = AlterUserScramCredentialsRequest.ScramCredentialUpsertion()
            upsertion.name = name
            upsertion.mechanism = mechanism.typeCode
            upsertion.iterations = Int32(iterations)
            upsertion.salt = ByteBuffer(bytes: salt)
            upsertion.saltedPassword = ByteBuffer(bytes: try mechanism.saltedPassword(password, salt: salt, iterations: iterations))
            var request = AlterUserScramCredentialsRequest()
            request.upsertions = [upsertion]
            let response = try await client.sendToAny(request)
            try checkResults(response.results.map { ($0.user, $0.errorCode, $0.errorMessage) })
            print("Created \(mechanism.rawValue) credentials for \(name).")
        }
    }
}

struct UserDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a SCRAM user's credentials.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var offline: OfflineOptions
    @Argument(help: "The user name.") var name: String
    @Option(help: "SCRAM-SHA-256 or SCRAM-SHA-512.") var mechanism: ScramMechanism = .sha512

    func run() async throws {
        if offline.offline {
            try await offline.run { config in
                try await OfflineScramCredentials.delete(config: config, user: name, mechanism: mechanism)
            }
            print("Deleted \(mechanism.rawValue) credentials of \(name) (offline).")
            return
        }
        try await connection.run { client in
            var deletion = AlterUserScramCredentialsRequest.ScramCredentialDeletion()
            deletion.name = name
            deletion.mechanism = mechanism.typeCode
            var request = AlterUserScramCredentialsRequest()
            request.deletions = [deletion]
            let response = try await client.sendToAny(request)
            try checkResults(response.results.map { ($0.user, $0.errorCode, $0.errorMessage) })
            print("Deleted \(mechanism.rawValue) credentials of \(name).")
        }
    }
}

struct UserList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List SCRAM users and their mechanisms.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var offline: OfflineOptions
    @OptionGroup var output: OutputOptions

    func show(_ users: [String: [(mechanism: String, iterations: Int)]]) throws {
        if output.isJSON {
            let rows = users.keys.sorted().map { user in
                ["user": user, "credentials": users[user, default: []].map { ["mechanism": $0.mechanism, "iterations": "\($0.iterations)"] }] as [String: Any]
            }
            let data = try JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("USER\tMECHANISM\tITERATIONS")
        for user in users.keys.sorted() {
            for credential in users[user, default: []] { print("\(user)\t\(credential.mechanism)\t\(credential.iterations)") }
        }
    }

    func run() async throws {
        if offline.offline {
            try show(try await offline.run { try await OfflineScramCredentials.list(config: $0) })
            return
        }
        try await connection.run { client in
            var request = DescribeUserScramCredentialsRequest()
            request.users = nil
            let response = try await client.sendToAny(request)
            guard response.errorCode == 0 else {
                throw CLIError.failure("DescribeUserScramCredentials: \(ErrorCode(rawValue: response.errorCode).name)")
            }
            var users: [String: [(mechanism: String, iterations: Int)]] = [:]
            for result in response.results where result.errorCode == 0 {
                users[result.user] = result.credentialInfos.map {
                    (ScramMechanism(typeCode: $0.mechanism)?.rawValue ?? "UNKNOWN", Int($0.iterations))
                }
            }
            try show(users)
        }
    }
}
