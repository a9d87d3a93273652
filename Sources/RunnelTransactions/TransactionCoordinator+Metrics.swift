// TransactionCoordinator+Metrics: how many transactional ids this coordinator holds, by state.

extension TransactionCoordinator {
    /// Transactional ids this coordinator owns, counted by state (Dead ones, being removed, left out).
    public func stateCounts() -> [TransactionState: Int] {
        var counts: [TransactionState: Int] = [:]
        for entry in entries.values where entry.metadata.state != .dead {
            counts[entry.metadata.state, default: 0] += 1
        }
        return counts
    }
}
