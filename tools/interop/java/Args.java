// Typed access to a subcommand's JSON arguments, with defaults and clear errors for missing keys.
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

final class Args {
    final Map<String, Object> map;

    @SuppressWarnings("unchecked")
    Args(Object parsed) {
        if (!(parsed instanceof Map)) throw new IllegalArgumentException("arguments must be a JSON object");
        this.map = (Map<String, Object>) parsed;
    }

    boolean has(String key) { return map.containsKey(key) && map.get(key) != null; }

    String str(String key) {
        Object v = map.get(key);
        if (v == null) throw new IllegalArgumentException("missing argument: " + key);
        return v.toString();
    }

    String str(String key, String dflt) { return has(key) ? map.get(key).toString() : dflt; }

    long num(String key, long dflt) {
        Object v = map.get(key);
        if (v == null) return dflt;
        if (v instanceof Number) return ((Number) v).longValue();
        return Long.parseLong(v.toString());
    }

    long num(String key) {
        if (!has(key)) throw new IllegalArgumentException("missing argument: " + key);
        return num(key, 0);
    }

    Boolean bool(String key) {
        Object v = map.get(key);
        return v == null ? null : (Boolean) v;
    }

    boolean bool(String key, boolean dflt) { Boolean b = bool(key); return b == null ? dflt : b; }

    @SuppressWarnings("unchecked")
    List<Object> list(String key) {
        Object v = map.get(key);
        return v == null ? new ArrayList<>() : (List<Object>) v;
    }

    @SuppressWarnings("unchecked")
    Map<String, Object> obj(String key) {
        Object v = map.get(key);
        return v == null ? new LinkedHashMap<>() : (Map<String, Object>) v;
    }

    Args sub(Object o) { return new Args(o); }
}
