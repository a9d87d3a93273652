// LogFileHandle.isCached(from:to:): a fetch range counts as in memory only when every page of it is
// (a range with a few cached pages is read from the disk off the event loop, not sent with sendfile).
import CLibURing
import Foundation
import Testing
@testable import RunnelStorage
#if canImport(Glibc)
import Glibc
#endif

@Suite struct PageCacheCheckTests {
    @Test func aRangeIsCachedOnlyWhenEveryPageIs() throws {
        let dir = TemporaryDirectory()
        let path = dir.path + "/00000000000000000000.log"
        let kib = 1024
        let mib = 1024 * kib
        #expect(FileManager.default.createFile(atPath: path, contents: Data(repeating: 7, count: 3 * mib)))
        let file = try LogFileHandle.open(path, create: false)
        #expect(fsync(file.descriptor) == 0)
        // Evicted (clean pages go at once), and the kernel's readahead off so that reads cache exactly
        // what they read.
        #expect(posix_fadvise(file.descriptor, 0, 0, POSIX_FADV_DONTNEED) == 0)
        file.disableReadahead()
        #expect(!file.isCached(from: 0, to: Int64(3 * mib)))
        // [0, 64 KiB) and [128 KiB, 1 MiB) read back: a hole between them.
        file.warm(from: 0, to: Int64(64 * kib))
        file.warm(from: Int64(128 * kib), to: Int64(mib))
        #expect(file.isCached(from: 0, to: Int64(64 * kib)))
        #expect(file.isCached(from: Int64(128 * kib) + 10, to: Int64(mib)))
        #expect(file.isCached(from: 5, to: 5))
        var pages: UInt64 = 0
        if runnel_cachestat(file.descriptor, 0, 4096, &pages) == 0 {
            // cachestat counts every page: the hole, and a range reaching one byte past the cached part.
            #expect(!file.isCached(from: 0, to: Int64(mib)))
            #expect(!file.isCached(from: Int64(128 * kib), to: Int64(mib) + 1))
        }
        // Without cachestat (kernels before 6.5): mincore over a mapping of the range, the same answers.
        #expect(file.isResident(from: 0, to: Int64(64 * kib)) == true)
        #expect(file.isResident(from: Int64(128 * kib) + 10, to: Int64(mib)) == true)
        #expect(file.isResident(from: 0, to: Int64(mib)) == false)
        #expect(file.isResident(from: Int64(128 * kib), to: Int64(mib) + 1) == false)
        // Neither check reads what it asks about.
        #expect(file.isResident(from: Int64(2 * mib), to: Int64(3 * mib)) == false)
        #expect(file.isResident(from: Int64(2 * mib), to: Int64(3 * mib)) == false)
        #expect(!file.isCached(from: Int64(2 * mib), to: Int64(3 * mib)))
    }
}
