// LogManager+Metrics: per-log-dir readings for /metrics, taken when it is scraped.

extension LogManager {
    /// Requests waiting in each log dir's I/O engine (queued for the write stage or written and
    /// waiting for their fsync), by log dir path.
    public var ioQueueDepths: [(logDir: String, depth: Int)] {
        directories.map { ($0.path, $0.engine.queueDepth) }
    }
}
