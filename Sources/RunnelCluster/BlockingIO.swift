// Blocking file work (fsyncs above all) off Swift's cooperative pool. That pool has one thread per core,
// and the etcd lease keeper, the replica fetchers and every request's task run on it: a fsync behind
// another process's flush can take seconds, and every task of the process would wait behind it.
import NIOPosix

/// Runs `body` on NIO's blocking-I/O pool (`NIOThreadPool.singleton`) and returns what it returns or
/// throws; on the calling thread when that pool is not running (only while the process exits).
package func runBlockingIO<T: Sendable, E: Error>(_ body: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
    let result: Result<T, E>
    do {
        result = try await NIOThreadPool.singleton.runIfActive { () -> Result<T, E> in
            do throws(E) { return .success(try body()) } catch { return .failure(error) }
        }
    } catch {
        return try body()
    }
    return try result.get()
}
