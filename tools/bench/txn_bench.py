#!/usr/bin/env python3
"""Transactions against their own baseline, measured in the same run on this machine (issue 11's numbers):

- transactional produce of 1 KiB records in transactions of 1,000 records, as a ratio to idempotent
  non-transactional produce (target ≥ 0.80);
- commit_transaction() latency p99 (target ≤ 15 ms on a single node with durable acknowledgement);
- a read_committed consumer over the transactional data, as a ratio to a read_uncommitted one over the
  same data (target ≥ 0.90).

The producer is librdkafka's C API (tools/bench/rdkafka_perf.c, built by e2e_bench.build_driver) or, with
`--client java`, the Java client (tools/bench/java/TxnPerf.java, compiled here against the kafka-clients
jars that scripts/install-deps fetches into .cache/jars; RUNNEL_INTEROP_JARS overrides); acks=all, the
broker's durable defaults, the same producer settings for both. The consumers are librdkafka's. Rounds
alternate the two produce modes; medians are reported. `budget_at_0_80_ms` is what a transaction may
take beyond its records' time at the idempotent rate for a ratio of 0.80 (a quarter of that time); with
`--client java` `send_loop_ms` is the application's own time per transaction from beginTransaction() to
commitTransaction(), spent from that budget before the broker sees the transaction's one full batch.

    .venv/bin/python tools/bench/txn_bench.py --runnel .build-release/release/runnel --rounds 3
    .venv/bin/python tools/bench/txn_bench.py --runnel .build-release/release/runnel --rounds 3 --client java
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "InteropTests"))
from e2e_bench import ROOT, Broker, build_driver, consume, create_topic, run_driver  # noqa: E402
from runnel_interop.java import JAR_NAMES, classpath_jars, missing_prerequisites  # noqa: E402


def build_java() -> tuple[list[str], str]:
    """javac tools/bench/java/TxnPerf.java against the interop tests' jars (runnel_interop.java: the jars
    scripts/install-deps fetches, RUNNEL_INTEROP_JARS overrides); returns the command prefix that runs it,
    and the client's name."""
    missing = missing_prerequisites()
    if missing:
        raise SystemExit(missing)
    out = ROOT / ".build" / "java-bench"
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["javac", "-Xlint:all", "-d", str(out), "-cp", classpath_jars(),
                    str(ROOT / "tools/bench/java/TxnPerf.java")], check=True, timeout=300)
    client = next(j for j in JAR_NAMES if j.startswith("kafka-clients-")).removesuffix(".jar")
    return ["java", "-Xmx1g", "-cp", f"{out}:{classpath_jars()}", "TxnPerf"], f"Java {client}"


def run_java(command: list[str], *args: str) -> dict:
    out = subprocess.run([*command, *args], capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"TxnPerf {' '.join(args)} failed: {out.stderr.strip()[-800:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runnel", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--value-size", type=int, default=1024)
    parser.add_argument("--txn-records", type=int, default=1000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--override", action="append", default=[],
                        help="a broker setting key=value for both modes, e.g. log.flush.interval.messages="
                             "9223372036854775807 (Kafka's default: acknowledged from the page cache)")
    parser.add_argument("--producer-config", action="append", default=[], metavar="KEY=VALUE",
                        help="a producer setting for both modes, over the driver's (e.g. batch.size=16384, the Java "
                             "client's default; the drivers set linger.ms=5 and batch.size=1000000)")
    parser.add_argument("--client", choices=("librdkafka", "java"), default="librdkafka",
                        help="the producer (the consumers are librdkafka's either way)")
    parser.add_argument("--java-warm", type=int, default=50_000,
                        help="--client java: records produced, in the same mode, before the clock starts")
    parser.add_argument("--json", help="write results here")
    args = parser.parse_args()

    driver, version = build_driver()
    java, java_version = build_java() if args.client == "java" else ([], "")
    rows: dict[str, list] = {k: [] for k in ("idempotent", "transactional", "commit_p50", "commit_p99",
                                               "read_uncommitted", "read_committed", "send_loop_ms")}
    common = ["-n", str(args.records), "-s", str(args.value_size), "-a", "all"]
    with tempfile.TemporaryDirectory(prefix="runnel-txn-bench-", dir=os.environ.get("BENCH_DIR", "/tmp")) as work:
        for round_index in range(args.rounds):
            broker = Broker(args.runnel, tempfile.mkdtemp(dir=work), tuple(args.override))
            try:
                idem, txn = f"idem-{round_index}", f"txn-{round_index}"
                create_topic(broker.bootstrap, idem, args.partitions)
                create_topic(broker.bootstrap, txn, args.partitions)
                order = [("idempotent", idem, []), ("transactional", txn, ["-T", str(args.txn_records)])]
                for name, topic, extra in (order if round_index % 2 == 0 else order[::-1]):
                    extra = [*extra, *(a for kv in args.producer_config for a in ("-X", kv))]
                    if java:
                        result = run_java(java, "-b", broker.bootstrap, "-t", topic, "-n", str(args.records),
                                          "-s", str(args.value_size), "-w", str(args.java_warm), *extra)
                    else:
                        result = run_driver(driver, "produce", "-b", broker.bootstrap, "-t", topic, *common, *extra,
                                            "-X", "enable.idempotence=true")
                    rows[name].append(result["MBps"])
                    if "commit_ms" in result:
                        rows["commit_p50"].append(result["commit_ms"]["p50"])
                        rows["commit_p99"].append(result["commit_ms"]["p99"])
                    if "send_loop_ms_mean" in result:
                        rows["send_loop_ms"].append(result["send_loop_ms_mean"])
                isolations = [("read_uncommitted", []), ("read_committed", ["-X", "isolation.level=read_committed"])]
                for name, extra in (isolations if round_index % 2 == 0 else isolations[::-1]):
                    result = run_driver(driver, "consume", "-b", broker.bootstrap, "-t", txn, "-p", str(args.partitions),
                                        "-n", str(args.records + (args.java_warm if java else 0)), *extra)
                    rows[name].append(result["MBps"])
            finally:
                broker.stop()
    med = {k: statistics.median(v) for k, v in rows.items() if v}
    results = {
        "driver": f"tools/bench/rdkafka_perf.c, librdkafka {version}",
        "producer": f"tools/bench/java/TxnPerf.java, {java_version}" if java else "tools/bench/rdkafka_perf.c",
        "records": args.records, "value_size": args.value_size, "txn_records": args.txn_records,
        "partitions": args.partitions, "rounds": args.rounds, "overrides": args.override,
        "producer_config": args.producer_config,
        "load_average": os.getloadavg()[0],
        "idempotent_produce_MBps": med["idempotent"],
        "transactional_produce_MBps": med["transactional"],
        "transactional_ratio_to_idempotent": med["transactional"] / med["idempotent"],
        "commit_ms_p50": med["commit_p50"],
        "commit_ms_p99": med["commit_p99"],
        "read_uncommitted_MBps": med["read_uncommitted"],
        "read_committed_MBps": med["read_committed"],
        "read_committed_ratio": med["read_committed"] / med["read_uncommitted"],
        # At 0.80 a transaction may take a quarter longer than its records at the idempotent rate.
        "budget_at_0_80_ms": args.txn_records * args.value_size / (med["idempotent"] * 1e6) * 1000 * 0.25,
        **({"send_loop_ms": med["send_loop_ms"]} if "send_loop_ms" in med else {}),
        "per_round": rows,
    }
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
