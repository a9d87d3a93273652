// KeyValueLogHandler: swift-log backend writing one line per event with key=value metadata.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// Writes one line per event to stderr: `2026-01-01T00:00:00.000Z info runnel.server: message key=value …`
/// (values containing spaces, quotes or `=` are quoted), or with `log.format = json` one JSON object,
/// `{"time":…,"level":…,"logger":…,"message":…,"key":"value",…}`.
public struct KeyValueLogHandler: LogHandler {
    /// The logger's label (e.g. `runnel.server`).
    public let label: String
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    /// Text or JSON lines.
    public let format: LogFormat
    private let write: @Sendable (String) -> Void

    /// Creates a handler writing to stderr, or to `write` (for tests).
    public init(label: String, level: Logger.Level, format: LogFormat = .text, write: (@Sendable (String) -> Void)? = nil) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.write = write ?? Self.writeToStandardError
    }

    /// One `write(2)` per line, so lines from concurrent loggers do not interleave.
    @Sendable static func writeToStandardError(_ line: String) {
        var line = line
        line.withUTF8 { bytes in
            #if canImport(Glibc)
            _ = Glibc.write(2, bytes.baseAddress, bytes.count)
            #elseif canImport(Darwin)
            _ = Darwin.write(2, bytes.baseAddress, bytes.count)
            #endif
        }
    }

    /// Installs this handler for every logger in the process, at `level`.
    public static func bootstrap(level: Logger.Level, format: LogFormat = .text) {
        LoggingSystem.bootstrap { label in KeyValueLogHandler(label: label, level: level, format: format) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        if format == .json {
            write(JSONLogLine.render(time: Self.timestamp(), level: "\(event.level)", logger: label,
                                     message: "\(event.message)", metadata: merged))
            return
        }
        var line = Self.timestamp()
        line += " \(event.level) \(label): \(event.message)"
        for key in merged.keys.sorted() {
            guard let value = merged[key] else { continue }
            line += " \(key)=\(Self.quoted("\(value)"))"
        }
        line += "\n"
        write(line)
    }

    static func quoted(_ value: String) -> String {
        guard value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\n" }) else {
            return value
        }
        let escaped = value.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"").replacing("\n", with: "\\n")
        return "\"\(escaped)\""
    }

    static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let millis = Int32(spec.tv_nsec / 1_000_000)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(millis, 3))Z"
    }
}
