// StorageBenchmarks: placeholder until the owning module's benchmarks land.
import Benchmark

let benchmarks: @Sendable () -> Void = {
    Benchmark("memcpy 1 MiB (machine reference)", configuration: .init(metrics: [.throughput, .wallClock])) { benchmark in
        let source = [UInt8](repeating: 7, count: 1 << 20)
        var destination = [UInt8](repeating: 0, count: 1 << 20)
        for _ in benchmark.scaledIterations {
            destination.withUnsafeMutableBytes { d in source.withUnsafeBytes { s in d.copyMemory(from: s) } }
            blackHole(destination[Int.random(in: 0..<(1 << 20))])
        }
    }
}
