"""Deleted segments give their blocks back in chunks (`log.delete.chunk.bytes`): retention removes the
names at once, the broker keeps an unlinked descriptor per large file while `runnel-reclaim` truncates
it step by step (`runnel_storage_delete_pending_bytes` above zero meanwhile), and at the end no
descriptor of a deleted file is left open and the gauge is back at zero; the log keeps serving from its
new start. Unlinking a 1 GiB segment at once stalled every fsync of the disk for 0.3–0.4 s
(docs/storage.md, "How files are removed"); this test checks the mechanism, the bench the latency."""
from __future__ import annotations

import os
import time

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as CkTopicPartition
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

from conftest import unique
from runnel_interop import clients, metrics
from runnel_interop.cluster import poll

pytestmark = pytest.mark.needs_broker

SEGMENT = 4 << 20
CHUNK = 1 << 20


def _deleted_descriptors(pid: int, data_dir: str) -> list[str]:
    """Open descriptors of the broker that point at removed files under its data dir."""
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith(data_dir) and target.endswith(" (deleted)"):
            found.append(target)
    return found


def test_retention_gives_deleted_segments_back_in_chunks(fresh_broker):
    b = fresh_broker({**metrics.metrics_configs(), "log.retention.check.interval.ms": 200,
                      "log.segment.delete.delay.ms": 0, "log.delete.chunk.bytes": CHUNK,
                      "log.delete.chunk.interval.ms": 100})
    topic = unique("reclaim")
    clients.create_topic(b.bootstrap, topic, configs={"segment.bytes": SEGMENT})
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 5, "compression.type": "none"})
    value = os.urandom(100_000)
    for _ in range(150):  # 15 MB: three full segments and an active one
        p.produce(topic, value=value, partition=0)
    assert p.flush(60) == 0
    partition_dir = b.data_dir / f"{topic}-0"
    closed = sorted(n for n in os.listdir(partition_dir) if n.endswith(".log"))[:-1]
    assert len(closed) >= 3, os.listdir(partition_dir)

    admin = clients.confluent_admin(b.bootstrap, "reclaim-test")
    shrink = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.bytes", "1", incremental_operation=AlterConfigOpType.SET)])
    for f in admin.incremental_alter_configs([shrink]).values():
        f.result(10)

    pid = b.proc.pid
    seen_pending: list[float] = []
    seen_open: list[str] = []

    def names_gone():
        left = [n for n in os.listdir(partition_dir) if n in closed or n.endswith(".deleted")]
        seen_open.extend(_deleted_descriptors(pid, str(b.data_dir)))
        seen_pending.append(metrics.scrape(b).value("runnel_storage_delete_pending_bytes") or 0)
        return not left or None
    poll("retention removed the closed segments' names", 30, names_gone, interval=0.05)

    def all_given_back():
        seen_open.extend(_deleted_descriptors(pid, str(b.data_dir)))
        pending = metrics.scrape(b).value("runnel_storage_delete_pending_bytes")
        seen_pending.append(pending or 0)
        return (pending == 0 and not _deleted_descriptors(pid, str(b.data_dir))) or None
    poll("every removed file given back (gauge at 0, no descriptor of a deleted file)", 60, all_given_back,
         interval=0.05)
    # Three 4 MiB segments at 1 MiB per 100 ms take over a second: the chunked path was seen at work.
    assert max(seen_pending) > 0, "runnel_storage_delete_pending_bytes never rose above 0"
    assert any(".log.deleted" in t for t in seen_open), "no unlinked segment was held open while it was freed"

    # The log serves from its new start.
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": unique("reclaim-g"), "enable.auto.commit": False})
    low, high = c.get_watermark_offsets(CkTopicPartition(topic, 0), timeout=10)
    assert 0 < low < high == 150, (low, high)
    c.assign([CkTopicPartition(topic, 0, low)])
    msg = c.poll(20)
    assert msg is not None and msg.error() is None and msg.offset() == low
    c.close()
