// runnel-codegen: regenerates Sources/KafkaProtocol/Generated from the Kafka schemas.
import KafkaCodegen
print("runnel-codegen: not implemented yet")
