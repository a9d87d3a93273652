// A broker with its storage open and nothing listening, on a temporary log dir, with one event loop to
// run handlers on: the shared base of the handler tests' harnesses.
import Foundation
import KafkaProtocol
import Logging
import NIOPosix
import RunnelStorage
@testable import RunnelBroker

class OfflineBroker {
    let directory: String
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let broker: Broker
    /// Whether the log dir is removed with this broker (not when it reopened another's).
    private let ownsDirectory: Bool

    /// A broker on the default config, its log dir a new directory named `prefix` + a UUID.
    init(prefix: String) throws {
        directory = NSTemporaryDirectory() + prefix + UUID().uuidString
        ownsDirectory = true
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var config = BrokerConfig()
        try config.set("log.dirs", to: directory)
        broker = try Broker(config: config, group: group, logger: Logger(label: "test"))
    }

    /// A broker on the default config reopening `directory`, another broker's log dir (a restart),
    /// which it leaves in place.
    init(reopening directory: String) throws {
        self.directory = directory
        ownsDirectory = false
        var config = BrokerConfig()
        try config.set("log.dirs", to: directory)
        broker = try Broker(config: config, group: group, logger: Logger(label: "test"))
    }

    deinit {
        tearDownOffThePool(broker.logManager, group, removing: ownsDirectory ? directory : nil)
    }

    /// The handler context of a request with `apiKey` at `version`, from a test client.
    func request(_ apiKey: Int16, version: Int16) -> HandlerRequest {
        let header = RequestHeader(apiKey: apiKey, apiVersion: version, correlationId: 1, clientId: "test")
        let context = RequestContext(eventLoop: group.next(), clientAddress: nil, localAddress: nil,
                                     connectionId: "test", listenerName: "PLAINTEXT", logger: Logger(label: "test"))
        return HandlerRequest(header: header, context: context)
    }
}

/// Shuts `manager` (each log's fdatasync) and `group` down and removes `directory`, on a thread of its own.
/// A harness's deinit runs where its test ends, on one of the cooperative pool's threads (two on a 2-core
/// machine): blocking there while a busy disk makes each fdatasync take seconds held every async test
/// of the process for ~15 s (seen with gdb: both pool threads in `closeCleanly`'s fdatasync). A test that
/// reopens a log dir shuts its first broker down itself first (shutdown is idempotent).
func tearDownOffThePool(_ manager: LogManager, _ group: MultiThreadedEventLoopGroup, removing directory: String?) {
    let thread = Thread {
        manager.shutdown()
        try? group.syncShutdownGracefully()
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }
    thread.name = "test-teardown"
    thread.start()
}
