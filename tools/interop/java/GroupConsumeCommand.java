// `group-consume`: one member of a consumer group (subscribe(), any assignor, optional static
// membership via group.instance.id). Every consumed record is written as a line "topic partition
// offset" to "out" and flushed before its offset is committed (commitSync, commitAsync or none), so
// after a SIGKILL the file still holds everything this member committed. Rebalance callbacks are
// reported on stderr as `EVENT {"type":"assigned|revoked|lost","gen":..,"memberId":..,"partitions":[..]}`
// and progress as `PROGRESS consumed=N`. The member runs until "stopFile" exists (then it finishes its
// pending async commits and closes) or "timeoutMs" passes.
import java.io.BufferedWriter;
import java.io.FileWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

final class GroupConsumeCommand {
    private static final Map<String, String> ASSIGNORS = Map.of(
        "range", "org.apache.kafka.clients.consumer.RangeAssignor",
        "roundrobin", "org.apache.kafka.clients.consumer.RoundRobinAssignor",
        "sticky", "org.apache.kafka.clients.consumer.StickyAssignor",
        "cooperative-sticky", "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");

    static Object run(Args args) throws Exception {
        List<String> topics = new ArrayList<>();
        for (Object t : args.list("topics")) topics.add(t.toString());
        String out = args.str("out");
        String stopFile = args.str("stopFile");
        String commit = args.str("commit", "sync");
        long timeoutMs = args.num("timeoutMs", 120000);
        long pollDelayMs = args.num("pollDelayMs", 0);
        boolean withValues = args.has("withValues");  // "topic partition offset value" lines (UTF-8 values without spaces)
        Properties p = JavaClient.clientProps(args);
        p.put("group.id", args.str("group"));
        p.put("enable.auto.commit", "false");
        p.put("auto.offset.reset", "earliest");
        String assignor = args.str("assignor", "range");
        p.put("partition.assignment.strategy", ASSIGNORS.getOrDefault(assignor, assignor));
        p.put("session.timeout.ms", String.valueOf(args.num("sessionTimeoutMs", 10000)));
        p.put("heartbeat.interval.ms", String.valueOf(args.num("heartbeatIntervalMs", 500)));
        p.put("max.poll.interval.ms", String.valueOf(args.num("maxPollIntervalMs", 30000)));
        p.put("max.poll.records", String.valueOf(args.num("maxPollRecords", 50)));
        if (args.has("instanceId")) p.put("group.instance.id", args.str("instanceId"));

        long deadline = System.currentTimeMillis() + timeoutMs;
        AtomicLong asyncOk = new AtomicLong();
        AtomicLong asyncFailed = new AtomicLong();
        AtomicLong asyncPending = new AtomicLong();
        long syncCommits = 0;
        long consumed = 0;
        boolean timedOut = false;
        List<String> commitErrors = new ArrayList<>();
        Map<String, Object> r = new LinkedHashMap<>();
        try (KafkaConsumer<byte[], byte[]> consumer =
                 new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
             BufferedWriter w = new BufferedWriter(new FileWriter(out, StandardCharsets.UTF_8), 1 << 16)) {
            consumer.subscribe(topics, new ConsumerRebalanceListener() {
                @Override public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    // Standard practice: commit what was processed before giving partitions up.
                    if (!commit.equals("none") && !partitions.isEmpty()) {
                        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                        for (TopicPartition tp : partitions) offsets.put(tp, new OffsetAndMetadata(consumer.position(tp)));
                        try {
                            consumer.commitSync(offsets);
                        } catch (RuntimeException e) {
                            System.err.println("EVENT {\"type\":\"revoke-commit-failed\"}");
                        }
                    }
                    event(consumer, "revoked", partitions);
                }
                @Override public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    event(consumer, "assigned", partitions);
                }
                @Override public void onPartitionsLost(Collection<TopicPartition> partitions) {
                    event(consumer, "lost", partitions);
                }
            });
            boolean stopping = false;
            while (true) {
                if (!stopping && Files.exists(Paths.get(stopFile))) stopping = true;
                if (stopping && asyncPending.get() == 0) break;
                if (System.currentTimeMillis() > deadline) { timedOut = true; break; }
                ConsumerRecords<byte[], byte[]> recs = consumer.poll(Duration.ofMillis(100));
                if (recs.isEmpty()) continue;
                Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                for (ConsumerRecord<byte[], byte[]> rec : recs) {
                    w.write(rec.topic() + " " + rec.partition() + " " + rec.offset()
                            + (withValues ? " " + new String(rec.value(), StandardCharsets.UTF_8) : "") + "\n");
                    offsets.put(new TopicPartition(rec.topic(), rec.partition()), new OffsetAndMetadata(rec.offset() + 1));
                    consumed++;
                }
                w.flush();
                if (commit.equals("sync")) {
                    try {
                        consumer.commitSync(offsets);
                        syncCommits++;
                    } catch (RuntimeException e) {
                        // A rebalance may take partitions away between poll and commit; the next
                        // owner resumes from the last landed commit.
                        commitErrors.add(JavaClient.describe(e));
                    }
                } else if (commit.equals("async")) {
                    asyncPending.incrementAndGet();
                    consumer.commitAsync(offsets, (committed, error) -> {
                        asyncPending.decrementAndGet();
                        if (error == null) asyncOk.incrementAndGet();
                        else {
                            asyncFailed.incrementAndGet();
                            synchronized (commitErrors) { commitErrors.add(JavaClient.describe(error)); }
                        }
                    });
                }
                System.err.println("PROGRESS consumed=" + consumed);
                if (pollDelayMs > 0) Thread.sleep(pollDelayMs);  // a slow consumer, by request
            }
            r.put("generation", consumer.groupMetadata().generationId());
            r.put("memberId", consumer.groupMetadata().memberId());
            r.put("assignment", names(consumer.assignment()));
        }
        r.put("consumed", consumed);
        r.put("syncCommits", syncCommits);
        r.put("asyncCommitsOk", asyncOk.get());
        r.put("asyncCommitsFailed", asyncFailed.get());
        r.put("commitErrors", commitErrors);
        r.put("timedOut", timedOut);
        return r;
    }

    private static void event(KafkaConsumer<byte[], byte[]> consumer, String type, Collection<TopicPartition> partitions) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("type", type);
        e.put("gen", consumer.groupMetadata().generationId());
        e.put("memberId", consumer.groupMetadata().memberId());
        e.put("partitions", names(partitions));
        System.err.println("EVENT " + Json.write(e));
        System.err.flush();
    }

    private static List<Object> names(Collection<TopicPartition> partitions) {
        List<Object> out = new ArrayList<>();
        for (TopicPartition tp : partitions) out.add(tp.topic() + ":" + tp.partition());
        return out;
    }
}
