// Describing and changing configs of topics and brokers (DescribeConfigs, IncrementalAlterConfigs).
import KafkaProtocol

extension KafkaAdmin {
    /// The configs of a resource (all of them, or only `keys`), sorted by name.
    public func describeConfigs(_ type: ConfigResourceType, name: String, keys: [String]? = nil) async throws
        -> [ConfigEntry] {
        var request = DescribeConfigsRequest()
        var resource = DescribeConfigsRequest.DescribeConfigsResource()
        resource.resourceType = type.rawValue
        resource.resourceName = name
        resource.configurationKeys = keys
        request.resources = [resource]
        request.includeSynonyms = false
        let connection: BrokerConnection
        if type == .broker, let id = Int32(name) {
            connection = try await client.connection(toBroker: id)
        } else {
            connection = try await client.anyConnection()
        }
        let response = try await connection.send(request)
        var entries: [ConfigEntry] = []
        for result in response.results {
            if result.errorCode == ErrorCode.unknownTopicOrPartition.rawValue { throw KafkaClientError.unknownTopic(name) }
            try KafkaClientError.check(result.errorCode, "describe configs of \(name)", message: result.errorMessage)
            for config in result.configs {
                entries.append(ConfigEntry(name: config.name, value: config.value,
                                           source: ConfigSource(rawValue: config.configSource) ?? .unknown,
                                           isReadOnly: config.readOnly, isSensitive: config.isSensitive))
            }
        }
        return entries.sorted { $0.name < $1.name }
    }

    /// Applies `changes` to a resource's configs (IncrementalAlterConfigs: SET and DELETE).
    public func alterConfigs(_ type: ConfigResourceType, name: String, changes: [ConfigChange],
                             validateOnly: Bool = false) async throws {
        var request = IncrementalAlterConfigsRequest()
        request.validateOnly = validateOnly
        var resource = IncrementalAlterConfigsRequest.AlterConfigsResource()
        resource.resourceType = type.rawValue
        resource.resourceName = name
        resource.configs = changes.map { change in
            var config = IncrementalAlterConfigsRequest.AlterableConfig()
            config.name = change.name
            switch change {
            case .set(_, let value):
                config.configOperation = 0
                config.value = value
            case .delete:
                config.configOperation = 1
                config.value = nil
            }
            return config
        }
        request.resources = [resource]
        let connection: BrokerConnection
        if type == .broker, let id = Int32(name) {
            connection = try await client.connection(toBroker: id)
        } else {
            connection = try await client.controllerConnection()
        }
        let response = try await connection.send(request)
        for result in response.responses where result.errorCode != 0 {
            if result.errorCode == ErrorCode.unknownTopicOrPartition.rawValue { throw KafkaClientError.unknownTopic(name) }
            try KafkaClientError.check(result.errorCode, "alter configs of \(name)", message: result.errorMessage)
        }
    }
}
