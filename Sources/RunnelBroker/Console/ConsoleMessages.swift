// ConsoleMessages: the message browser — a partition's records from an offset or a timestamp (the
// CLI's time syntax), keys and values as text, pretty JSON or hex, headers, paging both ways;
// compressed batches are decompressed. Reads go to the log directly, up to the high watermark.
import Foundation
import KafkaRecords
import NIOCore
import RunnelClient
import RunnelStorage

extension Console {
    /// How keys and values are shown.
    enum ValueFormat: String, CaseIterable {
        case text, json, hex
    }

    /// One record as the page shows it.
    struct BrowsedRecord: Sendable {
        var offset: Int64
        var timestamp: Int64
        var key: ByteBuffer?
        var value: ByteBuffer?
        var headers: [RecordHeader]
        var compression: String
        var transactional: Bool
    }

    static let defaultPageSize = 20
    static let maxPageSize = 200
    /// Shown bytes of one key, value or header value; longer ones are cut (the page says so).
    static let maxShownBytes = 4096
    /// Bytes read from the log for one page at most.
    static let maxPageReadBytes = 4 << 20

    func messagesPage(_ request: ConsoleRequest) -> Prepared {
        guard let topicName = request["topic"] else {
            return Self.ready(problem(400, "Messages", "Which topic? Add ?topic=<topic> (the Topics page links each one)."))
        }
        guard let topic = core.metadataStore.image.topic(named: topicName), mayDescribe(topic: topicName) else {
            return Self.ready(problem(404, "Messages", "There is no topic named '\(topicName)'."))
        }
        guard may(.read, .topic, topicName) else {
            return Self.ready(forbidden("Messages", "Your ACLs do not allow reading topic '\(topicName)'."))
        }
        let partitionText = request["partition"] ?? "0"
        guard let index = Int32(partitionText), index >= 0, index < topic.metadata.partitionCount else {
            return Self.ready(problem(404, "Messages", "Topic '\(topicName)' has no partition '\(partitionText)' (it has \(topic.metadata.partitionCount))."))
        }
        guard let partition = core.replicas.partition(topic: topicName, index: index) else {
            return Self.ready(problem(404, "Messages", "Partition \(index) of '\(topicName)' is not hosted on this broker."))
        }
        let limitText = request["limit"] ?? "\(Self.defaultPageSize)"
        guard let requestedLimit = Int(limitText), requestedLimit > 0 else {
            return Self.ready(problem(400, "Messages", "limit must be a positive number, not '\(limitText)'."))
        }
        let limit = min(requestedLimit, Self.maxPageSize)
        let format = ValueFormat(rawValue: request["format"] ?? "text") ?? .text
        let log = partition.log.snapshot
        var notes: [String] = []
        var start: Int64
        if let timeText = request["timestamp"] {
            let millis: Int64
            do throws(TimeParseError) {
                millis = try TimestampParser.parse(timeText)
            } catch {
                return Self.ready(problem(400, "Messages", error.description))
            }
            let found = try? partition.log.offset(for: .timestamp(millis))
            start = found?.offset ?? log.highWatermark
            notes.append("First record at or after \(Self.isoTime(millis)): offset \(start).")
        } else if let offsetText = request["offset"] {
            guard let offset = Int64(offsetText) else {
                return Self.ready(problem(400, "Messages", "offset must be a number, not '\(offsetText)'."))
            }
            start = offset
        } else {
            start = max(log.logStartOffset, log.highWatermark - Int64(limit))
        }
        if start < log.logStartOffset || start > log.highWatermark {
            let clamped = min(max(start, log.logStartOffset), log.highWatermark)
            notes.append("Offset \(start) is outside the log (\(log.logStartOffset) to \(log.highWatermark)); showing from \(clamped).")
            start = clamped
        }
        // The log is read here (normal priority: it takes the partition's lock); its records are decoded
        // and decompressed with the page, on the endpoint's low-priority thread (decision 0019).
        let (chunks, readError) = readBatches(partition.log, from: start, limit: limit, upTo: log.highWatermark)
        return { [notes, start] in page("Messages in \(topicName)") { html in
            let (records, decodeError) = Self.decodeRecords(chunks, from: start, limit: limit, upTo: log.highWatermark)
            browserForm(&html, topic: topicName, partitions: topic.metadata.partitionCount, partition: index,
                        start: start, limit: limit, format: format, timestamp: request["timestamp"])
            html.element("p", ["class": "muted"],
                         "Partition \(index): offsets \(log.logStartOffset) to \(log.highWatermark) (high watermark).")
            for note in notes { html.element("p", ["class": "muted note"], note) }
            if let problem = readError ?? decodeError {
                html.element("p", ["class": "error", "id": "problem"], "Could not read the log: \(problem)")
            }
            pager(&html, topic: topicName, partition: index, start: start, shown: records, limit: limit, format: format,
                  logStart: log.logStartOffset, end: log.highWatermark)
            html.element("table", ["id": "records"]) { html in
                html.headerRow(["offset", "timestamp", "key", "value", "headers", "batch"])
                for record in records {
                    html.open("tr", ["data-offset": "\(record.offset)"])
                    html.element("td", ["class": "num"], "\(record.offset)")
                    html.element("td", Self.isoTime(record.timestamp))
                    cell(&html, record.key, format: format == .json ? .text : format, role: "key")
                    cell(&html, record.value, format: format, role: "value")
                    html.element("td") { html in
                        for header in record.headers {
                            html.element("div", ["class": "header"]) { html in
                                html.element("b", header.key)
                                html.text(" = ")
                                html.text(header.value.map { Self.render($0, format: .text).text } ?? "null")
                            }
                        }
                    }
                    html.element("td", ["class": "muted"], record.compression + (record.transactional ? " · txn" : ""))
                    html.close("tr")
                }
            }
            if records.isEmpty { html.element("p", ["class": "muted", "id": "empty"], "No records from offset \(start).") }
        } }
    }

    /// The log's bytes from `start` until they hold `limit` records (counted from the batch headers, not
    /// decoded) or reach `end` or `maxPageReadBytes`; a read failure ends them with the reason.
    private func readBatches(_ log: PartitionLog, from start: Int64, limit: Int, upTo end: Int64) -> ([ByteBuffer], String?) {
        var chunks: [ByteBuffer] = []
        var next = start
        var budget = Self.maxPageReadBytes
        var records = 0  // in data batches wholly at or after `start` (a batch that straddles it counts none)
        do {
            while records < limit, next < end, budget > 0 {
                let read = try log.read(from: next, maxBytes: min(budget, 1 << 20), isolation: .highWatermark, minOneBatch: true)
                guard !read.isEmpty else { break }
                let bytes = try read.readBytes()
                budget -= bytes.readableBytes
                chunks.append(bytes)
                var progressed = false
                var batches = MemoryRecords(bytes).batchIterator(allowPartialTrailingBatch: true)
                while let batch = try batches.next() {
                    progressed = progressed || batch.nextOffset > next
                    if !batch.isControl, batch.baseOffset >= start { records += Int(max(0, batch.recordsCount)) }
                    next = max(next, batch.nextOffset)
                }
                guard progressed else { break }
            }
        } catch {
            return (chunks, "\(error)")
        }
        return (chunks, nil)
    }

    /// Up to `limit` records of `chunks` from `start`, below `end`, decompressed; a decode failure ends
    /// them with what was decoded so far and the reason.
    static func decodeRecords(_ chunks: [ByteBuffer], from start: Int64, limit: Int, upTo end: Int64) -> ([BrowsedRecord], String?) {
        var records: [BrowsedRecord] = []
        var next = start
        do {
            for chunk in chunks where records.count < limit {
                var batches = MemoryRecords(chunk).batchIterator(allowPartialTrailingBatch: true)
                while let batch = try batches.next(), records.count < limit {
                    defer { next = max(next, batch.nextOffset) }
                    guard !batch.isControl, batch.lastOffset >= next else { continue }
                    var iterator = try batch.makeRecordIterator(maxDecompressedBytes: 64 << 20)
                    while let record = try iterator.next(), records.count < limit {
                        guard record.offset >= start, record.offset < end else { continue }
                        records.append(BrowsedRecord(
                            offset: record.offset, timestamp: record.timestamp, key: record.key, value: record.value,
                            headers: record.headers, compression: batch.compression.map { "\($0)" } ?? "?",
                            transactional: batch.isTransactional))
                    }
                }
            }
        } catch {
            return (records, "\(error)")
        }
        return (records, nil)
    }

    private func cell(_ html: inout HTMLWriter, _ bytes: ByteBuffer?, format: ValueFormat, role: StaticString) {
        guard let bytes else {
            html.element("td", ["class": "muted \(role)"], "null")
            return
        }
        let shown = Self.render(bytes, format: format)
        html.element("td", ["class": "\(role)"]) { html in
            html.element("pre", shown.text)
            if let note = shown.note { html.element("div", ["class": "muted"], note) }
        }
    }

    /// A key or value as text (hex when it is not UTF-8), pretty JSON (text when it does not parse) or hex.
    static func render(_ bytes: ByteBuffer, format: ValueFormat) -> (text: String, note: String?) {
        let total = bytes.readableBytes
        let cut = total > maxShownBytes
        let shown = bytes.getBytes(at: bytes.readerIndex, length: min(total, maxShownBytes)) ?? []
        let cutNote = cut ? "first \(maxShownBytes) of \(total) bytes" : nil
        switch format {
        case .hex:
            return (hexDump(shown), cutNote)
        case .json where !cut:
            if let object = try? JSONSerialization.jsonObject(with: Data(shown), options: [.fragmentsAllowed]),
               let pretty = try? JSONSerialization.data(withJSONObject: object,
                                                        options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed]),
               let text = String(data: pretty, encoding: .utf8) {
                return (text, nil)
            }
            let plain = render(bytes, format: .text)
            return (plain.text, "not JSON" + (plain.note.map { "; \($0)" } ?? ""))
        case .text, .json:
            if let text = String(validating: shown, as: UTF8.self) { return (text, cutNote) }
            return (hexDump(shown), "binary, shown as hex" + (cutNote.map { "; \($0)" } ?? ""))
        }
    }

    static func hexDump(_ bytes: [UInt8]) -> String {
        var lines: [String] = []
        var offset = 0
        while offset < bytes.count {
            let chunk = bytes[offset..<min(offset + 16, bytes.count)]
            let hex = chunk.map { byte in
                let text = String(byte, radix: 16)
                return text.count == 1 ? "0" + text : text
            }.joined(separator: " ")
            let ascii = String(chunk.map { (0x20...0x7e).contains($0) ? Character(Unicode.Scalar($0)) : "." })
            let position = String(offset, radix: 16)
            lines.append(String(repeating: "0", count: max(0, 4 - position.count)) + position + "  " + hex
                         + String(repeating: " ", count: (16 - chunk.count) * 3) + "  " + ascii)
            offset += 16
        }
        return lines.joined(separator: "\n")
    }

    static func isoTime(_ millis: Int64) -> String {
        guard millis >= 0 else { return "\(millis)" }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }

    private func browserForm(_ html: inout HTMLWriter, topic: String, partitions: Int32, partition: Int32, start: Int64,
                             limit: Int, format: ValueFormat, timestamp: String?) {
        html.open("form", ["method": "get", "action": "/messages", "id": "browse"])
        html.open("input", ["type": "hidden", "name": "topic", "value": topic])
        html.element("label") { html in
            html.text("partition")
            html.element("select", ["name": "partition"]) { html in
                for index in 0..<min(partitions, 10_000) {
                    if index == partition {
                        html.element("option", ["value": "\(index)", "selected": "selected"], "\(index)")
                    } else {
                        html.element("option", ["value": "\(index)"], "\(index)")
                    }
                }
            }
        }
        html.element("label") { html in
            html.text("offset")
            html.open("input", ["name": "offset", "value": timestamp == nil ? "\(start)" : "", "size": "10"])
        }
        html.element("label") { html in
            html.text("or timestamp (2026-01-01T00:00:00Z, -1h, @millis)")
            html.open("input", ["name": "timestamp", "value": timestamp ?? "", "size": "24"])
        }
        html.element("label") { html in
            html.text("records")
            html.open("input", ["name": "limit", "value": "\(limit)", "size": "4"])
        }
        html.element("label") { html in
            html.text("show as")
            html.element("select", ["name": "format"]) { html in
                for option in ValueFormat.allCases {
                    if option == format {
                        html.element("option", ["value": option.rawValue, "selected": "selected"], option.rawValue)
                    } else {
                        html.element("option", ["value": option.rawValue], option.rawValue)
                    }
                }
            }
        }
        html.element("button", ["type": "submit"], "Show")
        html.close("form")
    }

    private func pager(_ html: inout HTMLWriter, topic: String, partition: Int32, start: Int64, shown: [BrowsedRecord],
                       limit: Int, format: ValueFormat, logStart: Int64, end: Int64) {
        html.open("div", ["class": "pager"])
        let common: (Int64) -> KeyValuePairs<String, String> = { offset in
            ["topic": topic, "partition": "\(partition)", "offset": "\(offset)", "limit": "\(limit)", "format": format.rawValue]
        }
        if start > logStart {
            html.element("a", ["id": "previous", "href": HTMLWriter.url("/messages", common(max(logStart, start - Int64(limit))))],
                         "← previous \(limit)")
        }
        if let last = shown.last, last.offset + 1 < end {
            html.element("a", ["id": "next", "href": HTMLWriter.url("/messages", common(last.offset + 1))], "next \(limit) →")
        }
        html.close("div")
    }
}
