// QuotaConfigDefinitions: the settings of client quotas and connection limits, as Kafka names them
// (the quotas themselves are cluster records managed with AlterClientQuotas; docs/security.md).

import KafkaProtocol

extension ConfigTable {
    private static func quota(
        _ name: String, _ type: ConfigType, _ defaultValue: ConfigValue?, _ validator: ConfigValidator,
        _ documentation: String
    ) -> ConfigDefinition {
        ConfigDefinition(name, type, default: defaultValue, scope: .broker, validator: validator, documentation)
    }

    /// Quota sampling, connection rate and queued-bytes settings.
    static let quotaDefinitions: [ConfigDefinition] = [
        quota("quota.window.num", .int, .int(11), .atLeast(1),
              "Samples kept for client quotas (producer_byte_rate, consumer_byte_rate, connection_creation_rate): the rate is measured over this many windows."),
        quota("quota.window.size.seconds", .int, .int(1), .atLeast(1),
              "Length of one client quota sample window."),
        quota("max.connection.creation.rate", .int, .int(Int64(Int32.max)), .atLeast(0),
              "New connections accepted per second across the broker; a connection over the rate waits (is not read) until the rate allows it, as Kafka's acceptor waits. Runnel: broker-wide only (no listener-prefixed form)."),
        quota("max.connections.per.ip.overrides", .string, .string(""), .none,
              "Per-address exceptions to max.connections.per.ip, `address:N,address2:M` (e.g. `127.0.0.1:200,10.0.0.7:5`). Runnel: addresses are IP literals (Kafka also resolves host names)."),
        quota("queued.max.request.bytes", .long, .int(-1), .atLeast(-1),
              "Most bytes of requests read and not yet answered, across the broker; while the budget is used up connections are not read. -1: no limit."),
    ]
}
