// DecompressedFrameCache: the decompressed zstd frames of remote segments compressed at rest, shared by
// every reader of the process, and the read-ahead that fills it (docs/decisions/0014, "Read-ahead").
//
// A Fetch answered from a compressed segment ends at some position P; a consumer reading on asks next for
// the bytes after P. So once an answer is built, the frames of the next answer's range are queued for
// decompression on one helper thread while the answer is written and the client consumes it. The next
// Fetch finds them ready (or being decompressed: it waits for that frame, or decompresses a queued frame
// itself when the helper has not reached it yet, so the two cores share the work). Memory is bounded:
// at most `capacity` bytes of frames, queued read-ahead included; the least recently used ready frame
// goes first, and read-ahead that does not fit is not queued. Frames already handed to an answer stay
// alive (ByteBuffer references) until that answer is written, outside the cap, bounded by Fetch sizes.
import Dispatch
import NIOCore
import Synchronization

final class DecompressedFrameCache: Sendable {
    /// A frame of one reader (`segment`: the reader's id, unique in the process).
    struct Key: Hashable, Sendable {
        var segment: UInt64
        var frame: Int
    }

    /// A frame queued for read-ahead: whoever claims it decompresses it; the others wait for `done`.
    final class Pending: Sendable {
        private let claimed = Atomic<Bool>(false)
        let done = DispatchGroup()

        init() { done.enter() }

        /// True for exactly one caller.
        func claim() -> Bool { claimed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged }
    }

    enum Lookup {
        case ready(ByteBuffer)
        case pending(Pending)
        case absent
    }

    private enum Slot {
        case ready(ByteBuffer, lastUse: UInt64)
        case pending(Pending, bytes: Int)
    }

    private struct State {
        var slots: [Key: Slot] = [:]
        var bytes = 0
        var clock: UInt64 = 0
    }

    /// Most bytes of frames held (ready and queued).
    let capacity: Int
    private let state = Mutex(State())
    private static let nextID = Atomic<UInt64>(0)
    /// The broker's cache.
    static let shared = DecompressedFrameCache(capacity: 64 << 20)
    /// Runs read-ahead: one helper thread at most, so read-ahead never takes more than one core.
    static let readAheadQueue = DispatchQueue(label: "runnel.zstd-read-ahead", qos: .utility)

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// A new reader id.
    static func segmentID() -> UInt64 { nextID.add(1, ordering: .relaxed).newValue }

    /// Bytes held now (ready frames and queued read-ahead).
    var bytes: Int { state.withLock { $0.bytes } }
    /// Frames held now (ready and queued).
    var count: Int { state.withLock { $0.slots.count } }

    func lookup(_ key: Key) -> Lookup {
        state.withLock { state in
            switch state.slots[key] {
            case .ready(let bytes, _):
                state.clock += 1
                state.slots[key] = .ready(bytes, lastUse: state.clock)
                return .ready(bytes)
            case .pending(let pending, _): return .pending(pending)
            case nil: return .absent
            }
        }
    }

    /// Keeps a frame decompressed by a reader (not when queued read-ahead holds its place, or it cannot fit).
    func insert(_ key: Key, _ bytes: ByteBuffer) {
        state.withLock { state in
            if case .pending = state.slots[key] { return }
            if case .ready(let old, _) = state.slots[key] { state.bytes -= old.readableBytes; state.slots[key] = nil }
            guard Self.evict(toFit: bytes.readableBytes, capacity: capacity, &state) else { return }
            state.clock += 1
            state.slots[key] = .ready(bytes, lastUse: state.clock)
            state.bytes += bytes.readableBytes
        }
    }

    /// Reserves `bytes` for read-ahead of a frame not held yet. Nil when it is held or queued, or when it
    /// does not fit even after evicting every ready frame older than this reservation.
    func reserve(_ key: Key, bytes: Int) -> Pending? {
        state.withLock { state in
            guard state.slots[key] == nil, Self.evict(toFit: bytes, capacity: capacity, &state) else { return nil }
            let pending = Pending()
            state.slots[key] = .pending(pending, bytes: bytes)
            state.bytes += bytes
            return pending
        }
    }

    /// Ends a reservation: the frame is kept (or, on failure, the place is freed), and waiters wake.
    func complete(_ key: Key, _ pending: Pending, with bytes: ByteBuffer?) {
        state.withLock { state in
            guard case .pending(let held, let reserved) = state.slots[key], held === pending else { return }
            state.bytes -= reserved
            state.slots[key] = nil
            if let bytes, Self.evict(toFit: bytes.readableBytes, capacity: capacity, &state) {
                state.clock += 1
                state.slots[key] = .ready(bytes, lastUse: state.clock)
                state.bytes += bytes.readableBytes
            }
        }
        pending.done.leave()
    }

    /// Drops every frame of a reader (it is closed).
    func remove(segment: UInt64) {
        state.withLock { state in
            for (key, slot) in state.slots where key.segment == segment {
                if case .ready(let bytes, _) = slot {
                    state.bytes -= bytes.readableBytes
                    state.slots[key] = nil
                }
            }
        }
    }

    /// Evicts least recently used ready frames until `need` more bytes fit; false when they cannot.
    private static func evict(toFit need: Int, capacity: Int, _ state: inout State) -> Bool {
        guard need <= capacity else { return false }
        while state.bytes + need > capacity {
            var oldest: (key: Key, lastUse: UInt64, bytes: Int)?
            for (key, slot) in state.slots {
                if case .ready(let bytes, let lastUse) = slot, lastUse < oldest?.lastUse ?? .max {
                    oldest = (key, lastUse, bytes.readableBytes)
                }
            }
            guard let oldest else { return false }
            state.slots[oldest.key] = nil
            state.bytes -= oldest.bytes
        }
        return true
    }
}
