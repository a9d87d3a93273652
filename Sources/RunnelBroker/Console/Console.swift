// Console: the read-only web console served at `/` on `metrics.listener` — cluster and brokers,
// topics, a message browser and consumer groups with lag — rendered on the server from the broker's
// own state (decision 0008: plain NIO HTTP and `HTMLWriter`, no web framework).
import KafkaProtocol
import RunnelStorage

/// One console answer.
struct ConsoleResponse: Sendable {
    var status: Int
    var body: String
    var contentType = "text/html; charset=utf-8"
}

/// Renders the console's pages. Every value shown is escaped by `HTMLWriter`; every query parameter is
/// checked and clamped (unknown topics and partitions are 404 pages, bad numbers and times 400 pages).
/// With `console.read.only` (the default) nothing here changes the broker; otherwise `ConsoleActions`
/// adds forms that create topics and reset a group's offsets.
struct Console: Sendable {
    let core: BrokerCore
    /// `console.read.only`: without it the pages carry forms that create topics and reset offsets.
    var readOnly = true
    /// The samples the cluster page's charts draw (`sampleThroughput` adds them).
    var history = ThroughputHistory()
    /// HTTP Basic authentication against the SASL users (`console.authentication`); nil: open to all.
    var authentication: ConsoleAuthentication?
    /// Who the current request acts as (set per request when `authentication` is on): pages show only
    /// what its ACLs allow.
    var viewer: ConsoleViewer?

    /// A page whose data has been read: writing it takes no lock and calls no actor, so it runs on the
    /// metrics endpoint's low-priority thread (decision 0015).
    typealias Prepared = @Sendable () -> ConsoleResponse

    /// The answer to a GET (a page) or a form POST (an action), nil when the path is not the console's:
    /// this reads what the page shows (at normal priority), the returned closure writes it.
    func respond(to http: MetricsServer.PageRequest) async -> Prepared? {
        var console = self
        if let authentication {
            let host = http.clientAddress ?? ""
            guard let principal = authentication.principal(authorization: http.authorization, client: host) else {
                return Self.ready(Self.unauthorized())
            }
            console.viewer = ConsoleViewer(principal: principal, host: host, acls: core.access.authorizer.currentIndex)
        }
        let request = ConsoleRequest(uri: http.uri, form: http.method == "POST" ? http.body : "")
        guard http.method == "POST" else { return await console.respond(to: request) }
        return await console.perform(request, http: http).map(Self.ready)
    }

    /// `respond(to:)` in the metrics endpoint's terms.
    func prepared(_ http: MetricsServer.PageRequest) async -> MetricsServer.PreparedPage? {
        guard let page = await respond(to: http) else { return nil }
        return {
            let written = page()
            return (status: written.status, contentType: written.contentType, body: written.body)
        }
    }

    /// The page for `request`, or nil when the path is not a console page.
    func respond(to request: ConsoleRequest) async -> Prepared? {
        switch request.path {
        case "/": return clusterPage()
        case "/topics": return topicsPage()
        case "/topic": return topicPage(request)
        case "/messages": return messagesPage(request)
        case "/groups": return await groupsPage()
        case "/group": return await groupPage(request)
        default: return nil
        }
    }

    /// An answer already written (problems, actions: small, or rare).
    static func ready(_ response: ConsoleResponse) -> Prepared { { response } }

    /// The log snapshots of the partitions hosted here, by topic and index (one lock each, read before
    /// a page is written).
    func hostedLogs() -> [String: [Int32: PartitionLogSnapshot]] {
        var logs: [String: [Int32: PartitionLogSnapshot]] = [:]
        for partition in core.replicas.allPartitions() {
            logs[partition.topic, default: [:]][partition.index] = partition.log.snapshot
        }
        return logs
    }

    /// The log snapshots of `topic`'s partitions hosted here, by index.
    func hostedLogs(of topic: String) -> [Int32: PartitionLogSnapshot] {
        var logs: [Int32: PartitionLogSnapshot] = [:]
        for partition in core.replicas.partitions(of: topic) { logs[partition.index] = partition.log.snapshot }
        return logs
    }

    /// The page shell: title, navigation, inline style (no external resource of any kind).
    func page(_ title: String, status: Int = 200, refreshSeconds: Int? = nil, body: (inout HTMLWriter) -> Void) -> ConsoleResponse {
        var html = HTMLWriter()
        html.raw("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">")
        if let refreshSeconds { html.open("meta", ["http-equiv": "refresh", "content": "\(refreshSeconds)"]) }
        html.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        html.element("title", "\(title) · Runnel console")
        html.raw("<style>")
        html.raw(Console.style)
        html.raw("</style></head><body>")
        html.raw("<nav><span class=\"brand\">Runnel</span>")
        html.link("Cluster", to: "/")
        html.link("Topics", to: "/topics")
        html.link("Groups", to: "/groups")
        html.element("a", ["href": "/metrics"], "Metrics")
        if readOnly { html.raw("<span class=\"ro\">read-only</span>") }
        if let viewer { html.element("span", ["class": "ro", "id": "principal"], viewer.principal.description) }
        html.raw("</nav><main>")
        html.element("h1", title)
        body(&html)
        html.raw("</main></body></html>")
        return ConsoleResponse(status: status, body: html.output)
    }

    /// A page saying what was wrong with the request.
    func problem(_ status: Int, _ title: String, _ message: String) -> ConsoleResponse {
        page(title, status: status) { html in
            html.element("p", ["class": "error", "id": "problem"], message)
        }
    }

    static let style: StaticString = """
        body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d232b;background:#f6f7f9}\
        nav{background:#14213d;padding:10px 24px;display:flex;gap:20px;align-items:center}\
        nav a{color:#e5e9f0;text-decoration:none}nav a:hover{text-decoration:underline}\
        .brand{color:#fca311;font-weight:700;font-size:16px}.ro{margin-left:auto;color:#8d99ae;font-size:12px}\
        main{padding:8px 24px 40px}h1{font-size:22px}h2{font-size:17px;margin-top:28px}\
        table{border-collapse:collapse;background:#fff;box-shadow:0 1px 2px #0001;margin:8px 0}\
        th,td{border:1px solid #dde1e6;padding:4px 10px;text-align:left;vertical-align:top}\
        th{background:#eef1f5}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}\
        pre{margin:0;white-space:pre-wrap;word-break:break-all;max-width:70ch;font:12px/1.35 ui-monospace,monospace}\
        .error{color:#b00020;font-weight:600}.muted{color:#6b7280}\
        form{display:flex;gap:10px;flex-wrap:wrap;align-items:end;margin:10px 0}\
        label{display:flex;flex-direction:column;font-size:12px;color:#4b5563}\
        input,select,button{font:inherit;padding:3px 6px}.pager{margin:10px 0;display:flex;gap:16px}\
        .cards{display:flex;gap:14px;flex-wrap:wrap}.card{background:#fff;padding:10px 16px;box-shadow:0 1px 2px #0001}\
        .card b{display:block;font-size:20px}.chart svg{display:block;margin:4px 0}
        """
}
