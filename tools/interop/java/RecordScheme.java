// The deterministic records every interop client writes and every test verifies: record i of a
// run with prefix P has key "P-0000042", a value that starts "P:value:42:" padded to the wanted
// size with a rotating alphabet, and headers [("idx", "42"), ("client", <client name>)].
// Tests/InteropTests/runnel_interop/records.py is the Python twin; the two must stay identical.
import java.nio.charset.StandardCharsets;

final class RecordScheme {
    static final String PAD = "abcdefghijklmnopqrstuvwxyz0123456789";

    static String key(String prefix, long i) { return String.format("%s-%07d", prefix, i); }

    static String value(String prefix, long i, int size) {
        String head = prefix + ":value:" + i + ":";
        if (head.length() >= size) return head;
        int rot = (int) (i % PAD.length());
        String block = PAD.substring(rot) + PAD.substring(0, rot);
        StringBuilder sb = new StringBuilder(size).append(head);
        while (sb.length() < size) sb.append(block);
        sb.setLength(size);
        return sb.toString();
    }

    static byte[] utf8(String s) { return s.getBytes(StandardCharsets.UTF_8); }
}
