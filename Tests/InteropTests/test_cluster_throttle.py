"""Replication throttles with Kafka's semantics on a `runnel local-cluster` of three nodes, set through
real clients: the topic configs leader/follower.replication.throttled.replicas (confluent-kafka
incremental_alter_configs) and the dynamic broker configs leader/follower.replication.throttled.rate
(the Java AdminClient's incrementalAlterConfigs on a BROKER resource: one broker, or the cluster-wide
default ""), with no restart.

A follower is stopped, ~3 MB are produced, the throttle is set, and the follower is started again: its
catch-up (the bytes in its partition directory over time) stays near the rate; once the rate is removed
(dynamic default deleted) or the topic's list is removed, it catches up at once and rejoins the ISR.
The follower was down while the dynamic default was written, so applying it proves it is read from the
metadata store (etcd) at start. Bad values are refused as Kafka refuses them. `runnel cluster reassign
--wait --throttle` sets lists and rates as kafka-reassign-partitions --throttle does, the move takes
the rate into account, and everything is removed when it is complete."""
from __future__ import annotations

import os
import subprocess
import time

import pytest
from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource

from conftest import running_cluster, unique
from runnel_interop.clients import error_code
from runnel_interop.cluster import poll
from test_cluster_local import LEASE_TTL_MS, _admin

pytestmark = pytest.mark.needs_broker

RATE = 200_000            # bytes/s
TOTAL = 3_000_000         # bytes produced while the follower is down
THROTTLED_FOR = 3.0       # seconds the throttled catch-up is watched


@pytest.fixture(scope="module")
def cluster(runnel_bin, tmp_path_factory):
    with running_cluster(runnel_bin, tmp_path_factory.mktemp("throttle-cluster"), **{"etcd.lease.ttl.ms": LEASE_TTL_MS}) as c:
        yield c


@pytest.fixture(autouse=True)
def _every_node_up_after_each_test(cluster):
    """A test that fails while its follower is stopped does not leave the next tests a node short."""
    yield
    for node in sorted(cluster.down):
        cluster.restart(node)


def _running_admin(cluster):
    """An admin client bootstrapped from the running nodes, made after a node was stopped: one made
    before learned that node as the controller and sends its AlterConfigs there until its 3 s timeout
    (librdkafka waits for the controller it knows; a fresh client's first metadata names the new one)."""
    return _admin([cluster.port_of(n) for n in cluster.running()])


def _java_admin(java, cluster, *ops):
    r = java.run("admin", {"bootstrap": cluster.bootstrap, "ops": list(ops)})
    results = r["results"]
    for op, result in zip(ops, results):
        assert result["ok"], (op, result)
    return [x.get("result") for x in results]


def _set_topic(admin, topic: str, name: str, value: str | None):
    op = AlterConfigOpType.DELETE if value is None else AlterConfigOpType.SET
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry(name, value, incremental_operation=op)])
    assert error_code(admin.incremental_alter_configs([res])[res]) is None


def _partition_bytes(cluster, node: int, topic: str) -> int:
    d = os.path.join(cluster.node(node)["data_dir"], f"{topic}-0")
    try:
        return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".log"))
    except FileNotFoundError:
        return 0


def _topic_with_a_stopped_follower(cluster, topic: str) -> tuple[int, int]:
    """RF=3 topic; one follower stopped (controlled shutdown), TOTAL bytes produced without it.
    Returns (leader, stopped follower)."""
    cluster.create_topic(topic, 1, 3, config={"compression.type": "uncompressed"})
    leader = cluster.leader_of(topic, 0)
    follower = next(n for n in cluster.ids if n != leader)
    cluster.stop_node(follower)
    cluster.wait_isr(topic, 0, set(cluster.ids) - {follower})
    p = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all", "compression.type": "none",
                  "linger.ms": 5, "batch.size": 16384})
    payload = bytes(1000)
    for i in range(TOTAL // len(payload)):
        p.produce(topic, payload, key=str(i).encode(), partition=0)
        p.poll(0)
    assert p.flush(60) == 0
    return leader, follower


def _watch_throttled_catch_up(cluster, topic: str, follower: int) -> None:
    """Starts the follower and checks, for THROTTLED_FOR seconds after it serves, that it makes
    progress at no more than the rate (one second's burst and a generous tolerance allowed)."""
    before = _partition_bytes(cluster, follower, topic)
    started = time.monotonic()
    cluster.restart(follower)
    poll(f"node {follower} fetching again", 20, lambda: _partition_bytes(cluster, follower, topic) > before)
    deadline = time.monotonic() + THROTTLED_FOR
    while time.monotonic() < deadline:  # samples, each checked against the bound at its time
        copied = _partition_bytes(cluster, follower, topic) - before
        allowed = (time.monotonic() - started + 1) * RATE * 1.5
        assert copied <= allowed, f"{copied} bytes copied {time.monotonic() - started:.1f}s after the start at {RATE} B/s"
        time.sleep(0.2)  # sampling interval of a measurement, not synchronization
    copied = _partition_bytes(cluster, follower, topic) - before
    elapsed = time.monotonic() - started
    print(f"throttled catch-up: {copied} bytes in {elapsed:.1f}s at {RATE} B/s")
    assert copied < TOTAL * 0.6, f"{copied} of {TOTAL} bytes copied in {elapsed:.1f}s: not throttled"
    assert cluster.state(topic, 0)["isr"] == sorted(set(cluster.ids) - {follower}), "caught up while throttled"


def _catch_up(cluster, topic: str, follower: int, within: float) -> None:
    """The rest of the copy arrives `within` seconds (well under what it takes at the rate), then the
    follower rejoins the ISR."""
    started = time.monotonic()
    poll(f"node {follower} has all {TOTAL} bytes", within, lambda: _partition_bytes(cluster, follower, topic) >= TOTAL)
    print(f"unthrottled: rest of the catch-up in {time.monotonic() - started:.1f}s")
    cluster.wait_isr(topic, 0, set(cluster.ids), timeout=30)


def test_dynamic_default_follower_rate_throttles_a_listed_follower_until_it_is_deleted(cluster, java):
    topic = unique("throttle-follower")
    leader, follower = _topic_with_a_stopped_follower(cluster, topic)
    admin = _running_admin(cluster)
    # As kafka-reassign-partitions --throttle writes it: the fetching replica in the follower list.
    _set_topic(admin, topic, "follower.replication.throttled.replicas", f"0:{follower}")
    _java_admin(java, cluster, {"op": "incrementalAlterConfigs", "type": "BROKER", "name": "",
                                "set": {"follower.replication.throttled.rate": str(RATE)}})
    [described] = _java_admin(java, cluster, {"op": "describeConfigs", "brokers": [str(leader)]})
    entry = described[f"broker:{leader}"]["value"]["follower.replication.throttled.rate"]
    assert (entry["value"], entry["source"], entry["readOnly"]) == (str(RATE), "DYNAMIC_DEFAULT_BROKER_CONFIG", False), entry
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    cfg = admin.describe_configs([res])[res].result(30)["follower.replication.throttled.replicas"]
    assert (cfg.value, cfg.source) == (f"0:{follower}", ConfigSource.DYNAMIC_TOPIC_CONFIG.value)

    _watch_throttled_catch_up(cluster, topic, follower)
    # Deleted at runtime: back to the static value (unlimited); the rest (≥ 2 MB, 10 s at the rate) goes at once.
    _java_admin(java, cluster, {"op": "incrementalAlterConfigs", "type": "BROKER", "name": "",
                                "delete": ["follower.replication.throttled.rate"]})
    _catch_up(cluster, topic, follower, within=7)


def test_per_broker_leader_rate_throttles_a_listed_leader_until_the_list_is_removed(cluster, java):
    topic = unique("throttle-leader")
    leader, follower = _topic_with_a_stopped_follower(cluster, topic)
    admin = _running_admin(cluster)
    # The leader list names the replicas that send (the leader): Kafka's reading of partition:brokerId.
    _set_topic(admin, topic, "leader.replication.throttled.replicas", f"0:{leader}")
    _java_admin(java, cluster, {"op": "incrementalAlterConfigs", "type": "BROKER", "name": str(leader),
                                "set": {"leader.replication.throttled.rate": str(RATE)}})
    [described] = _java_admin(java, cluster, {"op": "describeConfigs", "brokers": [str(leader)]})
    entry = described[f"broker:{leader}"]["value"]["leader.replication.throttled.rate"]
    assert (entry["value"], entry["source"]) == (str(RATE), "DYNAMIC_BROKER_CONFIG"), entry

    _watch_throttled_catch_up(cluster, topic, follower)
    _set_topic(admin, topic, "leader.replication.throttled.replicas", None)
    _catch_up(cluster, topic, follower, within=7)
    _java_admin(java, cluster, {"op": "incrementalAlterConfigs", "type": "BROKER", "name": str(leader),
                                "delete": ["leader.replication.throttled.rate"]})
    [described] = _java_admin(java, cluster, {"op": "describeConfigs", "brokers": [str(leader)]})
    entry = described[f"broker:{leader}"]["value"]["leader.replication.throttled.rate"]
    assert entry["source"] == "DEFAULT_CONFIG", entry


def test_bad_throttle_configs_are_refused_as_kafka_refuses_them(cluster):
    admin = _admin(cluster.ports)
    topic = unique("throttle-bad")
    cluster.create_topic(topic, 1, 1, config={"leader.replication.throttled.replicas": "*"})
    for bad in ("0-1", "0:1,*", "x:1"):
        res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
            ConfigEntry("follower.replication.throttled.replicas", bad, incremental_operation=AlterConfigOpType.SET)])
        assert error_code(admin.incremental_alter_configs([res])[res]) == KafkaError.INVALID_CONFIG, bad
    node = str(cluster.ids[0])
    for name, value, code in (("leader.replication.throttled.rate", "fast", KafkaError.INVALID_CONFIG),
                              ("log.retention.ms", "1000", KafkaError.INVALID_REQUEST)):
        res = ConfigResource(ConfigResource.Type.BROKER, node, incremental_configs=[
            ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)])
        assert error_code(admin.incremental_alter_configs([res])[res]) == code, name


def test_runnel_cluster_reassign_throttle_sets_the_lists_and_rates_and_removes_them(cluster, java, runnel_bin):
    admin = _admin(cluster.ports)
    topic = unique("throttle-reassign")
    cluster.create_topic(topic, 1, 1, config={"compression.type": "uncompressed"})
    source = cluster.leader_of(topic, 0)
    target = next(n for n in cluster.ids if n != source)
    total = 1_200_000
    p = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all", "compression.type": "none",
                  "linger.ms": 5, "batch.size": 16384})
    for i in range(total // 1000):
        p.produce(topic, bytes(1000), key=str(i).encode(), partition=0)
        p.poll(0)
    assert p.flush(60) == 0

    started = time.monotonic()
    out = subprocess.run([runnel_bin, "cluster", "reassign", "--brokers", cluster.bootstrap, "--topic", topic,
                          "--partition", "0", "--replicas", f"{source},{target}", "--wait", "--wait-timeout", "60",
                          "--throttle", str(RATE)], capture_output=True, text=True, timeout=90)
    elapsed = time.monotonic() - started
    print(f"runnel cluster reassign --throttle {RATE}: {total} bytes in {elapsed:.1f}s")
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert "throttle limit was set" in out.stdout and "Throttle was removed" in out.stdout, out.stdout
    floor = (total - RATE) / RATE * 0.8  # one second's burst, then the rate
    assert elapsed >= floor, f"{total} bytes at {RATE} B/s copied in {elapsed:.1f}s"
    assert sorted(cluster.state(topic, 0)["isr"]) == sorted([source, target])
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    cfg = admin.describe_configs([res])[res].result(30)
    for name in ("leader.replication.throttled.replicas", "follower.replication.throttled.replicas"):
        assert (cfg[name].value, cfg[name].source) == ("", ConfigSource.DEFAULT_CONFIG.value), cfg[name]
    [described] = _java_admin(java, cluster, {"op": "describeConfigs", "brokers": [str(source)]})
    for name in ("leader.replication.throttled.rate", "follower.replication.throttled.rate"):
        assert described[f"broker:{source}"]["value"][name]["source"] == "DEFAULT_CONFIG", name
