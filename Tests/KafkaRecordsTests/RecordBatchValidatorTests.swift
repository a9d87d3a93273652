import KafkaRecords
import NIOCore
import Testing

@Suite struct RecordBatchValidatorTests {
    typealias Options = RecordBatchValidator.Options

    private func rejection(_ records: ByteBuffer, _ options: Options = Options()) -> RecordBatchError? {
        do {
            _ = try RecordBatchValidator.validate(records, options: options)
            return nil
        } catch {
            return error
        }
    }

    @Test func validProduceBatchIsSummarisedFromHeadersOnly() throws {
        let bytes = try Sample.batch(count: 5, producerId: 7, producerEpoch: 0, baseSequence: 0)
        let summary = try RecordBatchValidator.validate(bytes)
        #expect(summary.batchCount == 1)
        #expect(summary.recordCount == 5)
        #expect(summary.offsetCount == 5)
        #expect(summary.validBytes == bytes.readableBytes)
        #expect(summary.maxTimestamp == 1_700_000_000_040)
        #expect(summary.offsetOfMaxTimestamp == 4)
        #expect(summary.firstBatch?.producerId == 7)
        #expect(!summary.hasCompressedBatches && !summary.hasTransactionalBatches && !summary.hasControlBatches)
    }

    @Test func emptyProduceRecordsAreInvalidRecord() {
        #expect(rejection(ByteBuffer())?.kafkaErrorCode == 87)
    }

    @Test func crcMismatchIsCorruptMessage() throws {
        let bytes = Sample.flip(try Sample.batch(), byte: 70)
        let error = rejection(bytes)
        guard case .crcMismatch = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(error?.kafkaErrorCode == 2)
    }

    @Test func truncatedAndLyingLengthsAreCorruptMessage() throws {
        let bytes = try Sample.batch()
        var longer = bytes
        longer.setInteger(Int32(bytes.readableBytes), at: RecordBatchLayout.batchLength)
        let truncated = bytes.getSlice(at: 0, length: bytes.readableBytes - 1)!
        for candidate in [longer, truncated, bytes.getSlice(at: 0, length: 30)!] {
            #expect(rejection(candidate)?.kafkaErrorCode == 2)
        }
        // A shorter lying length leaves a garbage tail that is then not a batch.
        var shorter = bytes
        shorter.setInteger(Int32(bytes.readableBytes - 20), at: RecordBatchLayout.batchLength)
        #expect(rejection(shorter) != nil)
    }

    @Test func producedBatchMustHaveBaseOffsetZero() throws {
        var bytes = try Sample.batch()
        bytes.setInteger(Int64(5), at: 0)
        #expect(rejection(bytes)?.kafkaErrorCode == 87)
        #expect(rejection(bytes, Options(origin: .replication)) == nil)
    }

    @Test func recordCountMustMatchLastOffsetDelta() throws {
        var bytes = try Sample.batch(count: 3)
        bytes.setInteger(Int32(5), at: RecordBatchLayout.lastOffsetDelta)
        RecordBatchRewriterTests.fixCRC(&bytes)
        #expect(rejection(bytes)?.kafkaErrorCode == 87)
        // Replicated compacted batches may have fewer records than offsets.
        #expect(rejection(bytes, Options(origin: .replication)) == nil)
        bytes.setInteger(Int32(0), at: RecordBatchLayout.recordsCount)
        RecordBatchRewriterTests.fixCRC(&bytes)
        #expect(rejection(bytes)?.kafkaErrorCode == 87)
    }

    @Test func clientsMayNotWriteControlBatches() {
        let marker = RecordBatchBuilder.endTransactionMarker(EndTransactionMarker(type: .commit, coordinatorEpoch: 0),
                                                             producerId: 1, producerEpoch: 0, timestamp: 1)
        #expect(rejection(marker)?.kafkaErrorCode == 87)
        #expect(rejection(marker, Options(origin: .replication)) == nil)
    }

    @Test func producerFieldsMustBeConsistent() throws {
        #expect(rejection(try Sample.batch(producerId: 5, producerEpoch: 0, baseSequence: -1))?.kafkaErrorCode == 87)
        #expect(rejection(try Sample.batch(producerId: 5, producerEpoch: -1, baseSequence: 0))?.kafkaErrorCode == 87)
        #expect(rejection(try Sample.batch(isTransactional: true))?.kafkaErrorCode == 87)
        #expect(rejection(try Sample.batch(producerId: 5, producerEpoch: 1, baseSequence: 9, isTransactional: true)) == nil)
    }

    @Test func produceV3RequiresExactlyOneBatch() throws {
        let two = Sample.concat([try Sample.batch(), try Sample.batch()])
        #expect(rejection(two) == nil)
        #expect(rejection(two, Options(requireSingleBatch: true))?.kafkaErrorCode == 87)
    }

    @Test func batchLargerThanMaxMessageBytesIsRecordTooLarge() throws {
        let bytes = try Sample.batch(count: 20)
        #expect(rejection(bytes, Options(maxBatchSize: bytes.readableBytes - 1))?.kafkaErrorCode == 10)
        #expect(rejection(bytes, Options(maxBatchSize: bytes.readableBytes)) == nil)
    }

    @Test func disallowedOrUnknownCodecIsUnsupportedCompressionType() throws {
        var bytes = try Sample.batch()
        #expect(rejection(bytes, Options(allowedCodecs: [.gzip]))?.kafkaErrorCode == 76)
        bytes.setInteger(Int16(6), at: RecordBatchLayout.attributes)
        RecordBatchRewriterTests.fixCRC(&bytes)
        #expect(rejection(bytes)?.kafkaErrorCode == 76)
    }

    @Test func createTimeOutsideTheWindowIsInvalidTimestamp() throws {
        let bytes = try Sample.batch(count: 3, baseTimestamp: 10_000)
        let window = RecordBatchValidator.TimestampWindow(now: 20_000, beforeMaxMs: 5_000, afterMaxMs: 1_000)
        #expect(rejection(bytes, Options(timestampWindow: window))?.kafkaErrorCode == 32)
        let inside = RecordBatchValidator.TimestampWindow(now: 10_500, beforeMaxMs: 5_000, afterMaxMs: 1_000)
        #expect(rejection(bytes, Options(timestampWindow: inside)) == nil)
        let future = RecordBatchValidator.TimestampWindow(now: 5_000, beforeMaxMs: 5_000, afterMaxMs: 1_000)
        #expect(rejection(bytes, Options(timestampWindow: future))?.kafkaErrorCode == 32)
    }

    @Test func compactedTopicRejectsRecordsWithoutKeys() throws {
        var builder = RecordBatchBuilder()
        builder.append(key: "k", value: "v", timestamp: 1)
        builder.append(key: nil as ByteBuffer?, value: ByteBuffer(string: "v"), timestamp: 1)
        let bytes = try builder.build()
        #expect(rejection(bytes) == nil)
        #expect(rejection(bytes, Options(requireKeys: true))?.kafkaErrorCode == 87)
    }

    @Test func fullRecordValidationCatchesMalformedRecordsWithValidCRC() throws {
        var bytes = try Sample.batch(count: 2)
        bytes.setInteger(Int32(1), at: RecordBatchLayout.recordsCount)
        bytes.setInteger(Int32(0), at: RecordBatchLayout.lastOffsetDelta)
        RecordBatchRewriterTests.fixCRC(&bytes)
        #expect(rejection(bytes) == nil) // headers only: consistent
        #expect(rejection(bytes, Options(recordValidation: .allBatches))?.kafkaErrorCode == 2)
    }

    @Test func recoveryKeepsTheValidPrefixAndReportsWhatStoppedIt() throws {
        var first = try Sample.batch(count: 3)
        RecordBatchRewriter.setBaseOffset(0, partitionLeaderEpoch: 1, in: &first, at: 0)
        var second = try Sample.batch(count: 2)
        RecordBatchRewriter.setBaseOffset(3, partitionLeaderEpoch: 1, in: &second, at: 0)
        let third = Sample.flip(second, byte: 80)
        let log = Sample.concat([first, second, third])
        let result = RecordBatchValidator.validPrefix(of: log)
        #expect(result.validBytes == first.readableBytes + second.readableBytes)
        #expect(result.summary.batchCount == 2)
        #expect(result.summary.lastOffset == 4)
        // The CRC is checked before offsets, so the flipped third batch is reported as corrupt.
        guard case .crcMismatch(let position, _, _) = result.error else {
            Issue.record("expected crcMismatch, got \(String(describing: result.error))")
            return
        }
        #expect(position == result.validBytes)
    }

    @Test func recoveryRejectsOffsetsGoingBackwards() throws {
        var first = try Sample.batch(count: 3)
        RecordBatchRewriter.setBaseOffset(10, partitionLeaderEpoch: 1, in: &first, at: 0)
        let log = Sample.concat([first, first])
        let result = RecordBatchValidator.validPrefix(of: log)
        #expect(result.validBytes == first.readableBytes)
        #expect(result.error?.kafkaErrorCode == 87)
        let whole = RecordBatchValidator.validPrefix(of: first)
        #expect(whole.error == nil && whole.validBytes == first.readableBytes)
    }
}
