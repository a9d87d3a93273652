// A GroupLogStore whose appends wait until the test releases them (to observe in-flight commits).
import Synchronization
@testable import RunnelGroups

final class SlowGroupLogStore: GroupLogStore {
    private let state = Mutex<(waiting: Int, released: Bool)>((0, false))

    var waiting: Int { state.withLock { $0.waiting } }

    func release() { state.withLock { $0.released = true } }

    func append(partition: Int32, records: [GroupLogRecord], producer: GroupLogProducer?) async throws(GroupLogStoreError) {
        state.withLock { $0.waiting += 1 }
        for _ in 0..<5000 where !state.withLock({ $0.released }) {
            try? await Task.sleep(for: .milliseconds(1))
        }
        state.withLock { $0.waiting -= 1 }
    }

    func load(partition: Int32) async throws(GroupLogStoreError) -> [GroupLogEntry] { [] }
}
