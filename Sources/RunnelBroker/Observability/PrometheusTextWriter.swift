// PrometheusTextWriter: writes metric families in the Prometheus text exposition format (0.0.4), for
// the values /metrics computes when it is scraped (partitions, groups), beside swift-prometheus' output.

/// Appends `# HELP`, `# TYPE` and sample lines to a byte buffer. Label values are escaped as the format
/// requires (backslash, double quote, line feed), so topic and group names cannot break a line.
struct PrometheusTextWriter {
    private(set) var bytes: [UInt8]

    init(reservingCapacity capacity: Int = 16 * 1024) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Starts a family: its help line and type (`gauge`, `counter`).
    mutating func family(_ name: String, type: String, help: String) {
        append("# HELP ")
        append(name)
        append(" ")
        append(help)
        append("\n# TYPE ")
        append(name)
        append(" ")
        append(type)
        append("\n")
    }

    /// One sample of the current family.
    mutating func sample(_ name: String, _ labels: KeyValuePairs<String, String> = [:], _ value: Int64) {
        append(name)
        if !labels.isEmpty {
            bytes.append(UInt8(ascii: "{"))
            var first = true
            for (label, text) in labels {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                append(label)
                append("=\"")
                appendEscaped(text)
                bytes.append(UInt8(ascii: "\""))
            }
            bytes.append(UInt8(ascii: "}"))
        }
        bytes.append(UInt8(ascii: " "))
        append(String(value))
        bytes.append(UInt8(ascii: "\n"))
    }

    private mutating func append(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    private mutating func appendEscaped(_ text: String) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): append("\\\\")
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\n"): append("\\n")
            default: bytes.append(byte)
            }
        }
    }
}
