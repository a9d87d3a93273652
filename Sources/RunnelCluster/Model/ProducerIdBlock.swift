// ProducerIdBlock: a range of producer ids reserved for one broker.

/// A block of producer ids handed to one broker (Kafka's AllocateProducerIds).
public struct ProducerIdBlock: Sendable, Equatable {
    /// The first id of the block.
    public var firstProducerId: Int64
    /// How many ids it holds.
    public var size: Int64

    /// Creates a block.
    public init(firstProducerId: Int64, size: Int64) {
        self.firstProducerId = firstProducerId
        self.size = size
    }

    /// One past the last id.
    public var end: Int64 { firstProducerId + size }
}
