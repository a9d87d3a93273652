// Reads a segment file and its indexes into a report: batches, optional records, problems found.
import Foundation
import KafkaRecords
import NIOCore
import RunnelClient
import RunnelStorage

/// What `runnel log dump` found in one segment.
struct SegmentReport: Encodable {
    struct RecordLine: Encodable {
        var offset: Int64
        var timestamp: Int64
        var key: String?
        var value: String?
        var headers: [String: String?]
        var controlMarker: String?
    }

    struct BatchLine: Encodable {
        var position: Int
        var baseOffset: Int64
        var lastOffset: Int64
        var count: Int32
        var size: Int
        var partitionLeaderEpoch: Int32
        var baseTimestamp: Int64
        var maxTimestamp: Int64
        var timestampType: String
        var producerId: Int64
        var producerEpoch: Int16
        var baseSequence: Int32
        var lastSequence: Int32
        var compression: String
        var isTransactional: Bool
        var isControl: Bool
        var crc: UInt32
        var crcValid: Bool
        var records: [RecordLine]?
    }

    var path: String
    var baseOffset: Int64?
    var sizeInBytes: Int
    var batches: [BatchLine] = []
    var indexEntries = 0
    var timeIndexEntries = 0
    var problems: [String] = []

    static func read(path: String, includeRecords: Bool) throws -> SegmentReport {
        var buffer: ByteBuffer
        if CompressedSegmentFile.isCompressed(path) {
            // A segment of the remote tier compressed at rest (`remote.log.dir`, zstd frames).
            do {
                buffer = try CompressedSegmentFile.readLog(atPath: path)
            } catch {
                throw CLIError.usage("cannot read segment '\(path)': \(error)", hint: "give the path of a .log or .log.zst file")
            }
        } else {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CLIError.usage("cannot read segment '\(path)'", hint: "give the path of a .log file")
            }
            buffer = ByteBuffer(bytes: data)
        }
        let fileName = (path as NSString).lastPathComponent
        let stem = String(fileName.prefix { $0 != "." })
        var report = SegmentReport(path: path, baseOffset: Int64(stem), sizeInBytes: buffer.readableBytes)
        var iterator = MemoryRecords(buffer).batchIterator(allowPartialTrailingBatch: false)
        var expectedNext: Int64?
        while true {
            let position = iterator.position
            let batch: RecordBatch?
            do {
                batch = try iterator.next()
            } catch {
                // The active segment of a log dir on the direct write path (log.io.mode) ends with its last
                // block zero-padded until the next append or a clean close: padding, not a problem.
                let rest = buffer.readableBytes - position
                let zeroPadding = rest > 0 && rest < 4096
                    && (buffer.getBytes(at: buffer.readerIndex + position, length: rest)?.allSatisfy { $0 == 0 } ?? false)
                if !zeroPadding {
                    report.problems.append("at position \(position): \(error) (the rest of the file is not read)")
                }
                break
            }
            guard let batch else { break }
            if !batch.isCRCValid {
                report.problems.append("batch at offset \(batch.baseOffset) (position \(position)) fails its CRC: stored \(batch.header.crc), computed \(batch.computedCRC)")
            }
            if let expectedNext, batch.baseOffset < expectedNext {
                report.problems.append("batch at position \(position) starts at offset \(batch.baseOffset), before the previous batch's end \(expectedNext)")
            }
            expectedNext = batch.nextOffset
            report.batches.append(line(for: batch, position: position, includeRecords: includeRecords,
                                       problems: &report.problems))
        }
        buffer.clear()
        let directory = (path as NSString).deletingLastPathComponent
        let indexPath = (directory as NSString).appendingPathComponent(stem + ".index")
        let timeIndexPath = (directory as NSString).appendingPathComponent(stem + ".timeindex")
        if let index = FileManager.default.contents(atPath: indexPath) {
            report.verifyOffsetIndex(index, name: indexPath)
        }
        if let timeIndex = FileManager.default.contents(atPath: timeIndexPath) {
            report.verifyTimeIndex(timeIndex, name: timeIndexPath)
        }
        return report
    }

    private static func line(for batch: RecordBatch, position: Int, includeRecords: Bool,
                             problems: inout [String]) -> BatchLine {
        let header = batch.header
        var line = BatchLine(
            position: position, baseOffset: header.baseOffset, lastOffset: header.lastOffset,
            count: header.recordsCount, size: batch.sizeInBytes, partitionLeaderEpoch: header.partitionLeaderEpoch,
            baseTimestamp: header.baseTimestamp, maxTimestamp: header.maxTimestamp,
            timestampType: header.timestampType == .createTime ? "CreateTime" : "LogAppendTime",
            producerId: header.producerId, producerEpoch: header.producerEpoch, baseSequence: header.baseSequence,
            lastSequence: header.lastSequence, compression: header.compression?.description ?? "unknown(\(header.attributes & 7))",
            isTransactional: header.isTransactional, isControl: header.isControl, crc: header.crc,
            crcValid: batch.isCRCValid, records: nil)
        guard includeRecords else { return line }
        do {
            var lines: [RecordLine] = []
            for record in try batch.records() {
                var marker: String?
                if batch.isControl {
                    if let type = try? ControlRecordType.parse(key: record.key) {
                        marker = "\(type)".uppercased()
                    } else {
                        marker = "UNKNOWN"
                    }
                }
                var headers: [String: String?] = [:]
                for header in record.headers { headers[header.key] = header.value.map { String(buffer: $0) } }
                lines.append(RecordLine(offset: record.offset, timestamp: record.timestamp,
                                        key: batch.isControl ? nil : record.key.map { String(buffer: $0) },
                                        value: batch.isControl ? nil : record.value.map { String(buffer: $0) },
                                        headers: headers, controlMarker: marker))
            }
            line.records = lines
        } catch {
            problems.append("batch at offset \(batch.baseOffset): cannot read records: \(error)")
        }
        return line
    }

    /// Offset index entries (relative offset int32, position int32) must point at batch starts, increasing.
    mutating func verifyOffsetIndex(_ data: Data, name: String) {
        guard let base = baseOffset else { return }
        let buffer = ByteBuffer(bytes: data)
        let byPosition = Dictionary(batches.map { ($0.position, $0) }, uniquingKeysWith: { first, _ in first })
        var previous: (Int32, Int64)?
        for entry in IndexFileFormat.offsetEntries(in: buffer) {
            let (relative, position) = (entry.relativeOffset, entry.position)
            // Preallocated, unused slots are zero after the first entry.
            if relative == 0 && position == 0 && previous != nil { break }
            indexEntries += 1
            if let previous, relative <= previous.0 || position <= previous.1 {
                problems.append("\(name): entry \(indexEntries) (offset \(base + Int64(relative)), position \(position)) does not increase")
            }
            previous = (relative, position)
            guard let batch = byPosition[Int(position)] else {
                problems.append("\(name): entry \(indexEntries) points at position \(position), which is not the start of a batch")
                continue
            }
            let offset = base + Int64(relative)
            if offset < batch.baseOffset || offset > batch.lastOffset {
                problems.append("\(name): entry \(indexEntries) says offset \(offset) is at position \(position), but that batch holds \(batch.baseOffset)...\(batch.lastOffset)")
            }
        }
        if buffer.readableBytes % IndexFileFormat.offsetEntrySize != 0 { problems.append("\(name): size \(buffer.readableBytes) is not a multiple of 8") }
    }

    /// Time index entries (timestamp int64, relative offset int32) must not decrease and must name offsets
    /// inside the segment.
    mutating func verifyTimeIndex(_ data: Data, name: String) {
        guard let base = baseOffset else { return }
        let buffer = ByteBuffer(bytes: data)
        let lastOffset = batches.last?.lastOffset ?? base
        var previous: (Int64, Int32)?
        for entry in IndexFileFormat.timeEntries(in: buffer) {
            let (timestamp, relative) = (entry.timestamp, entry.relativeOffset)
            if timestamp == 0 && relative == 0 && previous != nil { break }
            timeIndexEntries += 1
            if let previous, timestamp < previous.0 || relative < previous.1 {
                problems.append("\(name): entry \(timeIndexEntries) (timestamp \(timestamp), offset \(base + Int64(relative))) goes backwards")
            }
            previous = (timestamp, relative)
            let offset = base + Int64(relative)
            if offset < base || offset > lastOffset {
                problems.append("\(name): entry \(timeIndexEntries) names offset \(offset), outside the segment (\(base)...\(lastOffset))")
            }
        }
        if buffer.readableBytes % IndexFileFormat.timeEntrySize != 0 { problems.append("\(name): size \(buffer.readableBytes) is not a multiple of 12") }
    }

    func printText(includeRecords: Bool) {
        print("Segment: \(path)  base offset: \(baseOffset.map(String.init) ?? "?")  size: \(sizeInBytes)  batches: \(batches.count)")
        for batch in batches {
            var flags: [String] = []
            if batch.isTransactional { flags.append("transactional") }
            if batch.isControl { flags.append("control") }
            print("baseOffset: \(batch.baseOffset) lastOffset: \(batch.lastOffset) count: \(batch.count) position: \(batch.position) size: \(batch.size) leaderEpoch: \(batch.partitionLeaderEpoch) \(batch.timestampType): \(batch.maxTimestamp) producerId: \(batch.producerId) producerEpoch: \(batch.producerEpoch) baseSequence: \(batch.baseSequence) compression: \(batch.compression)\(flags.isEmpty ? "" : " " + flags.joined(separator: " ")) crc: \(batch.crc) crcValid: \(batch.crcValid)")
            guard includeRecords else { continue }
            for record in batch.records ?? [] {
                if let marker = record.controlMarker {
                    print("| offset: \(record.offset) timestamp: \(record.timestamp) control: \(marker)")
                } else {
                    let headers = record.headers.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value ?? "null")" }
                    print("| offset: \(record.offset) timestamp: \(record.timestamp) key: \(record.key ?? "null") value: \(record.value ?? "null")"
                        + (headers.isEmpty ? "" : " headers: " + headers.joined(separator: ",")))
                }
            }
        }
        print("Index entries: \(indexEntries)  time index entries: \(timeIndexEntries)  problems: \(problems.count)")
    }
}
