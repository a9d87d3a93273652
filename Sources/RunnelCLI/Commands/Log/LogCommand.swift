// `runnel log dump PATH`: prints the record batches of a segment file and verifies CRCs and indexes.
import ArgumentParser
import Foundation
import KafkaRecords
import NIOCore
import RunnelClient

struct LogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log", abstract: "Inspect segment files on disk.",
        discussion: """
        EXAMPLES:
          runnel log dump data/orders-0/00000000000000000000.log
          runnel log dump data/orders-0/00000000000000000000.log --format json
        """,
        subcommands: [LogDump.self])
}

struct LogDump: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump", abstract: "Print the batches of a segment file; verify CRCs and its indexes.",
        discussion: """
        Reads PATH (a .log segment, or a .log.zst segment of the remote tier, decompressed
        with its .log.zst.frames index) and, when present beside it, the .index and
        .timeindex files of the same base offset. Every batch's CRC-32C is checked;
        index entries must point at batch boundaries with matching offsets.
        Problems are printed and make the exit code 1.

        EXAMPLES:
          runnel log dump data/orders-0/00000000000000000000.log
          runnel log dump data/orders-0/00000000000000000000.log --records
          runnel log dump data/orders-0/00000000000000000000.log --format json
        """)

    @OptionGroup var output: OutputOptions
    @Argument(help: "The segment (.log) file.") var path: String
    @Flag(help: "Print every record too (key, value, headers, control markers).") var records = false

    func run() async throws {
        try await runReportingErrors {
            let segment = try SegmentReport.read(path: path, includeRecords: records)
            if output.isJSON {
                try Terminal.printJSON(segment)
            } else {
                segment.printText(includeRecords: records)
            }
            for problem in segment.problems { Terminal.printError("error: \(problem)") }
            if !segment.problems.isEmpty { throw CLIError.reported() }
        }
    }
}
