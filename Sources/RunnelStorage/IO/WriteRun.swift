// WriteRun: the writes of one engine drain coalesced into vectored writes — consecutive requests for the
// same file whose byte ranges touch (one partition's appends, queued in position order) become one
// pwritev / io_uring writev, so a drain of many small batches costs one system call per file run.
import NIOCore

/// Adjacent writes of one drain, written as one vectored write.
struct WriteRun {
    var descriptor: Int32
    var position: Int64
    var chunks: [ByteBuffer]
    /// Indexes of the requests (in the drain) this run writes; they share its result.
    var requests: [Int]
    var length: Int

    /// Most iovecs in one run (Linux's IOV_MAX).
    static let maxChunks = 1024

    /// Groups the writes of `batch` (requests with chunks) into runs, keeping their order.
    static func plan(_ batch: ArraySlice<IORequest>) -> [WriteRun] {
        var runs: [WriteRun] = []
        for index in batch.indices where !batch[index].chunks.isEmpty {
            let request = batch[index]
            let length = request.chunks.reduce(0) { $0 + $1.readableBytes }
            if let last = runs.indices.last, runs[last].descriptor == request.file.descriptor,
               runs[last].position + Int64(runs[last].length) == request.position,
               runs[last].chunks.count + request.chunks.count <= maxChunks {
                runs[last].chunks.append(contentsOf: request.chunks)
                runs[last].requests.append(index)
                runs[last].length += length
            } else {
                runs.append(WriteRun(descriptor: request.file.descriptor, position: request.position, chunks: request.chunks,
                                     requests: [index], length: length))
            }
        }
        return runs
    }
}
