// The Java producer (kafka-clients 4.x) for tools/bench/txn_bench.py --client java: idempotent or
// transactional produce of N records of S bytes, keyless, acks=all, the same producer settings as
// tools/bench/rdkafka_perf.c (linger.ms=5, batch.size=1000000). With -T N the producer is transactional
// and commits every N records; commitTransaction() latencies are reported.
//
// A warm-up of -w records goes to the topic first, in the same mode, so the JIT and the connections are
// warm before the clock starts (the JVM's start is not the broker's cost).
//
//   java -cp <classes>:<kafka jars> TxnPerf -b HOST:PORT -t TOPIC -n 200000 -s 1024 [-T 1000] [-w 50000]
//        [-X key=value ...]
//
// Prints one JSON object on stdout: records, bytes, seconds, MBps, and with -T transactions,
// commit_ms {p50, p99, max} and send_loop_ms_mean (beginTransaction() to commitTransaction(): the
// application's sends, during which a transaction's one ~1 MB batch is still filling).
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class TxnPerf {
    public static void main(String[] argv) throws Exception {
        String bootstrap = null, topic = null;
        long count = 200_000, warm = 50_000, txnRecords = 0;
        int size = 1024;
        List<String> extra = new ArrayList<>();
        for (int i = 0; i + 1 < argv.length; i += 2) {
            String v = argv[i + 1];
            switch (argv[i]) {
                case "-b": bootstrap = v; break;
                case "-t": topic = v; break;
                case "-n": count = Long.parseLong(v); break;
                case "-s": size = Integer.parseInt(v); break;
                case "-T": txnRecords = Long.parseLong(v); break;
                case "-w": warm = Long.parseLong(v); break;
                case "-X": extra.add(v); break;
                default: throw new IllegalArgumentException("unknown flag " + argv[i]);
            }
        }
        if (bootstrap == null || topic == null) throw new IllegalArgumentException("-b and -t are required");

        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("acks", "all");
        p.put("enable.idempotence", "true");
        p.put("linger.ms", "5");
        p.put("batch.size", "1000000");
        p.put("buffer.memory", String.valueOf(256L << 20));
        if (txnRecords > 0) p.put("transactional.id", "java-txn-perf-" + ProcessHandle.current().pid());
        for (String kv : extra) {
            int eq = kv.indexOf('=');
            if (eq <= 0) throw new IllegalArgumentException("-X wants key=value: " + kv);
            p.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        byte[] payload = new byte[size];
        for (int i = 0; i < size; i++) payload[i] = (byte) ('a' + (i * 7 + i / 13) % 26);

        AtomicLong failed = new AtomicLong();
        AtomicReference<String> firstError = new AtomicReference<>();
        try (KafkaProducer<byte[], byte[]> producer =
                 new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            if (txnRecords > 0) producer.initTransactions();
            // Warm-up, same mode; not timed.
            run(producer, topic, payload, warm, txnRecords, null, null, failed, firstError);
            double[] commits = new double[(int) (txnRecords > 0 ? count / txnRecords + 2 : 0)];
            double[] loops = new double[commits.length];
            long start = System.nanoTime();
            int n = run(producer, topic, payload, count, txnRecords, commits, loops, failed, firstError);
            double seconds = (System.nanoTime() - start) / 1e9;
            if (failed.get() > 0) {
                System.err.println("TxnPerf: " + failed.get() + " delivery errors, first: " + firstError.get());
                System.exit(1);
            }
            StringBuilder out = new StringBuilder();
            double bytes = (double) count * size;
            out.append(String.format("{\"records\":%d,\"bytes\":%.0f,\"seconds\":%.4f,\"MBps\":%.3f",
                count, bytes, seconds, bytes / seconds / 1e6));
            if (n > 0) {
                double[] c = Arrays.copyOf(commits, n);
                Arrays.sort(c);
                out.append(String.format(",\"transactions\":%d,\"commit_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}",
                    n, c[Math.min(n - 1, (int) (n * 0.50))], c[Math.min(n - 1, (int) (n * 0.99))], c[n - 1]));
                out.append(String.format(",\"send_loop_ms_mean\":%.3f", Arrays.stream(loops, 0, n).average().orElse(0)));
            }
            out.append("}");
            System.out.println(out);
        }
    }

    /** Produces `count` records; in transactions of `txnRecords` when > 0, recording each commit's
     *  latency in `commits` and the time from beginTransaction() to commitTransaction() (the application's
     *  send loop) in `loops` (when given). Returns the number of commits recorded. */
    private static int run(KafkaProducer<byte[], byte[]> producer, String topic, byte[] payload, long count,
                           long txnRecords, double[] commits, double[] loops, AtomicLong failed,
                           AtomicReference<String> firstError) {
        int n = 0;
        if (count <= 0) return 0;
        long begun = System.nanoTime();
        if (txnRecords > 0) producer.beginTransaction();
        for (long i = 0; i < count; i++) {
            if (txnRecords > 0 && i > 0 && i % txnRecords == 0) {
                long t0 = System.nanoTime();
                producer.commitTransaction();
                if (commits != null) {
                    loops[n] = (t0 - begun) / 1e6;
                    commits[n++] = (System.nanoTime() - t0) / 1e6;
                }
                begun = System.nanoTime();
                producer.beginTransaction();
            }
            producer.send(new ProducerRecord<>(topic, null, payload), (md, e) -> {
                if (e != null) {
                    failed.incrementAndGet();
                    firstError.compareAndSet(null, e.toString());
                }
            });
        }
        if (txnRecords > 0) {
            long t0 = System.nanoTime();
            producer.commitTransaction();
            if (commits != null) {
                loops[n] = (t0 - begun) / 1e6;
                commits[n++] = (System.nanoTime() - t0) / 1e6;
            }
        } else {
            producer.flush();
        }
        return n;
    }
}
