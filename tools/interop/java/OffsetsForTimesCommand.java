// `offsets-for-times`: KafkaConsumer.offsetsForTimes for each requested timestamp on each
// partition (ListOffsets with a timestamp), plus the beginning and end offsets, as JSON.
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

final class OffsetsForTimesCommand {
    static Object run(Args args) throws Exception {
        String topic = args.str("topic");
        Duration timeout = Duration.ofMillis(args.num("timeoutMs", 30000));
        Properties p = JavaClient.clientProps(args);
        p.put("enable.auto.commit", "false");
        Map<String, Object> r = new LinkedHashMap<>();
        try (KafkaConsumer<byte[], byte[]> consumer =
                 new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> tps = new ArrayList<>();
            if (args.has("partitions")) {
                for (Object o : args.list("partitions")) tps.add(new TopicPartition(topic, ((Number) o).intValue()));
            } else {
                for (PartitionInfo pi : consumer.partitionsFor(topic, timeout)) tps.add(new TopicPartition(topic, pi.partition()));
            }
            List<Object> results = new ArrayList<>();
            for (Object tsObj : args.list("timestamps")) {
                long ts = ((Number) tsObj).longValue();
                Map<TopicPartition, Long> query = new HashMap<>();
                for (TopicPartition tp : tps) query.put(tp, ts);
                Map<TopicPartition, OffsetAndTimestamp> found = consumer.offsetsForTimes(query, timeout);
                Map<String, Object> parts = new LinkedHashMap<>();
                for (TopicPartition tp : tps) {
                    OffsetAndTimestamp oat = found.get(tp);
                    if (oat == null) { parts.put(String.valueOf(tp.partition()), null); continue; }
                    Map<String, Object> o = new LinkedHashMap<>();
                    o.put("offset", oat.offset());
                    o.put("timestamp", oat.timestamp());
                    parts.put(String.valueOf(tp.partition()), o);
                }
                Map<String, Object> one = new LinkedHashMap<>();
                one.put("timestamp", ts);
                one.put("partitions", parts);
                results.add(one);
            }
            r.put("results", results);
            r.put("beginningOffsets", ConsumeCommand.byPartition(consumer.beginningOffsets(tps, timeout)));
            r.put("endOffsets", ConsumeCommand.byPartition(consumer.endOffsets(tps, timeout)));
        }
        return r;
    }
}
