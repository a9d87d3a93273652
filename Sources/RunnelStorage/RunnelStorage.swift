// RunnelStorage: partition logs on disk (segments, indexes, recovery, retention, compaction) and the I/O layer.
import KafkaRecords
