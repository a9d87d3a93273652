"""Tiered segments (issue 15 item 4): a topic with remote.storage.enable on a broker with a
`remote.log.dir` (zstd at rest) moves its closed segments to the second directory once they leave
the hot set (local.retention.ms = 0). Then: confluent-kafka and the Java client read every record back
exactly as produced (keys, values, headers, timestamps, offsets), `runnel log dump` prints the remote
segments, ListOffsets by time answers from them, they survive a restart, and retention by time
(retention.ms, set once the records are old) deletes them at the end."""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer
from confluent_kafka import TopicPartition as CkTopicPartition
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

from conftest import unique
from runnel_interop import clients, metrics, records
from runnel_interop.cluster import poll

pytestmark = pytest.mark.needs_broker

COUNT = 6000
VALUE_SIZE = 1000          # about 6.5 MB: six closed segments of 1 MiB
DAY_MS = 86_400_000


def cold_files(cold: Path, topic: str) -> list[str]:
    d = cold / f"{topic}-0"
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def hot_logs(b, topic: str) -> list[str]:
    return sorted(p.name for p in (b.data_dir / f"{topic}-0").iterdir() if p.name.endswith(".log"))


def verify_all(got: list[dict], topic: str, ts_base: int, client: str) -> None:
    records.verify(got, topic, range(COUNT), VALUE_SIZE, "confluent")
    wrong = [r for r in got if r["ts"] != ts_base + records.index_of(topic, r["k"])]
    assert not wrong, f"{client}: timestamps changed, e.g. {wrong[:2]}"


def offset_for_time(bootstrap: str, topic: str, ts: int) -> int:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("tiered-oft")})
    try:
        return c.offsets_for_times([CkTopicPartition(topic, 0, ts)], timeout=30)[0].offset
    finally:
        c.close()


def watermarks(bootstrap: str, topic: str) -> tuple[int, int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("tiered-wm")})
    try:
        return c.get_watermark_offsets(CkTopicPartition(topic, 0), timeout=30, cached=False)
    finally:
        c.close()


@pytest.mark.timeout(420)
def test_segments_move_to_the_remote_dir_read_back_survive_restart_and_expire(fresh_broker, java, runnel_bin, tmp_path):
    cold = tmp_path / "cold"
    b = fresh_broker(configs={"remote.log.dir": str(cold), "runnel.segment.compression.at.rest": "zstd",
                              "log.retention.check.interval.ms": 200, **metrics.metrics_configs()})
    t = unique("tiered")
    clients.create_topic(b.bootstrap, t, partitions=1, configs={
        "segment.bytes": "1048576", "retention.ms": "-1", "remote.storage.enable": "true", "local.retention.ms": "0"})
    ts_base = int(time.time() * 1000) - 2 * DAY_MS
    res = clients.confluent_produce(b.bootstrap, t, t, range(COUNT), value_size=VALUE_SIZE, ts_base=ts_base,
                                    config={"linger.ms": 20})
    assert not res["errors"] and len(res["acks"]) == COUNT

    # Every closed segment leaves the log dir for the second directory (zstd frames + frame index).
    def tiered():
        files = cold_files(cold, t)
        zst = [f for f in files if f.endswith(".log.zst")]
        # All but the active segment (and at most one just rolled) have moved.
        return zst if len(zst) >= 5 and len(hot_logs(b, t)) <= 2 else None
    remote = poll("segments in remote.log.dir", 60, tiered)
    files = cold_files(cold, t)
    for name in remote:
        stem = name[:-len(".log.zst")]
        assert {stem + ".log.zst.frames", stem + ".segment", stem + ".index", stem + ".timeindex"} <= set(files)
    assert "00000000000000000000.log" not in hot_logs(b, t)
    stored = sum((cold / f"{t}-0" / f).stat().st_size for f in remote)
    assert stored < len(remote) * 1048576 * 0.5, f"zstd at rest should shrink the scheme's values: {stored} bytes"
    # /metrics counts the remote tier apart from the local log (logical bytes, before compression at rest).
    samples = metrics.scrape(b)
    remote_segments = samples.value("runnel_partition_remote_segments", topic=t, partition="0")
    remote_bytes = samples.value("runnel_partition_remote_size_bytes", topic=t, partition="0")
    assert remote_segments is not None and remote_segments >= len(remote), samples.all("runnel_partition_remote_segments")
    assert remote_bytes is not None and stored < remote_bytes <= remote_segments * 1048576, (remote_bytes, stored)
    assert samples.value("runnel_partition_segments", topic=t, partition="0") <= 2

    # Consumers read everything back exactly as produced, from the remote tier and on into the hot one.
    verify_all(clients.confluent_consume(b.bootstrap, t, expected=COUNT, timeout=120), t, ts_base, "confluent")
    out = tmp_path / "java.jsonl"
    r = java.run("consume", {"bootstrap": b.bootstrap, "topic": t, "partitions": [0], "out": str(out),
                             "expected": COUNT, "timeoutMs": 120000}, timeout=180)
    assert (r["count"], r["timedOut"]) == (COUNT, False), r
    verify_all(records.read_jsonl(out), t, ts_base, "java")

    # ListOffsets: earliest and by time answer from the remote segments.
    assert watermarks(b.bootstrap, t) == (0, COUNT)
    assert offset_for_time(b.bootstrap, t, ts_base + 1234) == 1234

    # `runnel log dump` prints a remote segment (decompressed frame by frame), CRCs valid.
    first = cold / f"{t}-0" / remote[0]
    dump = subprocess.run([runnel_bin, "log", "dump", str(first), "--records", "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert dump.returncode == 0, dump.stderr
    report = json.loads(dump.stdout)
    dumped = [rec for batch in report["batches"] for rec in batch["records"]]
    assert report["batches"] and all(batch["crcValid"] for batch in report["batches"])
    assert dumped[0]["offset"] == 0 and dumped[0]["key"] == records.key(t, 0)
    assert all(rec["value"] == records.value(t, rec["offset"], VALUE_SIZE) for rec in dumped)

    # A restart rediscovers the remote segments.
    b.restart()
    assert [f for f in cold_files(cold, t) if f.endswith(".log.zst")][:len(remote)] == remote
    verify_all(clients.confluent_consume(b.bootstrap, t, expected=COUNT, timeout=120), t, ts_base, "confluent")
    assert offset_for_time(b.bootstrap, t, ts_base + 4321) == 4321

    # Retention by time still deletes them at the end (the records are two days old).
    admin = clients.confluent_admin(b.bootstrap)
    alter = ConfigResource(ConfigResource.Type.TOPIC, t, incremental_configs=[
        ConfigEntry("retention.ms", str(DAY_MS), incremental_operation=AlterConfigOpType.SET)])
    assert clients.error_code(admin.incremental_alter_configs([alter])[alter]) is None
    poll("remote segments deleted by retention.ms", 60,
         lambda: not any(f.endswith((".segment", ".log.zst")) for f in cold_files(cold, t)))
    poll("log start offset at the end", 30, lambda: watermarks(b.bootstrap, t) == (COUNT, COUNT))
