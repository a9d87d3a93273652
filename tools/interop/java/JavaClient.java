// Entry point of the Java interop program: `JavaClient <subcommand> <json-args | @file>`.
// Subcommands: selftest, produce, consume, admin, offsets-for-times, group-consume, txn. Each prints exactly one JSON
// object on the last line of stdout (the result) and exits 0 when it ran to the end; operation
// failures are reported inside the JSON so the Python tests can assert on them. Exit 2 is a usage
// error, exit 1 an unexpected exception (also printed as JSON {"fatal": ...}).
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;

public final class JavaClient {
    public static void main(String[] argv) throws Exception {
        if (argv.length != 2) {
            System.err.println("usage: JavaClient <selftest|produce|consume|admin|offsets-for-times|group-consume|txn> <json|@file>");
            System.exit(2);
        }
        String json = argv[1].startsWith("@")
            ? new String(Files.readAllBytes(Paths.get(argv[1].substring(1))), StandardCharsets.UTF_8)
            : argv[1];
        Args args = new Args(Json.parse(json));
        Object result;
        try {
            switch (argv[0]) {
                case "selftest": result = SelfTestCommand.run(args); break;
                case "produce": result = ProduceCommand.run(args); break;
                case "consume": result = ConsumeCommand.run(args); break;
                case "admin": result = AdminCommand.run(args); break;
                case "offsets-for-times": result = OffsetsForTimesCommand.run(args); break;
                case "group-consume": result = GroupConsumeCommand.run(args); break;
                case "txn": result = TxnCommand.run(args); break;
                default:
                    System.err.println("unknown subcommand: " + argv[0]);
                    System.exit(2);
                    return;
            }
        } catch (Throwable t) {
            Map<String, Object> fatal = new LinkedHashMap<>();
            fatal.put("fatal", describe(t));
            System.out.println(Json.write(fatal));
            t.printStackTrace();
            System.out.flush();
            System.exit(1);
            return;
        }
        System.out.println(Json.write(result));
        System.out.flush();
        // Client threads (metadata, network) must not keep a finished program alive.
        System.exit(0);
    }

    /** Common client properties: bootstrap servers, bounded timeouts, plus the caller's overrides. */
    static Properties clientProps(Args args) {
        Properties p = new Properties();
        p.put("bootstrap.servers", args.str("bootstrap"));
        p.put("client.id", args.str("clientId", "runnel-interop-java"));
        p.put("request.timeout.ms", String.valueOf(args.num("requestTimeoutMs", 15000)));
        p.put("default.api.timeout.ms", String.valueOf(args.num("apiTimeoutMs", 30000)));
        p.put("reconnect.backoff.ms", "50");
        p.put("reconnect.backoff.max.ms", "500");
        p.put("retry.backoff.ms", "100");
        p.put("retry.backoff.max.ms", "500");
        for (Map.Entry<String, Object> e : args.obj("props").entrySet()) {
            p.put(e.getKey(), String.valueOf(e.getValue()));
        }
        return p;
    }

    /** "ExceptionSimpleName: message", unwrapping the ExecutionException of a future. */
    static String describe(Throwable t) {
        Throwable c = t;
        while ((c instanceof ExecutionException || c instanceof java.util.concurrent.CompletionException)
               && c.getCause() != null) {
            c = c.getCause();
        }
        return c.getClass().getSimpleName() + ": " + c.getMessage();
    }

    /** Just the exception's simple class name, for exact assertions. */
    static String errorName(Throwable t) {
        Throwable c = t;
        while ((c instanceof ExecutionException || c instanceof java.util.concurrent.CompletionException)
               && c.getCause() != null) {
            c = c.getCause();
        }
        return c.getClass().getSimpleName();
    }
}
