#!/usr/bin/env python3
"""TLS cost (issue 13): produce and consume throughput of one broker over its SSL listener as a ratio to
its PLAINTEXT listener, in the same run, with the same driver (tools/bench/rdkafka_perf.c, librdkafka's C
API), 1 KiB records, acks=all. Over TLS the broker reads Fetch's log slices into buffers and encrypts them
(no sendfile), so consume shows that cost. Reports medians of the rounds (the machine is noisy).

    .venv/bin/python tools/bench/tls_bench.py --runnel .build/release/runnel --rounds 3 [--warm-mb 300]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "InteropTests"))
from e2e_bench import build_driver, cpu_seconds, create_topic, free_port, run_driver  # noqa: E402
from runnel_interop.security import make_pki  # noqa: E402
from runnel_interop.broker import BrokerProcess  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runnel", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--value-size", type=int, default=1024)
    parser.add_argument("--warm-mb", type=int, default=0,
                        help="produce this many MB (plaintext, its own topic) before each round's measured runs: "
                             "the figures are then a running broker's, not a fresh one's first-touch of its cache")
    parser.add_argument("--json", help="write results here")
    args = parser.parse_args()
    driver, version = build_driver()
    results = {"records": args.records, "value_size": args.value_size, "rounds": args.rounds, "warm_mb": args.warm_mb,
               "driver": f"tools/bench/rdkafka_perf.c, librdkafka {version}"}
    rows = {f"{what}_{proto}": [] for what in ("produce", "consume", "produce_cpu_s_per_GB", "consume_cpu_s_per_GB")
            for proto in ("plaintext", "ssl")}
    gigabytes = args.records * args.value_size / 1e9
    with tempfile.TemporaryDirectory(prefix="runnel-tls-bench-", dir=os.environ.get("BENCH_DIR", "/tmp")) as work:
        pki = make_pki(Path(work) / "pki")
        for round_index in range(args.rounds):
            plain, ssl_port = free_port(), free_port()
            broker = BrokerProcess(args.runnel, Path(work) / f"broker-{round_index}", port=plain, configs={
                "listeners": f"PLAINTEXT://127.0.0.1:{plain},SSL://127.0.0.1:{ssl_port}",
                "ssl.keystore.location": str(pki.broker_keystore),
            }, extra_args=["--log-level", "warning"])
            broker.start()
            try:
                tls = ["-X", "security.protocol=SSL", "-X", f"ssl.ca.location={pki.ca}"]
                if args.warm_mb:
                    create_topic(broker.bootstrap, f"tls-bench-warm-{round_index}", 1)
                    run_driver(driver, "produce", "-b", f"127.0.0.1:{plain}", "-t", f"tls-bench-warm-{round_index}",
                               "-n", str(args.warm_mb * 1_000_000 // args.value_size), "-s", str(args.value_size),
                               "-a", "all", "-X", "enable.idempotence=false")
                order = [("plaintext", f"127.0.0.1:{plain}", []), ("ssl", f"127.0.0.1:{ssl_port}", tls)]
                # Alternate which listener goes first: the first run on a fresh broker also faults in its memory.
                for proto, bootstrap, extra in (order if round_index % 2 == 0 else order[::-1]):
                    topic = f"tls-bench-{proto}-{round_index}"
                    create_topic(broker.bootstrap, topic, 1)
                    before = cpu_seconds(broker.proc.pid)
                    produced = run_driver(driver, "produce", "-b", bootstrap, "-t", topic, "-n", str(args.records),
                                          "-s", str(args.value_size), "-a", "all", "-X", "enable.idempotence=false",
                                          *extra)
                    rows[f"produce_{proto}"].append(produced["MBps"])
                    rows[f"produce_cpu_s_per_GB_{proto}"].append((cpu_seconds(broker.proc.pid) - before) / gigabytes)
                    before = cpu_seconds(broker.proc.pid)
                    consumed = run_driver(driver, "consume", "-b", bootstrap, "-t", topic, "-p", "1",
                                          "-n", str(args.records), *extra)
                    rows[f"consume_{proto}"].append(consumed["MBps"])
                    rows[f"consume_cpu_s_per_GB_{proto}"].append((cpu_seconds(broker.proc.pid) - before) / gigabytes)
            finally:
                broker.stop()
    for key, values in rows.items():
        unit = "" if "cpu" in key else "_MBps"
        results[f"{key}{unit}"] = round(statistics.median(values), 2)
    results["rounds_detail"] = rows
    for what in ("produce", "consume"):
        results[f"{what}_ssl_ratio"] = round(results[f"{what}_ssl_MBps"] / results[f"{what}_plaintext_MBps"], 3)
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
