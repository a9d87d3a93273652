"""Per-partition replication metrics in cluster mode (issue 14 item 1): three brokers from
`runnel local-cluster --metrics-port`, a topic with 3 replicas; /metrics of every node shows one leader,
3 replicas and 3 in sync; after a follower is killed the leader reports the partition under-replicated
with an ISR of 2, and the controller counts it cluster-wide."""
from __future__ import annotations

import shutil
import time

import pytest
from confluent_kafka import Producer

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
