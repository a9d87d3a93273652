// TLSContextReloader: a listener's server TLS context, rebuilt when its key store or trust store files
// change on disk (checked every `ssl.reload.check.interval.ms`), so renewed certificates take effect
// for new connections without a restart.
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOSSL

/// The current TLS context of one listener and the files it was built from.
public final class TLSContextReloader: Sendable {
    private struct State {
        var context: NIOSSLContext
        var stamps: [String: Date?]
    }

    let listener: String
    let files: [String]
    private let build: @Sendable () throws -> NIOSSLContext
    private let state: NIOLockedValueBox<State>

    init(listener: String, files: [String], build: @escaping @Sendable () throws -> NIOSSLContext) throws {
        self.listener = listener
        self.files = files
        self.build = build
        state = NIOLockedValueBox(State(context: try build(), stamps: Self.stamps(files)))
    }

    /// The context new connections use.
    public var context: NIOSSLContext { state.withLockedValue { $0.context } }

    private static func stamps(_ files: [String]) -> [String: Date?] {
        Dictionary(uniqueKeysWithValues: files.map { path in
            (path, (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate]) as? Date)
        })
    }

    /// Rebuilds the context when a file changed; a file that cannot be used keeps the previous context
    /// (logged). Returns true when the context was replaced.
    @discardableResult
    func reloadIfChanged(logger: Logger) -> Bool {
        let now = Self.stamps(files)
        guard state.withLockedValue({ $0.stamps != now }) else { return false }
        do {
            let fresh = try build()
            state.withLockedValue { $0 = State(context: fresh, stamps: now) }
            logger.info("TLS key store reloaded", metadata: ["listener": "\(listener)", "files": "\(files.joined(separator: ","))"])
            return true
        } catch {
            state.withLockedValue { $0.stamps = now }  // do not retry until the files change again
            logger.error("TLS key store changed but cannot be used; keeping the previous one",
                         metadata: ["listener": "\(listener)", "error": "\(error)"])
            return false
        }
    }
}

extension Broker {
    /// Checks every TLS listener's files every `ssl.reload.check.interval.ms` (0 disables).
    func startTLSReloading(_ configuration: ServerConfiguration) -> Task<Void, Never>? {
        let reloaders = configuration.security.values.compactMap(\.tls)
        let interval = config["ssl.reload.check.interval.ms"]?.intValue ?? 0
        guard !reloaders.isEmpty, interval > 0 else { return nil }
        let logger = logger
        return Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(interval))  // a timer, not synchronization
                for reloader in reloaders { reloader.reloadIfChanged(logger: logger) }
            }
        }
    }
}
