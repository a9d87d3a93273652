// LogDirectory: one entry of log.dirs — its I/O engine (one ring or posix thread), whether it started
// clean, and its health: persistent write errors take the directory offline, never the process.
import Foundation
import Logging
import Synchronization

/// A log directory and the engine that writes to it.
final class LogDirectory: Sendable {
    static let cleanShutdownMarker = ".kafka_cleanshutdown"
    static let failuresBeforeOffline = 3

    let path: String
    let engine: IOEngine
    /// True when the previous run left the clean-shutdown marker (no recovery needed).
    let startedClean: Bool
    /// Segment data is written with O_DIRECT (`log.io.mode` resolved for this directory's file system).
    let directIO: Bool
    /// The LogManager's tail cache when this directory writes directly (nil otherwise, or when disabled).
    let tailCache: TailCache?
    private let health = Mutex((offline: false, consecutiveFailures: 0))
    private let logger: Logger

    init(path: String, engineKind: IOEngineKind, syncfsMinFiles: Int = 0, syncWorkers: Int = 1, ioMode: LogIOMode = .buffered,
         logger: Logger,
         faults: IOFaultInjector? = nil, tailCache: TailCache? = nil, directSync: DirectSync = .fdatasync) throws(StorageError) {
        self.path = path
        self.logger = logger
        try FileSystem.makeDirectory(path)
        let marker = path + "/" + Self.cleanShutdownMarker
        startedClean = FileSystem.exists(marker)
        // From now on a crash must be detected: the marker is written again only by a clean shutdown.
        FileSystem.unlink(marker)
        FileSystem.syncDirectory(path)
        let resolved = DirectIO.resolve(ioMode, path: path)
        if ioMode == .direct && !resolved.direct {
            throw .io(operation: "log.io.mode = direct: \(resolved.reason)", path: path, errno: EINVAL)
        }
        directIO = resolved.direct
        self.tailCache = resolved.direct ? tailCache : nil
        logger.info("log dir write mode", metadata: ["logDir": "\(path)", "mode": "\(resolved.direct ? "direct" : "buffered")",
                                                     "reason": "\(resolved.reason)"])
        engine = try IOEngine(kind: engineKind, name: path, logger: logger, syncfsMinFiles: syncfsMinFiles, faults: faults,
                              directDsync: resolved.direct && directSync == .dsync,
                              syncWorkers: Self.syncWorkers(configured: syncWorkers, direct: resolved.direct))
    }

    /// `io.sync.workers` for a log dir (decision 0024). Direct path: as configured — there an fdatasync
    /// only commits metadata and flushes the device, so a second pass in flight costs little and shortens
    /// the queue. Buffered path: always one. There each fdatasync also writes pages back, and
    /// Linux reports a writeback error to one fdatasync of the file only: two passes syncing one file at
    /// once could hand the error of one pass's pages to the other pass and acknowledge lost data. (Two in
    /// flight also did worse there in the A/B.)
    static func syncWorkers(configured: Int, direct: Bool) -> Int {
        direct ? max(1, configured) : 1
    }

    var isOffline: Bool { health.withLock { $0.offline } }

    func recordSuccess() {
        health.withLock { $0.consecutiveFailures = 0 }
    }

    /// Counts a failed write or fsync; EIO, or repeated failures, take the directory offline.
    func recordFailure(errno code: Int32, path file: String) {
        let wentOffline = health.withLock { state -> Bool in
            state.consecutiveFailures += 1
            guard !state.offline else { return false }
            if code == EIO || state.consecutiveFailures >= Self.failuresBeforeOffline {
                state.offline = true
                return true
            }
            return false
        }
        logger.error("write failed", metadata: ["logDir": "\(path)", "file": "\(file)", "errno": "\(code)",
                                                 "reason": "\(describeErrno(code))"])
        if wentOffline { logger.critical("log directory offline after persistent I/O errors", metadata: ["logDir": "\(path)"]) }
    }

    /// Marks the directory offline (tests, operator action).
    func markOffline() { health.withLock { $0.offline = true } }

    func writeCleanShutdownMarker() {
        guard !isOffline else { return }
        let marker = path + "/" + Self.cleanShutdownMarker
        if let handle = try? LogFileHandle.open(marker, create: true) { try? handle.sync() }
        FileSystem.syncDirectory(path)
    }
}
