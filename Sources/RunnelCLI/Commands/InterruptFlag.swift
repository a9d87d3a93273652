// Turns SIGINT/SIGTERM into a flag that long-running commands (consume, perf) check between polls, so
// they can commit offsets and leave their group instead of dying mid-way.
import Dispatch
import Foundation
import Synchronization

/// Set once SIGINT or SIGTERM arrives (after `install()`); a second signal exits at once.
final class InterruptFlag: Sendable {
    private let raised = Mutex(false)

    /// True once a signal arrived.
    var isRaised: Bool { raised.withLock { $0 } }

    /// Starts watching SIGINT and SIGTERM; keep the returned sources alive while watching.
    func install() -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                let already = raised.withLock { value in
                    defer { value = true }
                    return value
                }
                if already { exit(130) }
            }
            source.resume()
            return source
        }
    }
}
