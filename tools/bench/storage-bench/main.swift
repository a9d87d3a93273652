// storage-bench: runs one storage scenario in release and prints its result as JSON.
// Usage: storage-bench <append|read|timestamp|recovery|open> --dir D [--engine posix|io_uring] [options]
// Driven by tools/bench/storage_bench.py, which also measures the fio/dd references.
import Foundation
import RunnelStorage

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: storage-bench <append|read|timestamp|recovery|open> --dir D [--engine E]\n".utf8))
    exit(2)
}
let options = Options(arguments.dropFirst(2))
let engine = IOEngineKind(rawValue: options.string("engine", "posix")) ?? .posix
let dir = options.string("dir", NSTemporaryDirectory() + "runnel-storage-bench") + "/" + UUID().uuidString
try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: dir) }
do {
    switch arguments[1] {
    case "append": try Scenarios.append(options, dir: dir, engine: engine)
    case "read": try Scenarios.read(options, dir: dir, engine: engine)
    case "timestamp": try Scenarios.timestamp(options, dir: dir, engine: engine)
    case "recovery": try Scenarios.recovery(options, dir: dir, engine: engine)
    case "open": try Scenarios.open(options, dir: dir, engine: engine)
    default:
        FileHandle.standardError.write(Data("unknown scenario \(arguments[1])\n".utf8))
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("storage-bench \(arguments[1]) failed: \(error)\n".utf8))
    try? FileManager.default.removeItem(atPath: dir)
    exit(1)
}
