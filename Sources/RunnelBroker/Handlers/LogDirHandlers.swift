// DescribeLogDirs: the log dirs of this broker, the partitions each holds and their sizes
// (`kafka-log-dirs.sh`, AdminClient.describeLogDirs, `runnel cluster log-dirs`).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KafkaProtocol
import RunnelStorage

extension BrokerCore {
    /// Every log dir (`log.dirs`) with its partitions: all of them (null topics) or the requested ones.
    /// An offline dir answers KAFKA_STORAGE_ERROR and no partitions. The offset lag is 0: Kafka reports
    /// the lag of future replicas (a move between log dirs, which Runnel does not do), and 0 otherwise.
    /// Total and usable bytes (v4+) come from statvfs, -1 when it fails. No dir is ever cordoned (v5:
    /// Runnel places new partitions in any online dir).
    func describeLogDirs(_ request: DescribeLogDirsRequest, _ context: HandlerRequest) -> HandlerResult<DescribeLogDirsResponse> {
        let logManager = replicas.logManager
        let offline = Set(logManager.offlineLogDirs)
        let wanted: [String: Set<Int32>]? = request.topics.map { topics in
            topics.reduce(into: [:]) { $0[$1.topic, default: []].formUnion($1.partitions) }
        }
        let byDir = Dictionary(grouping: logManager.partitions, by: \.logDir)
        var response = DescribeLogDirsResponse()
        for dir in logManager.configuration.logDirs {
            var result = DescribeLogDirsResponse.DescribeLogDirsResult()
            result.logDir = dir
            if offline.contains(dir) {
                result.errorCode = ErrorCode.kafkaStorageError.rawValue
                response.results.append(result)
                continue
            }
            if context.version >= 4, let space = Self.fileSystemSpace(dir) {
                result.totalBytes = space.total
                result.usableBytes = space.usable
            }
            var topics: [String: [DescribeLogDirsResponse.DescribeLogDirsPartition]] = [:]
            for descriptor in byDir[dir] ?? [] {
                if let wanted, wanted[descriptor.topic]?.contains(descriptor.partition) != true { continue }
                let log = replicas.partition(topic: descriptor.topic, index: descriptor.partition)?.log
                    ?? (try? logManager.log(topic: descriptor.topic, partition: descriptor.partition)) ?? nil
                guard let log else { continue }  // deleted meanwhile, or offline
                var partition = DescribeLogDirsResponse.DescribeLogDirsPartition()
                partition.partitionIndex = descriptor.partition
                partition.partitionSize = log.size
                partition.offsetLag = 0
                partition.isFutureKey = false
                topics[descriptor.topic, default: []].append(partition)
            }
            result.topics = topics.keys.sorted().map { name in
                var topic = DescribeLogDirsResponse.DescribeLogDirsTopic()
                topic.name = name
                topic.partitions = topics[name] ?? []
                return topic
            }
            response.results.append(result)
        }
        return .now(response)
    }

    /// The file system's size and the bytes available to this process under `path`.
    static func fileSystemSpace(_ path: String) -> (total: Int64, usable: Int64)? {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return nil }
        let fragment = Int64(stats.f_frsize)
        return (Int64(stats.f_blocks) * fragment, Int64(stats.f_bavail) * fragment)
    }
}
