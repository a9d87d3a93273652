// KafkaCodegen: turns Kafka JSON message schemas into Swift codecs.
import Foundation
