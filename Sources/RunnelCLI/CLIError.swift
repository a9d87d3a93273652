// CLIError: the one failure type of the CLI — a line saying what went wrong, a hint saying what to do
// next, and the process exit code (0 success, 1 failure, 2 bad usage or configuration).

/// A user-facing failure, printed on stderr as `error: <message> (hint: <hint>)` before exiting with
/// `exitCode`. A failure whose details were already printed (per record, per segment) has no message.
struct CLIError: Error, CustomStringConvertible {
    /// What went wrong, in one line; nil when the command already reported the details.
    var message: String?
    /// What to do next, if there is something to say.
    var hint: String?
    /// 1 for runtime failures, 2 for usage and configuration errors.
    var exitCode: Int32

    init(message: String?, hint: String? = nil, exitCode: Int32) {
        self.message = message
        self.hint = hint
        self.exitCode = exitCode
    }

    /// A mistake in the command line or configuration (exit code 2).
    static func usage(_ message: String, hint: String? = nil) -> CLIError {
        CLIError(message: message, hint: hint, exitCode: 2)
    }

    /// A runtime failure (exit code 1).
    static func failure(_ message: String, hint: String? = nil) -> CLIError {
        CLIError(message: message, hint: hint, exitCode: 1)
    }

    /// A failure the command already reported line by line: exit with `exitCode`, print nothing more.
    static func reported(exitCode: Int32 = 1) -> CLIError {
        CLIError(message: nil, exitCode: exitCode)
    }

    var description: String { message ?? "failed (exit code \(exitCode))" }

    /// The stderr line: `error: <message>`, with ` (hint: <hint>)` when there is a hint; nil if already reported.
    var line: String? {
        guard let message else { return nil }
        guard let hint else { return "error: \(message)" }
        return "error: \(message) (hint: \(hint))"
    }
}
