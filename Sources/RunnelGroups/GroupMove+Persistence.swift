// A fence and what it moved survive a coordinator failover: they are kept in the group's metadata record,
// as a tagged field of GroupMetadataValue v4 (written only while a fence is in progress; Kafka's readers
// skip tags they do not know, and Runnel's keep them). A coordinator that loads the group goes on with the
// fence: it refuses the old positions' commits, leaves the moved partitions out of the next assignment, and
// — since the rebalance the fence or the left-out generation started is not in the record — starts it again.
import Foundation
import KafkaProtocol
import NIOCore

/// The persisted form of a group's fence (`ClassicGroup.fencedGeneration`) and move (`GroupMove`).
struct PersistedGroupMove: Codable, Equatable {
    var fencedGeneration: Int32?
    var targets: [String] = []
    var assignmentNames: [String] = []
    var pending: [String] = []
    var stripped: [String: Int32] = [:]
    var strippedGeneration: Int32?

    /// The GroupMetadataValue tag holding it: a Runnel extension, far above the tags Kafka assigns.
    static let tag: UInt32 = 0x524E_0001
}

extension GroupCoordinator {
    /// The tagged fields of `group`'s metadata record: its fence while one is in progress, else none.
    func fenceTaggedFields(_ group: ClassicGroup) -> [TaggedField] {
        guard group.fencedGeneration != nil || group.move != nil else { return [] }
        var persisted = PersistedGroupMove(fencedGeneration: group.fencedGeneration)
        if let move = group.move {
            persisted.targets = move.targets.sorted()
            persisted.assignmentNames = move.assignmentNames.sorted()
            persisted.pending = move.pending.sorted()
            persisted.stripped = move.stripped
            persisted.strippedGeneration = move.strippedGeneration
        }
        guard let json = try? JSONEncoder().encode(persisted) else { return [] }
        return [TaggedField(tag: PersistedGroupMove.tag, data: ByteBuffer(bytes: json))]
    }

    /// Restores a loaded group's fence from its metadata record. When the record was written before the
    /// rebalance that the fence, or the generation leaving the moved partitions out, started, the group
    /// rebalances again (the members would otherwise go on in the loaded generation).
    func restoreFence(_ group: ClassicGroup, from value: GroupMetadataValue) {
        guard let field = value.unknownTaggedFields.first(where: { $0.tag == PersistedGroupMove.tag }) else { return }
        guard let persisted = try? JSONDecoder().decode(PersistedGroupMove.self, from: Data(field.data.readableBytesView)) else {
            logger.warning("ignoring an unreadable fence in the group's metadata record", metadata: ["group": "\(group.groupId)"])
            return
        }
        group.fencedGeneration = persisted.fencedGeneration
        if !persisted.targets.isEmpty {
            var move = GroupMove(targets: Set(persisted.targets), assignmentNames: Set(persisted.assignmentNames),
                                 pending: Set(persisted.pending))
            move.stripped = persisted.stripped
            move.strippedGeneration = persisted.strippedGeneration
            group.move = move
        }
        guard !group.isEmpty, group.state == .stable,
              persisted.fencedGeneration == group.generationId || persisted.strippedGeneration == group.generationId else { return }
        prepareRebalance(group, reason: "a fence loaded with the group is not complete")
    }
}
