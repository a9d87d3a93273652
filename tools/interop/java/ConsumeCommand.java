// `consume`: reads a topic's partitions with assign() (no consumer group) from the beginning (or a
// given offset) and writes every record as one JSON line {"p","o","ts","tt","k","v","h"} to "out".
// It stops when "expected" records were read, or, by default, when every partition reached the
// log end offset measured at the start; "timeoutMs" bounds the whole run.
import java.io.BufferedWriter;
import java.io.FileWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

final class ConsumeCommand {
    static Object run(Args args) throws Exception {
        String topic = args.str("topic");
        String out = args.str("out");
        long expected = args.num("expected", -1);
        long timeoutMs = args.num("timeoutMs", 60000);
        String from = args.str("from", "beginning");
        // "progressEvery" prints "PROGRESS acked=N" (records read) on stderr so a test can act mid-stream.
        long progressEvery = args.num("progressEvery", 0);
        Properties p = JavaClient.clientProps(args);
        p.put("enable.auto.commit", "false");
        p.put("auto.offset.reset", "earliest");
        p.put("max.poll.records", String.valueOf(args.num("maxPollRecords", 2000)));
        if (args.has("isolation")) p.put("isolation.level", args.str("isolation"));

        long deadline = System.currentTimeMillis() + timeoutMs;
        long count = 0;
        boolean timedOut = false;
        Map<String, Object> r = new LinkedHashMap<>();
        try (KafkaConsumer<byte[], byte[]> consumer =
                 new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
             BufferedWriter w = new BufferedWriter(new FileWriter(out, StandardCharsets.UTF_8), 1 << 20)) {
            List<TopicPartition> tps = new ArrayList<>();
            if (args.has("partitions")) {
                for (Object o : args.list("partitions")) tps.add(new TopicPartition(topic, ((Number) o).intValue()));
            } else {
                for (PartitionInfo pi : consumer.partitionsFor(topic, Duration.ofMillis(timeoutMs))) {
                    tps.add(new TopicPartition(topic, pi.partition()));
                }
            }
            consumer.assign(tps);
            if (from.equals("beginning")) consumer.seekToBeginning(tps);
            else if (from.equals("end")) consumer.seekToEnd(tps);
            else for (TopicPartition tp : tps) consumer.seek(tp, Long.parseLong(from));
            Map<TopicPartition, Long> end = consumer.endOffsets(tps, Duration.ofMillis(timeoutMs));
            Map<TopicPartition, Long> begin = consumer.beginningOffsets(tps, Duration.ofMillis(timeoutMs));
            StringBuilder sb = new StringBuilder(512);
            while (true) {
                if (expected >= 0 ? count >= expected : reachedEnd(consumer, tps, end)) break;
                if (System.currentTimeMillis() > deadline) { timedOut = true; break; }
                ConsumerRecords<byte[], byte[]> recs = consumer.poll(Duration.ofMillis(200));
                for (ConsumerRecord<byte[], byte[]> rec : recs) {
                    sb.setLength(0);
                    Map<String, Object> line = new LinkedHashMap<>();
                    line.put("p", rec.partition());
                    line.put("o", rec.offset());
                    line.put("ts", rec.timestamp());
                    line.put("tt", rec.timestampType().name);
                    line.put("k", rec.key() == null ? null : new String(rec.key(), StandardCharsets.UTF_8));
                    line.put("v", rec.value() == null ? null : new String(rec.value(), StandardCharsets.UTF_8));
                    List<Object> hs = new ArrayList<>();
                    for (Header h : rec.headers()) {
                        hs.add(java.util.Arrays.asList(h.key(),
                            h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8)));
                    }
                    line.put("h", hs);
                    Json.write(sb, line);
                    sb.append('\n');
                    w.write(sb.toString());
                    count++;
                    if (progressEvery > 0 && count % progressEvery == 0) {
                        System.err.println("PROGRESS acked=" + count);
                        System.err.flush();
                    }
                }
            }
            r.put("endOffsets", byPartition(end));
            r.put("beginningOffsets", byPartition(begin));
        }
        r.put("count", count);
        r.put("timedOut", timedOut);
        return r;
    }

    private static boolean reachedEnd(KafkaConsumer<byte[], byte[]> c, List<TopicPartition> tps,
                                      Map<TopicPartition, Long> end) {
        for (TopicPartition tp : tps) {
            if (c.position(tp) < end.get(tp)) return false;
        }
        return true;
    }

    static Map<String, Object> byPartition(Map<TopicPartition, Long> m) {
        Map<String, Object> r = new LinkedHashMap<>();
        for (Map.Entry<TopicPartition, Long> e : m.entrySet()) r.put(String.valueOf(e.getKey().partition()), e.getValue());
        return r;
    }
}
