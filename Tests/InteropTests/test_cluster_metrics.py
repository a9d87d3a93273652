"""Per-partition replication metrics in cluster mode (issue 14 item 1): three brokers from
`runnel local-cluster --metrics-port`, a topic with 3 replicas; /metrics of every node shows one leader,
3 replicas and 3 in sync; after a follower is killed the leader reports the partition under-replicated
with an ISR of 2, and the controller counts it cluster-wide. Also: followers fetching ahead of their
fsyncs under load (decision 0028), seen in runnel_replica_fetch_ahead_total, with every ack kept."""
from __future__ import annotations

import shutil
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from conftest import missing_prerequisite, unique
from runnel_interop import metrics
from runnel_interop.cluster import LocalCluster, free_range, poll, snapshot_binary

pytestmark = pytest.mark.needs_broker


class Node:
    """Enough of a broker for metrics.scrape: its metrics.listener."""
    def __init__(self, port: int):
        self.configs = {"metrics.listener": f"127.0.0.1:{port}"}


def test_under_replicated_partition_is_reported_by_its_leader(runnel_bin, tmp_path, tmp_path_factory):
    if not shutil.which("etcd"):
        missing_prerequisite("etcd not installed (Debian package etcd-server: scripts/install-deps)")
    binary = snapshot_binary(runnel_bin, tmp_path_factory.getbasetemp() / "runnel-bin")
    c = LocalCluster(binary, tmp_path / "c1", nodes=3,
                     overrides={"etcd.lease.ttl.ms": 3000, "replica.lag.time.max.ms": 2000})
    metrics_port = free_range(3, avoid=range(c.port, c.port + 3))
    c.argv += ["--metrics-port", str(metrics_port)]
    nodes = {i: Node(metrics_port + i - 1) for i in c.ids}
    try:
        c.start(retries=2)
        topic = unique("cluster-metrics")
        c.create_topic(topic, 1, 3)
        c.wait_isr(topic, 0, {1, 2, 3})
        p = Producer({"bootstrap.servers": c.bootstrap, "acks": "all"})
        for i in range(25):
            p.produce(topic, value=f"v{i}".encode(), partition=0)
        assert p.flush(60) == 0

        def all_in_sync():
            scraped = {i: metrics.scrape(n) for i, n in nodes.items()}
            ends = [s.value("runnel_partition_log_end_offset", topic=topic, partition=0) for s in scraped.values()]
            return scraped if ends == [25, 25, 25] else None
        scraped = poll("every replica at log end offset 25", 30, all_in_sync)
        leaders = [i for i, s in scraped.items() if s.value("runnel_partition_leader", topic=topic, partition=0) == 1]
        assert leaders == [c.leader_of(topic, 0)]
        for s in scraped.values():
            assert s.value("runnel_partition_replicas", topic=topic, partition=0) == 3
            assert s.value("runnel_partition_isr_size", topic=topic, partition=0) == 3
            assert s.value("runnel_partition_under_replicated", topic=topic, partition=0) == 0
            assert s.value("runnel_partition_offline", topic=topic, partition=0) == 0
        leader = leaders[0]
        follower = next(i for i in c.ids if i != leader)
        c.kill(follower)

        def shrunk():
            s = metrics.scrape(nodes[leader])
            isr = s.value("runnel_partition_isr_size", topic=topic, partition=0)
            return s if isr == 2 and s.value("runnel_partition_under_replicated", topic=topic, partition=0) == 1 else None
        s = poll("the leader reports the partition under-replicated", 60, shrunk)
        assert s.value("runnel_partition_leader", topic=topic, partition=0) == 1

        def controller_counts():
            for i in c.ids:
                if i == follower:
                    continue
                s = metrics.scrape(nodes[i])
                if s.value("runnel_cluster_controller_active") == 1:
                    return s.value("runnel_cluster_under_replicated_partitions") >= 1 or None
            return None
        poll("the controller counts the under-replicated partition", 30, controller_counts)
    finally:
        c.kill_everything()


def test_followers_fetch_ahead_of_their_fsyncs_under_load_and_every_ack_survives(runnel_bin, tmp_path, tmp_path_factory):
    """Decision 0028: under load a follower appends a full answer and fetches again before it is durable,
    sending its durable end beside its fetch position; the leader acknowledges acks=all only up to what
    every in-sync replica made durable. A burst of 1 MB batches to one partition with
    min.insync.replicas=3 takes that path (runnel_replica_fetch_ahead_total rises on the followers), every
    record is acknowledged, all three logs end at the same offset, and after the leader is killed the
    new leader serves every acknowledged record."""
    if not shutil.which("etcd"):
        missing_prerequisite("etcd not installed (Debian package etcd-server: scripts/install-deps)")
    binary = snapshot_binary(runnel_bin, tmp_path_factory.getbasetemp() / "runnel-bin")
    c = LocalCluster(binary, tmp_path / "c2", nodes=3, overrides={"etcd.lease.ttl.ms": 3000})
    metrics_port = free_range(3, avoid=range(c.port, c.port + 3))
    c.argv += ["--metrics-port", str(metrics_port)]
    nodes = {i: Node(metrics_port + i - 1) for i in c.ids}
    records = 24_000
    try:
        c.start(retries=2)
        topic = unique("fetch-ahead")
        c.create_topic(topic, 1, 3, {"min.insync.replicas": "3"})
        c.wait_isr(topic, 0, {1, 2, 3})
        leader = c.leader_of(topic, 0)
        before = {i: metrics.scrape(n).total("runnel_replica_fetch_ahead_total") for i, n in nodes.items()}
        acked = []
        p = Producer({"bootstrap.servers": c.bootstrap, "acks": "all", "linger.ms": 20, "batch.size": 1_000_000,
                      "queue.buffering.max.messages": records})
        value = bytes(range(256)) * 4
        for i in range(records):
            p.produce(topic, value=value, key=str(i).encode(), partition=0,
                      on_delivery=lambda err, msg: acked.append(msg.offset()) if err is None else None)
            if i % 2_000 == 0:
                p.poll(0)
        assert p.flush(120) == 0
        assert sorted(acked) == list(range(records)), "every record acknowledged once, in order"
        ahead = {i: metrics.scrape(n).total("runnel_replica_fetch_ahead_total") - before[i] for i, n in nodes.items()}
        assert ahead[leader] == 0 and sum(ahead.values()) > 0, f"no follower fetched ahead of its fsyncs: {ahead}"

        def all_at_end():
            ends = [metrics.scrape(n).value("runnel_partition_log_end_offset", topic=topic, partition=0) for n in nodes.values()]
            return ends if ends == [records] * 3 else None
        poll(f"every replica at log end offset {records}", 30, all_at_end)

        c.kill(leader)
        c.wait_leader(topic, 0, exclude={leader}, timeout=30)
        consumer = Consumer({"bootstrap.servers": c.bootstrap, "group.id": unique("fetch-ahead-read"),
                             "auto.offset.reset": "earliest", "enable.auto.commit": False})
        consumer.assign([TopicPartition(topic, 0, 0)])
        seen = set()
        deadline = time.time() + 60
        while len(seen) < records and time.time() < deadline:
            for m in consumer.consume(1000, timeout=1.0):
                if m.error() is None:
                    seen.add(m.offset())
        consumer.close()
        assert len(seen) == records, f"the new leader served {len(seen)} of {records} acknowledged records"
    finally:
        c.kill_everything()
