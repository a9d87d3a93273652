// TaggedField: a tagged field the generated code does not know, kept so it can be written back.
import NIOCore

/// One entry of a flexible-version tagged field section that the schema does not define for the
/// version it was read in. Kept verbatim (a slice of the input) and written back on encode.
public struct TaggedField: Hashable, Sendable {
    /// The field's tag.
    public var tag: UInt32
    /// The field's raw bytes (without tag or size prefix).
    public var data: ByteBuffer

    public init(tag: UInt32, data: ByteBuffer) {
        self.tag = tag
        self.data = data
    }
}
