// `produce`: sends `count` records of RecordScheme (indices start..start+count-1) with the Java
// producer and reports, per index, where it was acknowledged ([partition, offset]) or null when
// its send failed. The producer's defaults (idempotence on, acks=all) apply unless the arguments
// set "acks" / "idempotence". "ratePerSec" paces the sends (for restart-mid-stream tests),
// "progressEvery" prints "PROGRESS acked=N" lines on stderr so a test can act mid-stream, and
// "closeTimeoutMs" bounds the final close (default 30 s).
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;

final class ProduceCommand {
    static Object run(Args args) throws Exception {
        String topic = args.str("topic");
        int count = (int) args.num("count");
        long start = args.num("start", 0);
        String prefix = args.str("prefix");
        int valueSize = (int) args.num("valueSize", 100);
        int partition = (int) args.num("partition", -1);
        long tsBase = args.num("tsBase", -1);
        long tsStep = args.num("tsStep", 1);
        long ratePerSec = args.num("ratePerSec", 0);
        long progressEvery = args.num("progressEvery", 0);
        String client = args.str("client", "java");

        Properties p = JavaClient.clientProps(args);
        p.put("compression.type", args.str("compression", "none"));
        if (args.has("acks")) p.put("acks", args.str("acks"));
        if (args.has("idempotence")) p.put("enable.idempotence", String.valueOf(args.bool("idempotence")));
        if (args.has("lingerMs")) p.put("linger.ms", String.valueOf(args.num("lingerMs")));
        if (args.has("batchSize")) p.put("batch.size", String.valueOf(args.num("batchSize")));
        p.put("delivery.timeout.ms", String.valueOf(args.num("deliveryTimeoutMs", 120000)));
        p.put("max.block.ms", String.valueOf(args.num("maxBlockMs", 60000)));

        final Object[] acks = new Object[count];
        final AtomicLong acked = new AtomicLong();
        final AtomicLong failed = new AtomicLong();
        final Map<String, Long> errors = new ConcurrentHashMap<>();
        long t0 = System.nanoTime();
        Map<String, Object> config = new LinkedHashMap<>();
        try (KafkaProducer<byte[], byte[]> producer =
                 new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            // Paced sends keep the average rate, but a backlog of more than 100 ms (the first send waits
            // for metadata, a connection, maybe a SASL exchange: seconds on a loaded machine; a send
            // blocked across a failover) is dropped, not sent in one burst.
            long interval = ratePerSec > 0 ? 1_000_000_000L / ratePerSec : 0;
            long due = System.nanoTime();
            for (int n = 0; n < count; n++) {
                if (ratePerSec > 0) {
                    long now = System.nanoTime();
                    due = Math.max(due, now - 100_000_000L);
                    long wait = due - now;
                    if (wait > 0) Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                    due += interval;
                }
                long i = start + n;
                List<Header> headers = new ArrayList<>();
                headers.add(new RecordHeader("idx", RecordScheme.utf8(String.valueOf(i))));
                headers.add(new RecordHeader("client", RecordScheme.utf8(client)));
                ProducerRecord<byte[], byte[]> rec = new ProducerRecord<>(
                    topic, partition >= 0 ? partition : null, tsBase >= 0 ? tsBase + i * tsStep : null,
                    RecordScheme.utf8(RecordScheme.key(prefix, i)),
                    RecordScheme.utf8(RecordScheme.value(prefix, i, valueSize)), headers);
                final int slot = n;
                try {
                    producer.send(rec, (md, ex) -> {
                        if (ex == null) {
                            acks[slot] = List.of((long) md.partition(), md.offset());
                            long a = acked.incrementAndGet();
                            if (progressEvery > 0 && a % progressEvery == 0) {
                                System.err.println("PROGRESS acked=" + a);
                                System.err.flush();
                            }
                        } else {
                            failed.incrementAndGet();
                            errors.merge(JavaClient.errorName(ex), 1L, Long::sum);
                        }
                    });
                } catch (Exception ex) {
                    // send() itself failed (e.g. no metadata within max.block.ms): the rest would
                    // fail the same way, one max.block.ms each, so count them all and stop.
                    failed.addAndGet(count - n);
                    errors.merge(JavaClient.errorName(ex), (long) (count - n), Long::sum);
                    break;
                }
            }
            producer.flush();
            // The client's view of broker throttling (KIP-219): produce-throttle-time-max over its metrics window.
            for (var m : producer.metrics().entrySet()) {
                if (m.getKey().name().equals("produce-throttle-time-max") && m.getKey().group().equals("producer-metrics")) {
                    Object v = m.getValue().metricValue();
                    config.put("produceThrottleTimeMaxMs", v instanceof Double && !((Double) v).isNaN() ? v : 0.0);
                }
            }
            producer.close(Duration.ofMillis(args.num("closeTimeoutMs", 30000)));
        }
        config.put("acks", p.getProperty("acks", "default"));
        config.put("enable.idempotence", p.getProperty("enable.idempotence", "default"));
        config.put("compression.type", p.getProperty("compression.type"));
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("sent", count);
        r.put("acked", acked.get());
        r.put("failed", failed.get());
        r.put("errors", new LinkedHashMap<>(errors));
        r.put("config", config);
        r.put("durationMs", (System.nanoTime() - t0) / 1_000_000);
        List<Object> list = new ArrayList<>(count);
        for (Object a : acks) list.add(a);
        r.put("acks", list);
        return r;
    }
}
