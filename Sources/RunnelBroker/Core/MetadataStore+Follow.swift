// MetadataStore+Follow: how a component that caches one kind of cluster record (ACLs, quotas) stays in
// step with the store — one loop, not one per component.
import RunnelCluster

extension MetadataStore {
    /// Calls `reload` with the image now and after every change of a record of `kind` (or a full
    /// reload of the store); runs until the task is cancelled.
    func followRecords(_ kind: ClusterRecordKind, _ reload: (MetadataImage) -> Void) async {
        reload(image)
        for await update in updates() {
            let touched = update.changes.contains { change in
                switch change {
                case .recordChanged(let changed, _, _): return changed == kind
                case .reloaded: return true
                default: return false
                }
            }
            if touched { reload(update.image) }
        }
    }
}
