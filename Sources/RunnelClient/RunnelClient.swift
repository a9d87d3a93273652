// RunnelClient: a native async/await Kafka client (connections, metadata, producer, consumer, admin).
import KafkaProtocol
