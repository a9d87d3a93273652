// ControllerInfo: which broker is the controller, and the election epoch that fences an old one.

/// Who the controller is. In etcd the controller key is held under its broker's lease.
public struct ControllerInfo: Sendable, Equatable {
    /// The controller's node id.
    public var nodeId: Int32
    /// Bumped on every election (the controller key's create revision in etcd; 0 on a single node):
    /// writes fenced on it fail once another broker has been elected.
    public var epoch: Int64

    /// Creates a controller record.
    public init(nodeId: Int32, epoch: Int64) {
        self.nodeId = nodeId
        self.epoch = epoch
    }
}
