// DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics and brokers (dynamic broker configs).
import KafkaProtocol
import Logging
import NIOCore
import RunnelCluster

/// Kafka's ConfigResource types.
extension BrokerCore {
    func describeConfigs(_ request: DescribeConfigsRequest, _ context: HandlerRequest) -> HandlerResult<DescribeConfigsResponse> {
        var response = DescribeConfigsResponse()
        response.results = request.resources.map { resource in
            var result = DescribeConfigsResponse.DescribeConfigsResult()
            result.resourceType = resource.resourceType
            result.resourceName = resource.resourceName
            let entries: [ConfigEntry]
            switch ConfigResourceType(rawValue: resource.resourceType) {
            case .topic:
                // An alias describes its target's configs, plus runnel.alias.target (AliasHandlers.swift).
                guard let topic = metadataStore.image.topic(resolving: resource.resourceName)?.metadata else {
                    result.errorCode = ErrorCode.unknownTopicOrPartition.rawValue
                    result.errorMessage = "Topic '\(resource.resourceName)' does not exist."
                    return result
                }
                entries = topicConfigs.describe(topicOverrides: topic.configs, keys: resource.configurationKeys,
                                                includeSynonyms: request.includeSynonyms,
                                                includeDocumentation: request.includeDocumentation)
                    + aliasConfigEntries(name: resource.resourceName, keys: resource.configurationKeys)
            case .broker:
                guard resource.resourceName.isEmpty || resource.resourceName == String(settings.nodeId) else {
                    result.errorCode = ErrorCode.invalidRequest.rawValue
                    result.errorMessage = "Unexpected broker id, expected \(settings.nodeId) but received \(resource.resourceName)"
                    return result
                }
                entries = withDynamicBrokerConfigs(
                    topicConfigs.describeBroker(keys: resource.configurationKeys, includeSynonyms: request.includeSynonyms,
                                                includeDocumentation: request.includeDocumentation),
                    resourceName: resource.resourceName, includeSynonyms: request.includeSynonyms)
                    + aliasListEntries(keys: resource.configurationKeys)
            default:
                result.errorCode = ErrorCode.invalidRequest.rawValue
                result.errorMessage = "Describing configs of resource type \(resource.resourceType) is not supported."
                return result
            }
            result.errorCode = ErrorCode.none.rawValue
            result.configs = entries.map { entry in
                var config = DescribeConfigsResponse.DescribeConfigsResourceResult()
                config.name = entry.name
                config.value = entry.isSensitive ? nil : entry.value
                config.readOnly = entry.isReadOnly
                config.configSource = entry.source.rawValue
                config.isSensitive = entry.isSensitive
                config.configType = entry.type.rawValue
                config.documentation = entry.documentation.isEmpty ? nil : entry.documentation
                config.synonyms = entry.synonyms.map { synonym in
                    var s = DescribeConfigsResponse.DescribeConfigsSynonym()
                    s.name = synonym.name
                    s.value = synonym.value
                    s.source = synonym.source.rawValue
                    return s
                }
                return config
            }
            return result
        }
        return .now(response)
    }

    func alterConfigs(_ request: AlterConfigsRequest, _ context: HandlerRequest) async -> AlterConfigsResponse {
        var response = AlterConfigsResponse()
        for resource in request.resources {
            var overrides: [String: String] = [:]
            for config in resource.configs {
                if let value = config.value { overrides[config.name] = value }
            }
            let outcome = await applyTopicConfigs(type: resource.resourceType, name: resource.resourceName,
                                                  validateOnly: request.validateOnly, logger: context.context.logger,
                                                  touching: resource.configs.map(\.name)) { _ in overrides }
            response.responses.append(AlterConfigsResponse.AlterConfigsResourceResponse(
                resourceType: resource.resourceType, resourceName: resource.resourceName, outcome: outcome))
        }
        return response
    }

    func incrementalAlterConfigs(_ request: IncrementalAlterConfigsRequest,
                                 _ context: HandlerRequest) async -> IncrementalAlterConfigsResponse {
        var response = IncrementalAlterConfigsResponse()
        for resource in request.resources {
            if let outcome = await applyGroupFence(resource, validateOnly: request.validateOnly, logger: context.context.logger) {
                response.responses.append(IncrementalAlterConfigsResponse.AlterConfigsResourceResponse(
                    resourceType: resource.resourceType, resourceName: resource.resourceName, outcome: outcome))
                continue
            }
            let outcome = await applyTopicConfigs(type: resource.resourceType, name: resource.resourceName,
                                            validateOnly: request.validateOnly, logger: context.context.logger,
                                            touching: resource.configs.map(\.name)) { current in
                var next = current
                for config in resource.configs {
                    switch config.configOperation {
                    case 0:  // SET
                        guard let value = config.value else {
                            throw TopicCreationError(.invalidConfig, "Null value not supported for SET of \(config.name)")
                        }
                        next[config.name] = value
                    case 1:  // DELETE: back to the broker default
                        next.removeValue(forKey: config.name)
                    case 2, 3:  // APPEND, SUBTRACT on list configs
                        guard topicConfigs.isList(config.name) else {
                            throw TopicCreationError(.invalidConfig, "Config \(config.name) is not a list; APPEND/SUBTRACT are only for lists.")
                        }
                        let base = next[config.name] ?? topicConfigs.effectiveValue(of: config.name, overrides: current) ?? ""
                        var items = base.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                        let change = (config.value ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                        if config.configOperation == 2 {
                            for item in change where !items.contains(item) { items.append(item) }
                        } else {
                            items.removeAll { change.contains($0) }
                        }
                        next[config.name] = items.joined(separator: ",")
                    default:
                        throw TopicCreationError(.invalidRequest, "Unknown config operation \(config.configOperation)")
                    }
                }
                return next
            }
            response.responses.append(IncrementalAlterConfigsResponse.AlterConfigsResourceResponse(
                resourceType: resource.resourceType, resourceName: resource.resourceName, outcome: outcome))
        }
        return response
    }

    /// Validates and applies new topic overrides (or, on an alias or with an alias config among
    /// `touching`, the alias change); the partitions pick them up at once (also the console's config form).
    func applyTopicConfigs(type: Int8, name: String, validateOnly: Bool, logger: Logger, touching: [String],
                                   change: ([String: String]) throws -> [String: String]) async -> (code: ErrorCode, message: String?) {
        guard ConfigResourceType(rawValue: type) == .topic else {
            if ConfigResourceType(rawValue: type) == .broker {  // DynamicBrokerConfigHandlers.swift
                return await applyDynamicBrokerConfigs(name: name, validateOnly: validateOnly, logger: logger, change: change)
            }
            return (.invalidRequest, "Altering configs of resource type \(type) is not supported.")
        }
        if let outcome = await applyAliasConfigs(name: name, validateOnly: validateOnly, logger: logger,
                                                 touching: touching, change: change) {
            return outcome
        }
        guard let topic = metadataStore.topic(named: name) else {
            return (.unknownTopicOrPartition, "Topic '\(name)' does not exist.")
        }
        do {
            let next = try change(topic.configs)
            let logConfig = try topicConfigs.validatedLogConfig(overrides: next)
            guard !validateOnly else { return (.none, nil) }
            try await metadataStore.setConfigs(topic: name, to: next)
            replicas.updateConfig(of: topic.name, to: logConfig)
            logger.info("altered topic configs", metadata: ["topic": "\(name)", "configs": "\(next)"])
            return (.none, nil)
        } catch let error as TopicCreationError {
            return (error.errorCode, error.message)
        } catch let error as MetadataStoreError {
            return (error.errorCode, error.description)
        } catch {
            return (.invalidConfig, "\(error)")
        }
    }
}

/// The per-resource answer AlterConfigs and IncrementalAlterConfigs share (same fields, two generated types).
protocol AlterConfigsResourceAnswer {
    init()
    var resourceType: Int8 { get set }
    var resourceName: String { get set }
    var errorCode: Int16 { get set }
    var errorMessage: String? { get set }
}

extension AlterConfigsResourceAnswer {
    /// The answer for one resource: its type and name, and the outcome of applying its changes.
    init(resourceType: Int8, resourceName: String, outcome: (code: ErrorCode, message: String?)) {
        self.init()
        self.resourceType = resourceType
        self.resourceName = resourceName
        errorCode = outcome.code.rawValue
        errorMessage = outcome.message
    }
}

extension AlterConfigsResponse.AlterConfigsResourceResponse: AlterConfigsResourceAnswer {}
extension IncrementalAlterConfigsResponse.AlterConfigsResourceResponse: AlterConfigsResourceAnswer {}
