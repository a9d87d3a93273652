// CodegenError: why a schema could not be turned into Swift.

/// A schema file that cannot be read or understood.
public enum CodegenError: Error, CustomStringConvertible {
    case invalidSchema(String)
    case io(String)

    public var description: String {
        switch self {
        case .invalidSchema(let message): return "invalid schema: \(message)"
        case .io(let message): return "I/O error: \(message)"
        }
    }
}
