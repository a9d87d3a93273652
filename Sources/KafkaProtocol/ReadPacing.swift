// ReadPacing: SO_RCVLOWAT set from the bytes an incomplete frame still lacks, so the kernel wakes a
// connection's event loop once per large frame instead of once per arriving segment.
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Paces a connection's reads to the frame being received. While a large frame is incomplete, the
/// socket's receive low-water mark (SO_RCVLOWAT) is raised so the kernel wakes the event loop only
/// once most of the frame's missing bytes have arrived, instead of for every segment — a peer writing
/// over TLS sends one 16 KiB record per write, and each cost the reader a wake-up (about 50,000
/// context switches per GB of produce against 5,000 in plaintext, before this).
///
/// The mark stays below the bytes that must still cross the socket: the frame's missing bytes minus
/// `slack`, what a layer in front of the frame decoder may already hold (TLS: one partial record), so
/// it never waits for bytes that are not coming. It drops back to 1 (the kernel's default) as the
/// frame completes. Linux also wakes the reader when its receive buffer fills, whatever the mark.
public struct ReadPacing: Sendable {
    /// Bytes a handler in front of the frame decoder may hold already, subtracted from the missing bytes.
    public var slack: Int
    /// Frames missing fewer bytes than this are not paced (the wake-ups saved do not pay the syscalls).
    public var minimum: Int
    /// The highest mark set (and never above a quarter of the socket's receive buffer: see `pace`).
    public var maximum: Int
    /// The mark as last set.
    public private(set) var lowWater = 1
    /// Off after a refused setsockopt (not a TCP socket: tests' embedded channels).
    public private(set) var isEnabled = true

    public init(slack: Int, minimum: Int = 64 << 10, maximum: Int = 1 << 20) {
        self.slack = slack
        self.minimum = minimum
        self.maximum = maximum
    }

    /// Plain TCP: every missing byte must still cross the socket.
    public static let plaintext = ReadPacing(slack: 0)
    /// Behind TLS: the TLS layer may hold one partial record (16 KiB + 2 KiB expansion + header).
    public static let tls = ReadPacing(slack: 32 << 10)

    /// The mark for a frame lacking `missingBytes` (1: no pacing).
    public func mark(missingBytes: Int) -> Int {
        let missing = missingBytes - slack
        return missing >= minimum ? min(missing, maximum) : 1
    }

    /// Sets the channel's SO_RCVLOWAT for a frame lacking `missingBytes`, when that changes it enough:
    /// lowered at once (never wait for more than is coming), raised only when that halves the
    /// wake-ups, so a frame in progress costs a few setsockopt calls, not one per read.
    /// Call on the channel's event loop.
    public mutating func pace(missingBytes: Int, channel: any Channel) {
        guard isEnabled else { return }
        var wanted = mark(missingBytes: missingBytes)
        guard changesEnough(wanted) else { return }
        #if canImport(Glibc)
        let option = ChannelOptions.Types.SocketOption(level: .socket, name: NIOBSDSocket.Option(rawValue: SO_RCVLOWAT))
        do {
            if wanted > lowWater {
                // Raising the mark above what the receive buffer holds makes Linux grow the buffer to fit
                // it and clamp the TCP window to the mark (tcp_set_rcvlowat), which stops the buffer's
                // autotuning at that size: a peer then writes ahead by at most one mark, and sender and
                // reader take turns instead of overlapping. Stay within a quarter of the buffer autotuning
                // already gave (it grows while the connection is busy).
                let buffer = try channel.syncOptions?.getOption(.socketOption(.so_rcvbuf)) ?? 0
                wanted = min(wanted, Int(buffer) / 4)
                if wanted < minimum { wanted = 1 }
                guard changesEnough(wanted) else { return }
            }
            try channel.syncOptions?.setOption(option, value: SocketOptionValue(wanted))
            lowWater = wanted
        } catch {
            isEnabled = false
        }
        #else
        isEnabled = false
        #endif
    }

    /// Lowered at once; raised only when that at least halves the wake-ups.
    private func changesEnough(_ wanted: Int) -> Bool { wanted < lowWater || wanted >= lowWater * 2 }
}
