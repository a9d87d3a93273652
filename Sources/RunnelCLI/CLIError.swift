// CLIError: a failure the CLI reports in one line with a hint, and its exit code.

/// A user-facing failure: printed as `error: …` and `hint: …`, exiting with `exitCode`.
struct CLIError: Error {
    /// What went wrong, in one line.
    var message: String
    /// What to do next.
    var hint: String
    /// 1 for runtime failures, 2 for usage and configuration errors.
    var exitCode: Int32
}
