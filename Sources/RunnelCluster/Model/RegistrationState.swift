// RegistrationState: whether this broker's session (its lease) is live, as the broker must act on it.

/// This broker's membership, as its owner must act on it.
public enum RegistrationState: Sendable, Equatable {
    /// Not registered yet (starting, or waiting for a previous registration of this node id to expire).
    case unregistered
    /// Registered: the session is live. `brokerEpoch` as in `BrokerRegistration`.
    case registered(brokerEpoch: Int64)
    /// The lease was lost (or is about to expire): stop acting as leader or controller now. The store
    /// registers again with a new lease and reports `.registered` with a new broker epoch.
    case lost(reason: String)
    /// The store was shut down (lease revoked).
    case shutDown

    /// True only while registered.
    public var isRegistered: Bool {
        if case .registered = self { return true }
        return false
    }
}
