#!/usr/bin/env python3
"""Fetch throughput from the remote tier (remote.log.dir, zstd at rest) against hot segments (issue 15:
≥ 70 % of hot-segment fetch throughput).

One release broker with a `remote.log.dir` and `runnel.segment.compression.at.rest = zstd`; two topics
with the same records (1 KiB values of random hex, about 2:1 compressible, none repeating within a
frame): `hot` (local only) and `cold` (remote.storage.enable, local.retention.ms = 0, so every closed
segment moves to the second directory). Then `raw_fetch.py` (Fetch v4, one request in flight, no
per-record work) reads the first 85 % of each topic — for `cold` all of it from remote segments —
alternating hot and cold for ROUNDS rounds, both with a warm page cache (the bench measures the
broker's serving path: sendfile from the segment file versus reading and decompressing zstd frames).

    swift build -c release --product runnel && cp .build/release/runnel /tmp/runnel-release
    tools/bench/tiered_fetch_bench.py --runnel /tmp/runnel-release --out docs/bench-results-tiered-….json
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_bench import Broker, create_topic, raw_fetch  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402


def produce(bootstrap: str, topic: str, count: int, values: list[bytes]) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1 << 20, "acks": "all",
                  "queue.buffering.max.messages": 1_000_000, "compression.type": "none"})
    for i in range(count):
        while True:
            try:
                p.produce(topic, value=values[i % len(values)], partition=0)
                break
            except BufferError:
                p.poll(0.05)
        if i % 10_000 == 0:
            p.poll(0)
    assert p.flush(300) == 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runnel", required=True)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--value-size", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out")
    parser.add_argument("--compression", default="zstd", choices=["zstd", "none"],
                        help="runnel.segment.compression.at.rest of the remote tier (none: served with sendfile)")
    args = parser.parse_args()
    values = [os.urandom(args.value_size // 2).hex().encode() for _ in range(4096)]
    with tempfile.TemporaryDirectory(prefix="runnel-tiered-bench-") as work:
        cold_dir = os.path.join(work, "cold")
        broker = Broker(args.runnel, work, overrides=(
            f"remote.log.dir={cold_dir}", f"runnel.segment.compression.at.rest={args.compression}",
            "log.retention.check.interval.ms=200"))
        try:
            admin = AdminClient({"bootstrap.servers": broker.bootstrap})
            common = {"segment.bytes": str(16 << 20), "retention.ms": "-1"}
            topics = {"hot": common, "cold": {**common, "remote.storage.enable": "true", "local.retention.ms": "0"}}
            for future in admin.create_topics([NewTopic(t, 1, 1, config=c) for t, c in topics.items()]).values():
                future.result(timeout=30)
            for topic in topics:
                produce(broker.bootstrap, topic, args.records, values)
            hot_logs = lambda: [p for p in Path(work, "data", "cold-0").iterdir() if p.name.endswith(".log")]
            deadline = time.time() + 300
            while len(hot_logs()) > 1:
                if time.time() > deadline:
                    raise RuntimeError("segments did not move to remote.log.dir")
                time.sleep(0.2)
            remote = sorted(Path(cold_dir, "cold-0").glob("*.log.zst"))
            stored = sum(p.stat().st_size for p in remote)
            logical = sum(int(line.split(":")[1]) for p in Path(cold_dir, "cold-0").glob("*.segment")
                          for line in p.read_text().splitlines() if line.startswith("size:"))
            count = int(args.records * 0.85)
            rates: dict[str, list[float]] = {"hot": [], "cold": []}
            for topic in topics:  # warm-up: page cache and the broker's first opens
                raw_fetch(broker.bootstrap, topic, 1, count, args.value_size)
            for _ in range(args.rounds):
                for topic in topics:
                    rates[topic].append(raw_fetch(broker.bootstrap, topic, 1, count, args.value_size)["MBps"])
        finally:
            broker.stop()
    med = {t: statistics.median(r) for t, r in rates.items()}
    result = {"bench": "tiered_fetch", "records": args.records, "value_size": args.value_size, "rounds": args.rounds,
              "remote_segments": len(remote), "remote_logical_bytes": logical, "remote_stored_bytes": stored,
              "hot_MBps": rates["hot"], f"cold_{args.compression}_MBps": rates["cold"], "hot_median_MBps": med["hot"],
              f"cold_{args.compression}_median_MBps": med["cold"], "ratio": med["cold"] / med["hot"],
              "compression_at_rest": args.compression}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
