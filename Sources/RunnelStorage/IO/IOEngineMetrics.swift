// IOEngineMetrics: what the I/O engine's sync stage records per group commit (swift-metrics).
import CoreMetrics
import Dispatch

/// Recorded once per write round and once per sync round (never per write or record): how long a round's
/// writes and its fsyncs took, and how many requests and files one round's sync covered (the group-commit
/// batch).
struct IOEngineMetrics: Sendable {
    let writeSeconds: Timer
    let fdatasyncSeconds: Timer
    let syncfsSeconds: Timer
    let groupCommitRequests: Recorder
    let groupCommitFiles: Recorder

    init(logDir: String, factory: any MetricsFactory = MetricsSystem.factory) {
        writeSeconds = Timer(label: "runnel_storage_write_seconds", dimensions: [("log_dir", logDir)], factory: factory)
        fdatasyncSeconds = Timer(label: "runnel_storage_sync_seconds", dimensions: [("log_dir", logDir), ("kind", "fdatasync")],
                                 factory: factory)
        syncfsSeconds = Timer(label: "runnel_storage_sync_seconds", dimensions: [("log_dir", logDir), ("kind", "syncfs")],
                              factory: factory)
        groupCommitRequests = Recorder(label: "runnel_storage_group_commit_requests", dimensions: [("log_dir", logDir)],
                                       aggregate: true, factory: factory)
        groupCommitFiles = Recorder(label: "runnel_storage_group_commit_files", dimensions: [("log_dir", logDir)],
                                    aggregate: true, factory: factory)
    }

    /// Records one write round (every write of the requests taken from the queue at once), started at `start`.
    func recordWriteRound(since start: DispatchTime) {
        writeSeconds.recordNanoseconds(Int64(clamping: DispatchTime.now().uptimeNanoseconds &- start.uptimeNanoseconds))
    }

    /// Records one sync round that synced `files` files for `requests` requests, started at `start`.
    func recordRound(syncfs: Bool, files: Int, requests: Int, since start: DispatchTime) {
        let elapsed = DispatchTime.now().uptimeNanoseconds &- start.uptimeNanoseconds
        (syncfs ? syncfsSeconds : fdatasyncSeconds).recordNanoseconds(Int64(clamping: elapsed))
        groupCommitRequests.record(requests)
        groupCommitFiles.record(files)
    }
}
