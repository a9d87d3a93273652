#!/usr/bin/env python3
"""Produce latency while retention deletes large segments (docs/storage.md, "How files are removed").

Per round and per setting of `log.delete.chunk.bytes` (alternating): a fresh broker (release build,
default durability) takes `--old-gb` GB into one topic at full rate (1 GiB segments), then a paced
produce at half of that rate (librdkafka, acks=all, no idempotence, linger.ms=1, 1 KiB records, 7 s)
runs on a second topic while, two seconds in, the first topic's retention.bytes drops to 1 so that
retention deletes its closed segments (log.retention.check.interval.ms=500, log.segment.delete.delay.ms=0).
Reports the paced run's client p50/p99/p99.9/max per setting. `0` unlinks the files at once (Kafka's
way); the default gives their blocks back 16 MiB every 10 ms.

    BENCH_DIR=/work .venv/bin/python tools/bench/retention_bench.py --runnel .build/release/runnel --rounds 3
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_bench import Broker, build_driver, create_topic, run_driver  # noqa: E402

from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource  # noqa: E402

VALUE = 1024


def one_run(driver: str, runnel: str, work: str, chunk: str, old_records: int, seconds: float) -> dict:
    broker_dir = tempfile.mkdtemp(dir=work)
    broker = Broker(runnel, broker_dir, ("log.retention.check.interval.ms=500", "log.segment.delete.delay.ms=0",
                                         f"log.delete.chunk.bytes={chunk}"))
    try:
        create_topic(broker.bootstrap, "old", 1)
        full = run_driver(driver, "produce", "-b", broker.bootstrap, "-t", "old", "-n", str(old_records), "-s", str(VALUE),
                          "-a", "all", "-X", "enable.idempotence=false")
        rate = full["records_per_s"] / 2
        closed = sorted(n for n in os.listdir(f"{broker_dir}/data/old-0") if n.endswith(".log"))[:-1]
        create_topic(broker.bootstrap, "paced", 1)
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})

        def shrink():
            resource = ConfigResource(ConfigResource.Type.TOPIC, "old", incremental_configs=[
                ConfigEntry("retention.bytes", "1", incremental_operation=AlterConfigOpType.SET)])
            for f in admin.incremental_alter_configs([resource]).values():
                f.result(10)
        timer = threading.Timer(2.0, shrink)
        timer.start()
        paced = run_driver(driver, "produce", "-b", broker.bootstrap, "-t", "paced", "-n", str(int(rate * seconds)),
                           "-s", str(VALUE), "-a", "all", "-X", "enable.idempotence=false", "-r", str(rate),
                           "-X", "linger.ms=1")
        timer.join()
        left = [n for n in os.listdir(f"{broker_dir}/data/old-0") if n in closed or n.endswith(".deleted")]
        if left:
            raise RuntimeError(f"retention left {left} (chunk {chunk})")
        return {"full_MBps": full["MBps"], "rate": rate, "deleted_segments": len(closed), **paced["latency_ms"]}
    finally:
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runnel", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--old-gb", type=float, default=2.2, help="GB written to the topic retention then deletes")
    parser.add_argument("--seconds", type=float, default=7.0, help="length of the paced produce")
    parser.add_argument("--chunks", default="0,16777216", help="log.delete.chunk.bytes settings to alternate")
    parser.add_argument("--json", help="write results here")
    args = parser.parse_args()
    chunks = args.chunks.split(",")
    runs: dict[str, list[dict]] = {c: [] for c in chunks}
    with tempfile.TemporaryDirectory(prefix="runnel-retention-", dir=os.environ.get("BENCH_DIR", "/tmp")) as work:
        driver, version = build_driver()
        for round_index in range(args.rounds):
            for chunk in chunks if round_index % 2 == 0 else list(reversed(chunks)):
                run = one_run(driver, args.runnel, work, chunk, int(args.old_gb * 1e9 / VALUE), args.seconds)
                runs[chunk].append(run)
                print(f"round {round_index} log.delete.chunk.bytes={chunk}: p50 {run['p50']:.1f} p99 {run['p99']:.1f} "
                      f"p99.9 {run['p999']:.1f} max {run['max']:.1f} ms ({run['deleted_segments']} segments deleted, "
                      f"paced at {run['rate']:.0f} records/s)", file=sys.stderr, flush=True)
    results = {"driver": f"tools/bench/rdkafka_perf.c, librdkafka {version}", "rounds": args.rounds,
               "old_gb": args.old_gb, "runs": runs,
               "median_p99_ms": {c: statistics.median(r["p99"] for r in rs) for c, rs in runs.items()},
               "median_max_ms": {c: statistics.median(r["max"] for r in rs) for c, rs in runs.items()}}
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
