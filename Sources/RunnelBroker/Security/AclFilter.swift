// AclFilter: the one filter every Authorized* wrapper uses (Kafka's partitionSeqByAuthorized): a
// request's resource list is split into the part the principal may act on — the only part the
// handler ever sees — and answers for the denied resources, added to the handler's response.
import KafkaProtocol
import NIOCore

/// A response (or response entry) that starts empty: the answer when every resource was denied.
protocol EmptyAnswer {
    init()
}

/// A request whose denied resources have been taken out, and the answers for them.
struct PermittedPart<Request, Answer> {
    var request: Request
    var denied: [Answer]
    /// True when nothing is left for the handler to serve.
    var isEmpty: Bool
}

extension BrokerCore {
    /// Splits the resources at `resources` by `verdict` (nil: allowed; else the error code of the
    /// denial) and answers each denied one with `answer`.
    func permittedPart<Request, Resource, Answer>(
        _ message: Request, _ resources: WritableKeyPath<Request, [Resource]>,
        verdict: (Resource) -> ErrorCode?, answer: (Resource, ErrorCode) -> Answer
    ) -> PermittedPart<Request, Answer> {
        var allowed = message
        var denied: [Answer] = []
        allowed[keyPath: resources] = message[keyPath: resources].filter { resource in
            guard let code = verdict(resource) else { return true }
            denied.append(answer(resource, code))
            return false
        }
        return PermittedPart(request: allowed, denied: denied, isEmpty: allowed[keyPath: resources].isEmpty)
    }

    /// Serves only the permitted resources of `message` and adds the denied ones' answers at `answers`.
    /// Without an authorizer the request is served as it is. With nothing permitted the handler is not
    /// called, unless `serveEmpty` (a request with a second resource list: `serve` decides).
    func servePermitted<Request, Response: EmptyAnswer, Resource, Answer>(
        _ message: Request, _ resources: WritableKeyPath<Request, [Resource]>,
        answers: WritableKeyPath<Response, [Answer]>, serveEmpty: Bool = false,
        verdict: (Resource) -> ErrorCode?, answer: (Resource, ErrorCode) -> Answer,
        serve: (Request) async -> Response
    ) async -> Response {
        guard authorizationEnabled else { return await serve(message) }
        let part = permittedPart(message, resources, verdict: verdict, answer: answer)
        var response = part.isEmpty && !serveEmpty ? Response() : await serve(part.request)
        response[keyPath: answers] += part.denied
        return response
    }

    /// The same for a handler that answers now or later.
    func servePermitted<Request, Response: EmptyAnswer & Sendable, Resource, Answer: Sendable>(
        _ message: Request, _ resources: WritableKeyPath<Request, [Resource]>,
        answers: any WritableKeyPath<Response, [Answer]> & Sendable,
        verdict: (Resource) -> ErrorCode?, answer: (Resource, ErrorCode) -> Answer,
        serve: (Request) -> HandlerResult<Response>
    ) -> HandlerResult<Response> {
        guard authorizationEnabled else { return serve(message) }
        let part = permittedPart(message, resources, verdict: verdict, answer: answer)
        let denied = part.denied
        guard !part.isEmpty else {
            var response = Response()
            response[keyPath: answers] = denied
            return .now(response)
        }
        return serve(part.request).map { response in
            var response = response
            response[keyPath: answers] += denied
            return response
        }
    }

    /// A verdict for resources named by `name`: `code` unless the principal may do `operation` on
    /// them. A resource without a name (an unknown topic id) passes: the handler answers it.
    func denial<Resource>(_ operation: AclOperation, _ type: AclResourceType, _ code: ErrorCode,
                          _ request: HandlerRequest, name: @escaping (Resource) -> String?) -> (Resource) -> ErrorCode? {
        { [self] resource in
            guard let name = name(resource) else { return nil }
            return request.allowed(self, operation, type, name) ? nil : code
        }
    }

    /// The name of a topic given by name, or by id when the name is empty (v10+ of the offset APIs).
    func topicName(_ name: String, _ id: KafkaUUID) -> String? {
        name.isEmpty ? metadataStore.topic(id: id)?.name : name
    }
}

/// A per-topic answer that carries an error code and message (topic admin APIs).
protocol TopicErrorAnswer: EmptyAnswer {
    var name: String { get set }
    var errorCode: Int16 { get set }
    var errorMessage: String? { get set }
}

extension TopicErrorAnswer {
    /// `topic` answered `code`, with Kafka's "Authorization failed." message.
    static func denied(_ topic: String, _ code: ErrorCode) -> Self {
        var answer = Self()
        answer.name = topic
        answer.errorCode = code.rawValue
        answer.errorMessage = "Authorization failed."
        return answer
    }
}

/// A per-group answer that carries an error code.
protocol GroupErrorAnswer: EmptyAnswer {
    var groupId: String { get set }
    var errorCode: Int16 { get set }
}

extension GroupErrorAnswer {
    /// `group` answered `code`.
    static func denied(_ group: String, _ code: ErrorCode) -> Self {
        var answer = Self()
        answer.groupId = group
        answer.errorCode = code.rawValue
        return answer
    }
}

/// A per-partition answer that carries an error code.
protocol PartitionErrorAnswer: EmptyAnswer {
    var partitionIndex: Int32 { get set }
    var errorCode: Int16 { get set }
    /// Sets the fields a failed partition answers with (offsets to -1, …); nothing by default.
    mutating func markFailed()
}

extension PartitionErrorAnswer {
    mutating func markFailed() {}
}

/// A per-topic answer made of per-partition answers.
protocol TopicPartitionsAnswer: EmptyAnswer {
    associatedtype Partition: PartitionErrorAnswer
    var name: String { get set }
    var partitions: [Partition] { get set }
}

extension TopicPartitionsAnswer {
    /// `topic` with each of `partitions` answered `code`.
    static func denied(_ topic: String, _ partitions: [Int32], _ code: ErrorCode) -> Self {
        var answer = Self()
        answer.name = topic
        answer.partitions = partitions.map { index in
            var partition = Partition()
            partition.partitionIndex = index
            partition.errorCode = code.rawValue
            partition.markFailed()
            return partition
        }
        return answer
    }
}
