#!/usr/bin/env python3
"""Produce latency while the broker removes or compacts large segments (docs/storage.md, "How files
are removed" and "Compaction").

Scenario `retention` (the default):

Per round and per setting of `log.delete.chunk.bytes` (alternating): a fresh broker (release build,
default durability) takes `--old-gb` GB into one topic at full rate (1 GiB segments), then a paced
produce at half of that rate (librdkafka, acks=all, no idempotence, linger.ms=1, 1 KiB records, 7 s)
runs on a second topic while, two seconds in, the first topic's retention.bytes drops to 1 so that
retention deletes its closed segments (log.retention.check.interval.ms=500, log.segment.delete.delay.ms=0).
Reports the paced run's client p50/p99/p99.9/max per setting. `0` unlinks the files at once (Kafka's
way); the default gives their blocks back 16 MiB every 10 ms.

Scenario `compaction`: the first topic is compacted (700,000 unique 1 KB-valued keys, 256 MiB segments,
written with confluent-kafka; `min.compaction.lag.ms` one hour), and two seconds into the paced run its
`min.compaction.lag.ms` drops to 0 so the cleaner rewrites its two closed segments (everything is kept:
512 MB read, 512 MB written). Settings alternate between `none` (no compaction: the control) and the
`--cleaner-rates` values of `log.cleaner.io.max.bytes.per.second` (`default` = the broker's default,
200 MB/s since session 19; `max` = unlimited, Kafka's default). `--timelines DIR` writes each paced run's
latency per 100 ms (rdkafka_perf -L) and records when the cleaning was triggered, when its `.cleaned`
file appeared (the end of the offset-map pass) and when the swap happened.

Scenario `tiering`: the first topic (`remote.storage.enable`, 256 MiB segments, 850,000 records: three
closed segments) moves to the remote tier (`remote.log.dir` on the same disk) when, two seconds into the
paced run, its `local.retention.bytes` drops to 1. Settings: `none` (the control), then each of
`--copy-rates` (`default` = unlimited, Kafka's default; else remote.log.manager.copy.max.bytes.per.second).

Scenario `replay`: two seconds into the paced run a consumer (rdkafka_perf consume) reads the first
topic (`--old-gb`, written before with O_DIRECT, so cold) from its first offset to its end: a Kappa
replay beside live producers. Settings: `none`, then each of `--replay-quotas` (`replay` = no quota,
`replay-again` = no quota, the topic replayed once alone before — a second replay of the same data —
else the consumer_byte_rate quota set for the consumer's client id first).

    BENCH_DIR=/work .venv/bin/python tools/bench/retention_bench.py --runnel .build/release/runnel --rounds 3
    BENCH_DIR=/work .venv/bin/python tools/bench/retention_bench.py --runnel .build/release/runnel --rounds 3 \
        --scenario compaction --cleaner-rates default,max
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_bench import Broker, build_driver, create_topic, remove_gently, run_driver  # noqa: E402

from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic  # noqa: E402

VALUE = 1024
# GB the replay scenario's consumer reads back (set from --old-gb).
REPLAY_GB = 2.2
# The paced produce's rate as a fraction of the full-rate produce measured just before it (--rate-fraction).
RATE_FRACTION = 0.5


def remove_broker_dir(path: str) -> None:
    """Removes a run's data (gigabytes) file by file the way the broker deletes segments, so that the
    next run does not start in the discard storm of an unlink of it all at once (docs/storage.md)."""
    from pathlib import Path
    for root, _, files in os.walk(path):
        for name in files:
            remove_gently(Path(root) / name)
    shutil.rmtree(path, ignore_errors=True)


def paced_produce(driver: str, broker: Broker, rate: float, seconds: float, timeline: str | None = None) -> dict:
    """The measured run: `seconds` of 1 KiB records to topic `paced` at `rate` records/s (librdkafka, acks=all,
    no idempotence, linger.ms=1), with rdkafka_perf's latency timeline written to `timeline` when given."""
    return run_driver(driver, "produce", "-b", broker.bootstrap, "-t", "paced", "-n", str(int(rate * seconds)),
                      "-s", str(VALUE), "-a", "all", "-X", "enable.idempotence=false", "-r", str(rate),
                      "-X", "linger.ms=1", *(["-L", timeline] if timeline else []))


def alter_topic(admin: AdminClient, topic: str, name: str, value: str) -> None:
    """Sets one topic config (IncrementalAlterConfigs) and waits for the answer."""
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)])
    for f in admin.incremental_alter_configs([resource]).values():
        f.result(10)


def one_run(driver: str, runnel: str, work: str, chunk: str, old_records: int, seconds: float) -> dict:
    broker_dir = tempfile.mkdtemp(dir=work)
    broker = Broker(runnel, broker_dir, ("log.retention.check.interval.ms=500", "log.segment.delete.delay.ms=0",
                                         f"log.delete.chunk.bytes={chunk}"))
    try:
        create_topic(broker.bootstrap, "old", 1)
        full = run_driver(driver, "produce", "-b", broker.bootstrap, "-t", "old", "-n", str(old_records), "-s", str(VALUE),
                          "-a", "all", "-X", "enable.idempotence=false")
        rate = full["records_per_s"] * RATE_FRACTION
        closed = sorted(n for n in os.listdir(f"{broker_dir}/data/old-0") if n.endswith(".log"))[:-1]
        create_topic(broker.bootstrap, "paced", 1)
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})

        timer = threading.Timer(2.0, alter_topic, (admin, "old", "retention.bytes", "1"))
        timer.start()
        paced = paced_produce(driver, broker, rate, seconds)
        timer.join()
        left = [n for n in os.listdir(f"{broker_dir}/data/old-0") if n in closed or n.endswith(".deleted")]
        if left:
            raise RuntimeError(f"retention left {left} (chunk {chunk})")
        return {"full_MBps": full["MBps"], "rate": rate, "deleted_segments": len(closed), **paced["latency_ms"]}
    finally:
        broker.stop()
        remove_broker_dir(broker_dir)


def compaction_run(driver: str, runnel: str, work: str, setting: str, seconds: float, timeline: str | None = None) -> dict:
    """A paced produce while the cleaner compacts 512 MB of another topic (`setting`: `none` for no
    compaction, `default` for the broker's default log.cleaner.io.max.bytes.per.second, `max` for unlimited,
    else that rate). With `timeline`, the
    driver writes its per-100-ms latency timeline there, and the result says when (seconds after the
    paced run's start) the cleaning was triggered, its `.cleaned` file appeared and the swap happened."""
    broker_dir = tempfile.mkdtemp(dir=work)
    overrides = ["log.cleaner.backoff.ms=300"]
    if setting == "max":
        overrides.append("log.cleaner.io.max.bytes.per.second=0")
    elif setting not in ("none", "default"):
        overrides.append(f"log.cleaner.io.max.bytes.per.second={setting}")
    broker = Broker(runnel, broker_dir, tuple(overrides))
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        for f in admin.create_topics([NewTopic("compacted", 1, 1, config={
                "cleanup.policy": "compact", "segment.bytes": str(256 << 20), "min.cleanable.dirty.ratio": "0.01",
                "min.compaction.lag.ms": "3600000"})]).values():
            f.result(10)
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 20, "batch.size": 1_000_000, "acks": "all",
                             "queue.buffering.max.messages": 500_000})
        value = os.urandom(1000)
        for i in range(700_000):
            while True:
                try:
                    producer.produce("compacted", key=b"k%09d" % i, value=value)
                    break
                except BufferError:
                    producer.poll(0.01)
        if producer.flush(120) != 0:
            raise RuntimeError("keyed produce did not complete")
        create_topic(broker.bootstrap, "full", 1)
        full = run_driver(driver, "produce", "-b", broker.bootstrap, "-t", "full", "-n", "1000000", "-s", str(VALUE),
                          "-a", "all", "-X", "enable.idempotence=false")
        rate = full["records_per_s"] * RATE_FRACTION
        create_topic(broker.bootstrap, "paced", 1)

        events: dict[str, float] = {}
        began = time.monotonic()
        done = threading.Event()

        def trigger():
            events["triggered_s"] = time.monotonic() - began
            alter_topic(admin, "compacted", "min.compaction.lag.ms", "0")

        def watch():
            # Polls the compacted partition's files: when the cleaned file appears, when the swap leaves `.deleted` ones.
            while not done.wait(0.02):
                names = os.listdir(f"{broker_dir}/data/compacted-0")
                if "cleaned_s" not in events and any(n.endswith(".cleaned") for n in names):
                    events["cleaned_s"] = time.monotonic() - began
                if "swapped_s" not in events and any(n.endswith(".deleted") for n in names):
                    events["swapped_s"] = time.monotonic() - began
        timer = threading.Timer(2.0, trigger) if setting != "none" else None
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        if timer:
            timer.start()
        paced = paced_produce(driver, broker, rate, seconds, timeline)
        done.set()
        watcher.join()
        if timer:
            timer.join()
        names = os.listdir(f"{broker_dir}/data/compacted-0")
        cleaned = any(n.endswith(".deleted") for n in names)
        if setting != "none" and not cleaned and not any(n.endswith(".cleaned") for n in names):
            raise RuntimeError(f"no compaction started during the run ({setting}): {sorted(names)}")
        return {"full_MBps": full["MBps"], "rate": rate, "compaction_done_in_run": cleaned, **paced["latency_ms"],
                **({"events": events} if timeline else {})}
    finally:
        broker.stop()
        remove_broker_dir(broker_dir)


def tiering_run(driver: str, runnel: str, work: str, setting: str, seconds: float, timeline: str | None = None) -> dict:
    """A paced produce while the broker copies 768 MiB of another topic to the remote tier (`remote.log.dir`
    on the same disk; `setting`: `none` for no tiering, `default` to tier with the broker's default
    remote.log.manager.copy.max.bytes.per.second, else that rate): three closed 256 MiB segments,
    sent to the tier two seconds in by dropping `local.retention.bytes` to 1."""
    broker_dir = tempfile.mkdtemp(dir=work)
    overrides = [f"remote.log.dir={broker_dir}/remote", "log.retention.check.interval.ms=500", "log.segment.delete.delay.ms=0"]
    if setting not in ("none", "default"):
        overrides.append(f"remote.log.manager.copy.max.bytes.per.second={setting}")
    broker = Broker(runnel, broker_dir, tuple(overrides))
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        for f in admin.create_topics([NewTopic("tiered", 1, 1, config={
                "remote.storage.enable": "true", "segment.bytes": str(256 << 20), "local.retention.bytes": "-1"})]).values():
            f.result(10)
        full = run_driver(driver, "produce", "-b", broker.bootstrap, "-t", "tiered", "-n", str(850_000), "-s", str(VALUE),
                          "-a", "all", "-X", "enable.idempotence=false")
        rate = full["records_per_s"] * RATE_FRACTION
        closed = sorted(n for n in os.listdir(f"{broker_dir}/data/tiered-0") if n.endswith(".log"))[:-1]
        create_topic(broker.bootstrap, "paced", 1)
        events: dict[str, float] = {}
        began = time.monotonic()

        def trigger():
            events["triggered_s"] = time.monotonic() - began
            alter_topic(admin, "tiered", "local.retention.bytes", "1")
        timer = threading.Timer(2.0, trigger) if setting != "none" else None
        if timer:
            timer.start()
        paced = paced_produce(driver, broker, rate, seconds, timeline)
        if timer:
            timer.join()
        remote = f"{broker_dir}/remote/tiered-0"
        published = [n for n in os.listdir(remote) if n.endswith(".segment")] if os.path.isdir(remote) else []
        if setting != "none" and not published:
            raise RuntimeError(f"nothing reached the remote tier during the run (closed segments: {closed})")
        return {"full_MBps": full["MBps"], "rate": rate, "segments_tiered": len(published), **paced["latency_ms"],
                **({"events": events} if timeline else {})}
    finally:
        broker.stop()
        remove_broker_dir(broker_dir)


def replay_run(driver: str, runnel: str, work: str, setting: str, seconds: float, timeline: str | None = None) -> dict:
    """A paced produce while a consumer replays (Kappa) `--old-gb` of another topic from its first offset:
    cold data, read from the disk (`setting`: `none` for no replay, `replay` to replay at full speed, a
    number to replay under that consumer_byte_rate quota for the consumer's client id, `replay-again` to
    replay once alone first and then again beside the paced produce)."""
    broker_dir = tempfile.mkdtemp(dir=work)
    broker = Broker(runnel, broker_dir, ())
    try:
        create_topic(broker.bootstrap, "old", 1)
        records = int(REPLAY_GB * 1e9 / VALUE)
        full = run_driver(driver, "produce", "-b", broker.bootstrap, "-t", "old", "-n", str(records), "-s", str(VALUE),
                          "-a", "all", "-X", "enable.idempotence=false")
        rate = full["records_per_s"] * RATE_FRACTION
        create_topic(broker.bootstrap, "paced", 1)
        if setting == "replay-again":
            run_driver(driver, "consume", "-b", broker.bootstrap, "-t", "old", "-n", str(records))
        if setting not in ("none", "replay", "replay-again"):
            # rdkafka_perf's consumer keeps librdkafka's default client.id, "rdkafka".
            subprocess.run([runnel, "quota", "set", "-b", broker.bootstrap, "--client", "rdkafka",
                            "--consumer-byte-rate", setting], check=True, capture_output=True, timeout=60)
        events: dict[str, float] = {}
        began = time.monotonic()
        replayed: dict = {}

        def replay():
            time.sleep(2.0)
            events["replay_started_s"] = time.monotonic() - began
            replayed.update(run_driver(driver, "consume", "-b", broker.bootstrap, "-t", "old", "-n", str(records)))
            events["replay_done_s"] = time.monotonic() - began
        reader = threading.Thread(target=replay) if setting != "none" else None
        if reader:
            reader.start()
        paced = paced_produce(driver, broker, rate, seconds, timeline)
        if reader:
            reader.join()
        return {"full_MBps": full["MBps"], "rate": rate, "replay_MBps": replayed.get("MBps"), **paced["latency_ms"],
                **({"events": events} if timeline else {})}
    finally:
        broker.stop()
        remove_broker_dir(broker_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runnel", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scenario", choices=["retention", "compaction", "tiering", "replay"], default="retention")
    parser.add_argument("--old-gb", type=float, default=2.2,
                        help="retention: GB written to the topic retention then deletes; replay: GB the consumer replays")
    parser.add_argument("--seconds", type=float, default=7.0, help="length of the paced produce")
    parser.add_argument("--chunks", default="0,16777216", help="retention: log.delete.chunk.bytes settings to alternate")
    parser.add_argument("--cleaner-rates", default="default",
                        help="compaction: log.cleaner.io.max.bytes.per.second settings to alternate with `none`")
    parser.add_argument("--copy-rates", default="default",
                        help="tiering: remote.log.manager.copy.max.bytes.per.second settings to alternate with `none`")
    parser.add_argument("--replay-quotas", default="replay",
                        help="replay: `replay` (no quota) and/or consumer_byte_rate values, alternated with `none`")
    parser.add_argument("--rate-fraction", type=float, default=0.5,
                        help="the paced produce's rate as a fraction of the full rate measured before it")
    parser.add_argument("--timelines", help="compaction: write each paced run's latency timeline into this directory")
    parser.add_argument("--json", help="write results here")
    args = parser.parse_args()
    global REPLAY_GB, RATE_FRACTION
    REPLAY_GB = args.old_gb
    RATE_FRACTION = args.rate_fraction
    settings = (args.chunks.split(",") if args.scenario == "retention"
                else ["none", *args.copy_rates.split(",")] if args.scenario == "tiering"
                else ["none", *args.replay_quotas.split(",")] if args.scenario == "replay" else ["none", *args.cleaner_rates.split(",")])
    runs: dict[str, list[dict]] = {c: [] for c in settings}
    with tempfile.TemporaryDirectory(prefix="runnel-retention-", dir=os.environ.get("BENCH_DIR", "/tmp")) as work:
        driver, version = build_driver()
        for round_index in range(args.rounds):
            for setting in settings if round_index % 2 == 0 else list(reversed(settings)):
                if args.scenario == "retention":
                    run = one_run(driver, args.runnel, work, setting, int(args.old_gb * 1e9 / VALUE), args.seconds)
                    what = f"log.delete.chunk.bytes={setting}"
                else:
                    timeline = (os.path.join(args.timelines, f"round{round_index}-{args.scenario}-{setting}.txt")
                                if args.timelines else None)
                    scenario_run = {"tiering": tiering_run, "replay": replay_run}.get(args.scenario, compaction_run)
                    run = scenario_run(driver, args.runnel, work, setting, args.seconds + 1, timeline)
                    what = f"{args.scenario} {setting}"
                runs[setting].append(run)
                print(f"round {round_index} {what}: p50 {run['p50']:.1f} p99 {run['p99']:.1f} "
                      f"p99.9 {run['p999']:.1f} max {run['max']:.1f} ms (paced at {run['rate']:.0f} records/s)",
                      file=sys.stderr, flush=True)
    results = {"driver": f"tools/bench/rdkafka_perf.c, librdkafka {version}", "scenario": args.scenario,
               "rounds": args.rounds, "runs": runs,
               "median_p99_ms": {c: statistics.median(r["p99"] for r in rs) for c, rs in runs.items()},
               "median_max_ms": {c: statistics.median(r["max"] for r in rs) for c, rs in runs.items()}}
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
