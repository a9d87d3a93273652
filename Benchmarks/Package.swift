// swift-tools-version: 6.1
// Micro benchmarks (ordo-one/benchmark), kept in their own package so the main build stays lean.
// Run: cd Benchmarks && swift package benchmark   (see docs/benchmarks.md)
import PackageDescription

let package = Package(
    name: "RunnelBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Runnel", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.0", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
    ],
    targets: [
        .executableTarget(
            name: "ProtocolBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KafkaProtocol", package: "Runnel"),
                .product(name: "KafkaRecords", package: "Runnel"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/ProtocolBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
        .executableTarget(
            name: "RecordsBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KafkaRecords", package: "Runnel"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/RecordsBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
        .executableTarget(
            name: "StorageBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "RunnelStorage", package: "Runnel"),
                .product(name: "KafkaRecords", package: "Runnel"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/StorageBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
    ]
)
