// WriteBehind: keeps a long buffered write (a compaction's cleaned segment on a buffered log dir — direct
// dirs write it with O_DIRECT, SequentialFileWriter —, a segment copied to the remote tier) from piling up hundreds of megabytes of dirty pages for one final fsync. That fsync
// writes them all back at once, and on ext4 (data=ordered, delayed allocation) the journal commit
// carrying the file's new blocks waits for that data: every other fdatasync of the file system — each
// acks=all produce's — waits with it. Compacting 512 MB while producing at half rate took the
// producer's p99 from 6–8.5 ms to 157–399 ms (docs/benchmarks.md, session 18). Every `step` bytes the
// new range's writeback is started and the range before it waited for, so at most two steps are dirty
// and the final fsync has little left to do (RocksDB's `bytes_per_sync` is the same idea).
import Glibc

struct WriteBehind {
    /// Bytes between two writeback calls.
    let step: Int64
    /// Writeback started for [0, started).
    private var started: Int64 = 0
    /// Written back (waited for) over [0, settled).
    private var settled: Int64 = 0

    static let defaultStep: Int64 = 8 << 20

    init(step: Int64 = defaultStep) { self.step = max(step, 1 << 20) }

    /// Tells that the file holds data up to `end`: starts writeback of each whole new step and waits for
    /// the step before it.
    mutating func wrote(upTo end: Int64, fd: Int32) {
        while end - started >= step {
            if started > settled {
                FileSystem.syncFileRange(fd, offset: settled, length: started - settled,
                                         flags: FileSystem.syncFileRangeWaitBefore | FileSystem.syncFileRangeWrite
                                             | FileSystem.syncFileRangeWaitAfter)
                settled = started
            }
            FileSystem.syncFileRange(fd, offset: started, length: step, flags: FileSystem.syncFileRangeWrite)
            started += step
        }
    }
}
