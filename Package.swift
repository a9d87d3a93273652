// swift-tools-version: 6.1
// Runnel: a Kafka-compatible message log broker. See docs/architecture.md for the module map.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Runnel",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "runnel", targets: ["RunnelCLI"]),
        .executable(name: "runnel-codegen", targets: ["runnel-codegen"]),
        .library(name: "KafkaProtocol", targets: ["KafkaProtocol"]),
        .library(name: "KafkaRecords", targets: ["KafkaRecords"]),
        .library(name: "RunnelStorage", targets: ["RunnelStorage"]),
        .library(name: "RunnelBroker", targets: ["RunnelBroker"]),
        .library(name: "RunnelClient", targets: ["RunnelClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // MARK: C shims (nothing but the glue to system libraries)
        .target(name: "CCRC32C", path: "Sources/CCRC32C"),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CLZ4", path: "Sources/CLZ4", pkgConfig: "liblz4",
                       providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CSnappy", path: "Sources/CSnappy", pkgConfig: "snappy",
                       providers: [.apt(["libsnappy-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CLibCrypto", path: "Sources/CLibCrypto", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        .target(name: "CLibURing", path: "Sources/CLibURing",
                linkerSettings: [.linkedLibrary("uring")]),

        // MARK: Protocol and records (no I/O)
        .target(
            name: "KafkaProtocol",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings),
        .target(
            name: "KafkaRecords",
            dependencies: [
                "CCRC32C", "CZstd", "CLZ4", "CSnappy", "CZlib",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),

        // MARK: Storage
        .target(
            name: "RunnelStorage",
            dependencies: [
                "KafkaProtocol", "KafkaRecords", "CLibURing", "CZstd",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings),

        // MARK: Cluster metadata
        // An etcd v3 client over etcd's JSON gateway (decision 0006): no Runnel knowledge.
        .target(
            name: "RunnelEtcd",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        .target(
            name: "RunnelCluster",
            dependencies: [
                "KafkaProtocol", "RunnelEtcd",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),

        // MARK: Coordinators (protocol and records only: no storage, no sockets)
        .target(
            name: "RunnelGroups",
            dependencies: [
                "KafkaProtocol", "KafkaRecords",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),

        .target(
            name: "RunnelTransactions",
            dependencies: [
                "KafkaProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),

        // MARK: Broker
        .target(
            name: "RunnelBroker",
            dependencies: [
                "KafkaProtocol", "KafkaRecords", "RunnelStorage", "RunnelCluster", "RunnelEtcd", "RunnelGroups", "RunnelTransactions",
                "RunnelClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                "CLibCrypto",
            ],
            resources: [.copy("Resources/runnel.toml")],
            swiftSettings: swiftSettings),

        // MARK: Client and CLI
        .target(
            name: "RunnelClient",
            dependencies: [
                "KafkaProtocol", "KafkaRecords",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                "CLibCrypto",
            ],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "RunnelCLI",
            dependencies: [
                "RunnelBroker", "RunnelClient", "RunnelEtcd", "RunnelStorage", "KafkaProtocol", "KafkaRecords",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings),

        // MARK: Code generation (schemas -> Sources/KafkaProtocol/Generated)
        .target(name: "KafkaCodegen", path: "Sources/KafkaCodegen", swiftSettings: swiftSettings),
        .executableTarget(
            name: "runnel-codegen", dependencies: ["KafkaCodegen"], path: "tools/codegen",
            swiftSettings: swiftSettings),

        // MARK: Tests
        // Shared by the test targets: how a missing outside prerequisite skips (or fails, under CI=true).
        .target(name: "RunnelTestSupport", path: "Tests/RunnelTestSupport", swiftSettings: swiftSettings),
        .testTarget(
            name: "KafkaProtocolTests",
            dependencies: ["KafkaProtocol", "KafkaCodegen", "RunnelTestSupport", .product(name: "NIOCore", package: "swift-nio")],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "KafkaRecordsTests",
            dependencies: ["KafkaRecords", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings),
        // Child process for RunnelStorageTests' crash tests (SIGKILLed mid-append).
        .executableTarget(
            name: "storage-crash-helper",
            dependencies: ["RunnelStorage", "KafkaRecords", .product(name: "NIOCore", package: "swift-nio")],
            path: "Tests/StorageCrashHelper",
            swiftSettings: swiftSettings),
        // Release-mode storage scenarios for tools/bench/storage_bench.py (issue 3's numbers).
        .executableTarget(
            name: "storage-bench",
            dependencies: ["RunnelStorage", "KafkaRecords", .product(name: "NIOCore", package: "swift-nio")],
            path: "tools/bench/storage-bench",
            swiftSettings: swiftSettings),
        .testTarget(
            name: "RunnelStorageTests",
            dependencies: ["RunnelStorage", "KafkaRecords", "RunnelTestSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "RunnelClientTests",
            dependencies: [
                "RunnelClient", "KafkaProtocol", "KafkaRecords",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "RunnelGroupsTests",
            dependencies: [
                "RunnelGroups", "KafkaProtocol", "KafkaRecords",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "RunnelTransactionsTests",
            dependencies: [
                "RunnelTransactions", "KafkaProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "RunnelClusterTests",
            dependencies: [
                "RunnelCluster", "RunnelEtcd", "RunnelTestSupport", "KafkaProtocol",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "RunnelBrokerTests",
            dependencies: [
                "RunnelBroker", "RunnelGroups", "RunnelClient", "RunnelStorage", "KafkaProtocol", "KafkaRecords",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings),
    ]
)
