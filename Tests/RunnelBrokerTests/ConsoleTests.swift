// Tests for the console's building blocks: HTML escaping, URL encoding, query decoding, the
// Prometheus text writer's label escaping, the charts' rates, the bound on pending pages and the
// endpoint thread's scheduling.
import Foundation
import Synchronization
import Testing
@testable import RunnelBroker

@Suite struct ConsoleTests {
    @Test func textAndAttributesAreEscapedAndOnlyLiteralsAreMarkup() {
        var html = HTMLWriter()
        html.element("td", ["data-x": "\"><script>1</script>"], "<img src=x onerror='a'>&")
        #expect(html.output == "<td data-x=\"&quot;&gt;&lt;script&gt;1&lt;/script&gt;\">&lt;img src=x onerror=&#39;a&#39;&gt;&amp;</td>")
        html.link("a b", to: "/topic", ["name": "x&y=<z>/é"])
        #expect(html.output.hasSuffix("<a href=\"/topic?name=x%26y%3D%3Cz%3E%2F%C3%A9\">a b</a>"))
    }

    @Test func queryParametersAreDecodedAndBadEscapesKept() {
        let request = ConsoleRequest(uri: "/messages?topic=a%20b+c&offset=%ZZ&x=%4&empty=&topic2=%E2%9C%93")
        #expect(request.path == "/messages")
        #expect(request["topic"] == "a b c")
        #expect(request["offset"] == "%ZZ")
        #expect(request["x"] == "%4")
        #expect(request["empty"] == nil)
        #expect(request["topic2"] == "✓")
        let form = ConsoleRequest(uri: "/group/reset?id=q", form: "id=f&to=latest")
        #expect(form["id"] == "f" && form["to"] == "latest")
        #expect(ConsoleRequest(uri: "").path == "")
    }

    @Test func prometheusLabelValuesAreEscaped() {
        var writer = PrometheusTextWriter()
        writer.family("runnel_group_lag", type: "gauge", help: "h")
        writer.sample("runnel_group_lag", ["group": "a\"b\\c\nd", "partition": "0"], 7)
        let text = String(decoding: writer.bytes, as: UTF8.self)
        #expect(text == "# HELP runnel_group_lag h\n# TYPE runnel_group_lag gauge\nrunnel_group_lag{group=\"a\\\"b\\\\c\\nd\",partition=\"0\"} 7\n")
    }

    @Test func throughputHistoryRatesComeFromGrowthBetweenSamples() {
        let history = ThroughputHistory(capacity: 2)
        history.record(time: 1000, produced: 100, consumed: 10, totalLag: 90)
        #expect(history.points.isEmpty)  // the first sample is the baseline
        history.record(time: 3000, produced: 300, consumed: 10, totalLag: 290)
        history.record(time: 4000, produced: 250, consumed: 60, totalLag: 190)  // a deleted topic: no negative rate
        history.record(time: 5000, produced: 260, consumed: 60, totalLag: 200)
        #expect(history.points.map(\.producedPerSecond) == [0, 10])  // capacity 2 keeps the last two
        #expect(history.points.map(\.consumedPerSecond) == [50, 0])
        #expect(history.points.last?.totalLag == 200)
    }

    @Test func pendingPagesAreBoundedAndPlacesComeBack() {
        let pending = PendingPages()
        #expect(pending.enter(limit: 2) && pending.enter(limit: 2))
        #expect(!pending.enter(limit: 2))  // the third waits for a place: 503
        #expect(pending.current == 2)
        pending.leave()
        #expect(pending.enter(limit: 2))
        #expect(pending.current == 2)
    }

    @Test func theEndpointThreadIsLoweredToIdleScheduling() throws {
        // Runs on a thread of its own so the test runner's threads keep their policy.
        let result = Mutex<(IdleThreadPriority, Int32)?>(nil)
        let thread = Thread { result.withLock { $0 = (IdleThreadPriority.lowerCallingThread(), IdleThreadPriority.callingThreadPolicy()) } }
        thread.start()
        let deadline = ContinuousClock.now + .seconds(10)
        while result.withLock({ $0 == nil }), ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
        let (priority, policy) = try #require(result.withLock { $0 })
        #if os(Linux)
        #expect(priority == .idle)
        #expect(policy == 5)  // SCHED_IDLE
        #expect(IdleThreadPriority.callingThreadPolicy() == 0)  // SCHED_OTHER: only that thread changed
        #endif
    }
}
