// KafkaProtocol: wire primitives, headers, API keys, error codes and generated message codecs.
import NIOCore
