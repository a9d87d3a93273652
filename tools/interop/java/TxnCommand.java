// `txn`: the Java transactional producer (KIP-98) in three modes, chosen by "mode".
//
// produce  one transactional.id runs "transactions" in order, each {"start", "count", "end"} with end
//          "commit", "abort" or "hang": records start..start+count-1 of RecordScheme go to "topic"
//          ("partition", or by key), flushed, then the transaction is committed or aborted; "hang" leaves
//          it open, prints `OPEN` on stderr and waits for "stopFile", then does "hangEnd" (commit, abort,
//          or exit: the process exits with the transaction still open). Result: per transaction
//          {"end", "ok", "error"}, plus the producer id and epoch the producer used (from the log).
// fence    zombie fencing: producer A (transactional.id T) sends records 0..count-1 in an open
//          transaction and flushes; producer B with the same T calls initTransactions (which fences A and
//          aborts its transaction); A then sends count..2count-1 and tries to commit; B commits records
//          2count..3count-1. Result: the exception names A saw on send and on commit.
// ctp      one instance of a consume-transform-produce app (exactly-once, KIP-447): a group member
//          (read_committed) of "group" on "input"; each poll's records are written to "output" (same
//          partition, same key, value "T:" + value, headers idx/client plus src="p:o") in one transaction
//          with sendOffsetsToTransaction(offsets, consumer.groupMetadata()) and committed. Abortable errors
//          abort the transaction and rewind to the committed offsets; fatal ones (fenced, ...) exit 3.
//          stderr: `COMMITTED total=N` after each commit, `ABORTED <error>` after an abort.
//          Runs until "stopFile" exists or "timeoutMs" passes.
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

final class TxnCommand {
    static Object run(Args args) throws Exception {
        switch (args.str("mode")) {
            case "produce": return produce(args);
            case "fence": return fence(args);
            case "ctp": return consumeTransformProduce(args);
            default: throw new IllegalArgumentException("unknown txn mode " + args.str("mode"));
        }
    }

    static Properties producerProps(Args args, String transactionalId) {
        Properties p = JavaClient.clientProps(args);
        p.put("transactional.id", transactionalId);
        p.put("transaction.timeout.ms", String.valueOf(args.num("transactionTimeoutMs", 30000)));
        p.put("linger.ms", String.valueOf(args.num("lingerMs", 5)));
        p.put("delivery.timeout.ms", String.valueOf(args.num("deliveryTimeoutMs", 60000)));
        p.put("max.block.ms", String.valueOf(args.num("maxBlockMs", 30000)));
        return p;
    }

    static KafkaProducer<byte[], byte[]> producer(Properties p) {
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    static ProducerRecord<byte[], byte[]> schemeRecord(String topic, int partition, String prefix, long i,
                                                       int valueSize, String client) {
        List<Header> headers = new ArrayList<>();
        headers.add(new RecordHeader("idx", RecordScheme.utf8(String.valueOf(i))));
        headers.add(new RecordHeader("client", RecordScheme.utf8(client)));
        return new ProducerRecord<>(topic, partition >= 0 ? partition : null, null,
            RecordScheme.utf8(RecordScheme.key(prefix, i)), RecordScheme.utf8(RecordScheme.value(prefix, i, valueSize)),
            headers);
    }

    static void waitForFile(String path, long timeoutMs) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (!Files.exists(Paths.get(path))) {
            if (System.currentTimeMillis() > deadline) throw new IllegalStateException("stop file never appeared: " + path);
            Thread.sleep(50);
        }
    }

    // ---- produce --------------------------------------------------------------------------------

    private static Object produce(Args args) throws Exception {
        String topic = args.str("topic");
        String prefix = args.str("prefix");
        int partition = (int) args.num("partition", -1);
        int valueSize = (int) args.num("valueSize", 100);
        String client = args.str("client", "java");
        List<Object> results = new ArrayList<>();
        Map<String, Object> r = new LinkedHashMap<>();
        KafkaProducer<byte[], byte[]> producer = producer(producerProps(args, args.str("transactionalId")));
        boolean exitOpen = false;
        try {
            producer.initTransactions();
            for (Object o : args.list("transactions")) {
                Args t = args.sub(o);
                String end = t.str("end");
                Map<String, Object> tr = new LinkedHashMap<>();
                tr.put("end", end);
                List<Object> acks = new ArrayList<>();
                try {
                    producer.beginTransaction();
                    List<Future<RecordMetadata>> futures = new ArrayList<>();
                    long start = t.num("start");
                    for (long i = start; i < start + t.num("count"); i++) {
                        futures.add(producer.send(schemeRecord(topic, partition, prefix, i, valueSize, client)));
                    }
                    producer.flush();
                    for (Future<RecordMetadata> f : futures) {
                        RecordMetadata md = f.get();
                        acks.add(List.of((long) md.partition(), md.offset()));
                    }
                    if (end.equals("hang")) {
                        System.err.println("OPEN");
                        System.err.flush();
                        waitForFile(args.str("stopFile"), args.num("hangTimeoutMs", 120000));
                        end = args.str("hangEnd", "abort");
                    }
                    if (end.equals("commit")) producer.commitTransaction();
                    else if (end.equals("abort")) producer.abortTransaction();
                    else if (end.equals("exit")) exitOpen = true;
                    else throw new IllegalArgumentException("unknown transaction end " + end);
                    tr.put("ok", true);
                } catch (Exception e) {
                    tr.put("ok", false);
                    tr.put("error", JavaClient.errorName(e));
                    tr.put("message", JavaClient.describe(e));
                }
                tr.put("acks", acks);
                results.add(tr);
                if (exitOpen) break;
            }
        } finally {
            // With "exit" the process must not end the transaction: close without waiting.
            if (!exitOpen) producer.close(Duration.ofSeconds(30));
        }
        r.put("transactions", results);
        r.put("exitedOpen", exitOpen);
        return r;
    }

    // ---- fence ----------------------------------------------------------------------------------

    private static Object fence(Args args) throws Exception {
        String topic = args.str("topic");
        String prefix = args.str("prefix");
        int partition = (int) args.num("partition", 0);
        int count = (int) args.num("count", 10);
        String txnId = args.str("transactionalId");
        Map<String, Object> r = new LinkedHashMap<>();
        try (KafkaProducer<byte[], byte[]> zombie = producer(producerProps(args, txnId));
             KafkaProducer<byte[], byte[]> successor = producer(producerProps(args, txnId))) {
            zombie.initTransactions();
            zombie.beginTransaction();
            for (long i = 0; i < count; i++) zombie.send(schemeRecord(topic, partition, prefix, i, 100, "zombie")).get();
            successor.initTransactions();
            r.put("successorInitialized", true);
            // The zombie keeps writing into its (now aborted) transaction and tries to commit.
            List<Future<RecordMetadata>> late = new ArrayList<>();
            String sendError = null;
            try {
                for (long i = count; i < 2L * count; i++) late.add(zombie.send(schemeRecord(topic, partition, prefix, i, 100, "zombie")));
                zombie.flush();
                for (Future<RecordMetadata> f : late) f.get();
            } catch (Exception e) {
                sendError = chain(e);
            }
            r.put("zombieSendError", sendError);
            String commitError = null;
            try {
                zombie.commitTransaction();
            } catch (Exception e) {
                commitError = chain(e);
            }
            r.put("zombieCommitError", commitError);
            successor.beginTransaction();
            for (long i = 2L * count; i < 3L * count; i++) successor.send(schemeRecord(topic, partition, prefix, i, 100, "successor")).get();
            successor.commitTransaction();
            r.put("successorCommitted", true);
            zombie.close(Duration.ZERO);
        }
        return r;
    }

    /** The simple class names of an exception and its causes, "A<-B<-C" (outermost first). */
    static String chain(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (sb.length() > 0) sb.append("<-");
            sb.append(c.getClass().getSimpleName());
        }
        return sb.toString();
    }

    // ---- consume-transform-produce --------------------------------------------------------------

    private static boolean isFatal(Throwable e) {
        return e instanceof ProducerFencedException || e instanceof OutOfOrderSequenceException
            || e instanceof AuthorizationException || e instanceof UnsupportedVersionException;
    }

    private static Object consumeTransformProduce(Args args) throws Exception {
        String input = args.str("input");
        String output = args.str("output");
        String stopFile = args.str("stopFile");
        long timeoutMs = args.num("timeoutMs", 170000);
        long retryWindowMs = args.num("retryWindowMs", 60000);
        Properties cp = JavaClient.clientProps(args);
        cp.put("group.id", args.str("group"));
        cp.put("isolation.level", "read_committed");
        cp.put("enable.auto.commit", "false");
        cp.put("auto.offset.reset", "earliest");
        cp.put("max.poll.records", String.valueOf(args.num("maxPollRecords", 500)));
        cp.put("session.timeout.ms", String.valueOf(args.num("sessionTimeoutMs", 10000)));
        cp.put("heartbeat.interval.ms", "500");
        cp.put("max.poll.interval.ms", "120000");
        Properties pp = producerProps(args, args.str("transactionalId"));

        long deadline = System.currentTimeMillis() + timeoutMs;
        long committed = 0;
        long aborts = 0;
        boolean timedOut = false;
        Map<String, Object> r = new LinkedHashMap<>();
        List<String> abortReasons = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cp, new ByteArrayDeserializer(), new ByteArrayDeserializer());
             KafkaProducer<byte[], byte[]> producer = producer(pp)) {
            producer.initTransactions();
            consumer.subscribe(Collections.singletonList(input));
            while (true) {
                if (Files.exists(Paths.get(stopFile))) break;
                if (System.currentTimeMillis() > deadline) { timedOut = true; break; }
                ConsumerRecords<byte[], byte[]> recs = consumer.poll(Duration.ofMillis(200));
                if (recs.isEmpty()) continue;
                try {
                    producer.beginTransaction();
                    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                    for (ConsumerRecord<byte[], byte[]> rec : recs) {
                        List<Header> headers = new ArrayList<>();
                        for (Header h : rec.headers()) headers.add(h);
                        headers.add(new RecordHeader("src", RecordScheme.utf8(rec.partition() + ":" + rec.offset())));
                        byte[] value = RecordScheme.utf8("T:" + new String(rec.value(), java.nio.charset.StandardCharsets.UTF_8));
                        producer.send(new ProducerRecord<>(output, rec.partition(), null, rec.key(), value, headers));
                        offsets.put(new TopicPartition(rec.topic(), rec.partition()), new OffsetAndMetadata(rec.offset() + 1));
                    }
                    producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
                    commitRetryingTimeouts(producer, retryWindowMs);
                    committed += recs.count();
                    System.err.println("COMMITTED total=" + committed);
                    System.err.flush();
                } catch (KafkaException e) {
                    if (isFatal(e) || isFatal(e.getCause())) throw e;
                    aborts++;
                    String reason = JavaClient.describe(e);
                    abortReasons.add(reason);
                    abortRetryingTimeouts(producer, retryWindowMs);
                    System.err.println("ABORTED " + reason);
                    System.err.flush();
                    rewind(consumer);
                }
            }
        }
        r.put("committedRecords", committed);
        r.put("aborts", aborts);
        r.put("abortReasons", abortReasons);
        r.put("timedOut", timedOut);
        return r;
    }

    /** commitTransaction, called again after a TimeoutException (the documented retry) within a window. */
    private static void commitRetryingTimeouts(KafkaProducer<byte[], byte[]> producer, long windowMs) {
        long deadline = System.currentTimeMillis() + windowMs;
        while (true) {
            try {
                producer.commitTransaction();
                return;
            } catch (TimeoutException e) {
                if (System.currentTimeMillis() > deadline) throw e;
            }
        }
    }

    private static void abortRetryingTimeouts(KafkaProducer<byte[], byte[]> producer, long windowMs) {
        long deadline = System.currentTimeMillis() + windowMs;
        while (true) {
            try {
                producer.abortTransaction();
                return;
            } catch (TimeoutException e) {
                if (System.currentTimeMillis() > deadline) throw e;
            }
        }
    }

    /** After an abort: every assigned partition back to the group's committed offset. */
    private static void rewind(KafkaConsumer<byte[], byte[]> consumer) {
        Set<TopicPartition> assigned = consumer.assignment();
        Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(assigned);
        for (TopicPartition tp : assigned) {
            OffsetAndMetadata om = committed.get(tp);
            if (om == null) consumer.seekToBeginning(Collections.singletonList(tp));
            else consumer.seek(tp, om.offset());
        }
    }
}
