// RunnelBroker: the server pipeline, request router, handlers, partition manager and coordinators.
import KafkaProtocol
