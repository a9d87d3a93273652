// TransactionCoordinatorConfig+Broker: the transaction coordinator's settings read from the broker
// configuration.
import RunnelTransactions

extension TransactionCoordinatorConfig {
    /// The settings as configured (the settings table's defaults where unset).
    init(_ config: BrokerConfig) {
        self.init(
            transactionStatePartitions: max(config.int32(.transactionStateLogNumPartitions), 1),
            offsetsTopicPartitions: max(config.int32(.offsetsTopicNumPartitions), 1),
            maxTimeoutMs: config.int32(.transactionMaxTimeoutMs),
            abortTimedOutIntervalMs: config.int(.transactionAbortTimedOutCleanupIntervalMs),
            transactionalIdExpirationMs: config.int(.transactionalIdExpirationMs),
            removeExpiredIntervalMs: config.int(.transactionRemoveExpiredCleanupIntervalMs))
    }
}
