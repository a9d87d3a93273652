// RecordsBenchmarks: CRC-32C throughput next to memcpy, and zstd / lz4 decompression through
// RecordCompression next to the C libraries called directly (reused context, preallocated output).
import Benchmark
import CLZ4
import CZstd
import KafkaRecords
import NIOCore

/// 1 MiB: the default `max.message.bytes`, the size of a large produced batch.
private let size = 1 << 20

/// Text-like records: what a batch of JSON events looks like to a compressor.
private let records: ByteBuffer = {
    var builder = RecordBatchBuilder(initialCapacity: size + 4096)
    var index = 0
    while builder.estimatedSizeInBytes < size {
        let value = #"{"user":\#(index % 997),"event":"page_view","path":"/items/\#(index * 7919 % 100_003)","ms":\#(index % 300)}"#
        builder.append(key: "user-\(index % 997)", value: value, timestamp: 1_700_000_000_000 + Int64(index))
        index += 1
    }
    let batch = try? RecordBatch(builder.build())
    return batch?.recordsSection ?? ByteBuffer()
}()

private func compressed(_ codec: CompressionCodec) -> ByteBuffer {
    var output = ByteBuffer()
    try? RecordCompression.compress(records, codec: codec, into: &output)
    return output
}

private let zstdRecords = compressed(.zstd)
/// A zstd frame without a content size in its header, as zstd-jni's streaming writer (the Java client) makes.
private let zstdStreamedRecords: ByteBuffer = {
    guard let context = ZSTD_createCCtx() else { return ByteBuffer() }
    defer { ZSTD_freeCCtx(context) }
    var output = ByteBuffer()
    _ = records.withUnsafeReadableBytes { source in
        output.writeWithUnsafeMutableBytes(minimumWritableBytes: ZSTD_compressBound(source.count)) { destination in
            var input = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
            var out = ZSTD_outBuffer(dst: destination.baseAddress, size: destination.count, pos: 0)
            _ = ZSTD_compressStream2(context, &out, &input, ZSTD_e_end)
            return out.pos
        }
    }
    return output
}()
private let lz4Records = compressed(.lz4)
/// One batch of about 1 MiB holding a single record.
private let largeBatchBytes: ByteBuffer = {
    var builder = RecordBatchBuilder(initialCapacity: size + 128)
    var recordsCopy = records
    builder.append(key: nil, value: recordsCopy.readSlice(length: size - 200), timestamp: 0)
    return (try? builder.build()) ?? ByteBuffer()
}()

private let random: [UInt8] = {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    return (0..<size).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 33)
    }
}()

let benchmarks: @Sendable () -> Void = {
    let throughput = Benchmark.Configuration(metrics: [.wallClock, .throughput], maxDuration: .seconds(3))
    let withAllocations = Benchmark.Configuration(metrics: [.wallClock, .throughput, .mallocCountTotal],
                                                  maxDuration: .seconds(3))

    Benchmark("memcpy 1 MiB (machine reference)", configuration: throughput) { benchmark in
        var destination = [UInt8](repeating: 0, count: size)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            destination.withUnsafeMutableBytes { d in random.withUnsafeBytes { s in d.copyMemory(from: s) } }
            blackHole(destination[Int(benchmark.currentIteration) % size])
        }
    }

    Benchmark("CRC-32C 1 MiB (SSE4.2 when available)", configuration: throughput) { benchmark in
        for _ in benchmark.scaledIterations {
            random.withUnsafeBytes { blackHole(CRC32C.checksum($0)) }
        }
    }

    Benchmark("CRC-32C 1 MiB (portable table)", configuration: throughput) { benchmark in
        for _ in benchmark.scaledIterations {
            random.withUnsafeBytes { blackHole(CRC32C.portableChecksum($0)) }
        }
    }

    Benchmark("CRC-32C of a 1 MiB batch via RecordBatch.isCRCValid", configuration: throughput) { benchmark in
        let batch = try RecordBatch(largeBatchBytes)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(batch.isCRCValid) }
    }

    Benchmark("zstd decompress 1 MiB records via RecordCompression", configuration: withAllocations) { benchmark in
        for _ in benchmark.scaledIterations {
            let output = try RecordCompression.decompress(zstdRecords, codec: .zstd, maxOutputBytes: 64 << 20)
            blackHole(output.readableBytes)
        }
    }

    Benchmark("zstd decompress 1 MiB records via libzstd directly", configuration: withAllocations) { benchmark in
        let context = ZSTD_createDCtx()
        defer { ZSTD_freeDCtx(context) }
        var destination = [UInt8](repeating: 0, count: records.readableBytes)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let written = zstdRecords.withUnsafeReadableBytes { source in
                destination.withUnsafeMutableBytes { d in
                    ZSTD_decompressDCtx(context, d.baseAddress, d.count, source.baseAddress, source.count)
                }
            }
            blackHole(written)
        }
    }

    Benchmark("zstd decompress 1 MiB records without content size via RecordCompression",
              configuration: withAllocations) { benchmark in
        for _ in benchmark.scaledIterations {
            let output = try RecordCompression.decompress(zstdStreamedRecords, codec: .zstd, maxOutputBytes: 64 << 20)
            blackHole(output.readableBytes)
        }
    }

    Benchmark("lz4 decompress 1 MiB records via RecordCompression", configuration: withAllocations) { benchmark in
        for _ in benchmark.scaledIterations {
            let output = try RecordCompression.decompress(lz4Records, codec: .lz4, maxOutputBytes: 64 << 20)
            blackHole(output.readableBytes)
        }
    }

    Benchmark("lz4 decompress 1 MiB records via liblz4 directly", configuration: withAllocations) { benchmark in
        var context: OpaquePointer?
        _ = LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))
        defer { LZ4F_freeDecompressionContext(context) }
        var destination = [UInt8](repeating: 0, count: records.readableBytes)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let written = lz4Records.withUnsafeReadableBytes { source in
                destination.withUnsafeMutableBytes { d in
                    var destinationSize = d.count
                    var sourceSize = source.count
                    _ = LZ4F_decompress(context, d.baseAddress, &destinationSize, source.baseAddress, &sourceSize, nil)
                    return destinationSize
                }
            }
            blackHole(written)
        }
    }

    Benchmark("validate a 1 MiB produce batch (headers + CRC)", configuration: withAllocations) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try RecordBatchValidator.validate(largeBatchBytes).recordCount)
        }
    }
}
