#!/usr/bin/env python3
"""What metrics collection costs the produce path (issue 14: "metrics collection costs <= 2% of produce
throughput in the same run (metrics on vs off)").

"On" is a broker with `metrics.listener` set (swift-metrics bootstrapped with Prometheus: every counter,
timer and histogram on the request, produce, fetch and group-commit paths records), scraped once a
second during the run as Prometheus would; "off" is `metrics.listener=` (swift-metrics keeps its no-op
backend). Each round starts a fresh release broker per mode, in alternating order, and produces RECORDS
records of VALUE_SIZE bytes, acks=all, to a 6-partition topic with librdkafka (tools/bench/rdkafka_perf.c).
Reports the MB/s of every round, the medians and their ratio.

    swift build -c release --product runnel
    .venv/bin/python tools/bench/metrics_cost_bench.py --runnel .build/release/runnel --rounds 5
"""
import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_bench import build_driver, create_topic, free_port, produce  # noqa: E402


def run_round(runnel: str, driver: str, metrics_on: bool, records: int, value_size: int) -> float:
    port, metrics_port = free_port(), free_port()
    listener = f"127.0.0.1:{metrics_port}" if metrics_on else ""
    with tempfile.TemporaryDirectory(prefix="runnel-metrics-cost-") as workdir:
        log = open(os.path.join(workdir, "broker.log"), "w")
        proc = subprocess.Popen(
            [runnel, "broker", "--override", f"listeners=PLAINTEXT://127.0.0.1:{port}",
             "--override", f"log.dirs={workdir}/data", "--override", f"metrics.listener={listener}",
             "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        stop = threading.Event()
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("broker did not start")
                    time.sleep(0.1)
            bootstrap = f"127.0.0.1:{port}"
            create_topic(bootstrap, "cost", 6)

            def scrape():
                while not stop.wait(1.0):
                    try:
                        c = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=10)
                        c.request("GET", "/metrics")
                        c.getresponse().read()
                    except OSError:
                        pass
            scraper = threading.Thread(target=scrape, daemon=True)
            if metrics_on:
                scraper.start()
            result = produce(driver, bootstrap, "cost", records, value_size, idempotent=False)
            return result["MBps"]
        finally:
            stop.set()
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runnel", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--records", type=int, default=300_000)
    ap.add_argument("--value-size", type=int, default=1024)
    ap.add_argument("--json")
    args = ap.parse_args()
    driver, version = build_driver()
    on, off = [], []
    for r in range(args.rounds):
        for metrics_on in ((True, False) if r % 2 == 0 else (False, True)):
            mbps = run_round(args.runnel, driver, metrics_on, args.records, args.value_size)
            (on if metrics_on else off).append(mbps)
            print(f"round {r} metrics {'on' if metrics_on else 'off'}: {mbps:.1f} MB/s", file=sys.stderr)
    result = {
        "driver": f"tools/bench/rdkafka_perf.c, librdkafka {version}", "records": args.records,
        "value_size": args.value_size, "rounds": args.rounds,
        "on_MBps": [round(x, 1) for x in on], "off_MBps": [round(x, 1) for x in off],
        "on_median_MBps": round(statistics.median(on), 1), "off_median_MBps": round(statistics.median(off), 1),
        "ratio": round(statistics.median(on) / statistics.median(off), 3),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
