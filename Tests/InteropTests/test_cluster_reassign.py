"""Partition reassignment on a `runnel local-cluster` of three nodes, driven by the Java AdminClient
(kafka-clients 4.3: alterPartitionReassignments, listPartitionReassignments, describeLogDirs) and
confluent-kafka (produce, consume), plus `runnel cluster reassign|reassignments|log-dirs`.

An RF=1 topic with records is moved from the broker that holds it to the two others; once the
reassignment is done every record is readable, the old broker's partition directory is gone, and
DescribeLogDirs shows the partition on the two new brokers. Errors: unknown broker, duplicate, cancelling
nothing; a plan file. A broker that was down while a partition was moved away from it deletes its stray
copy when it comes back. The catch-up of a new replica is throttled by leader.replication.throttled.rate
and by follower.replication.throttled.rate (each alone, on a cluster of its own) for the replicas the
topic's leader/follower.replication.throttled.replicas list, set as kafka-reassign-partitions --throttle
sets them (the current replicas in the leader list, the added ones in the follower list)."""
from __future__ import annotations

import json
import time
import shutil
import subprocess

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic

from conftest import running_cluster, unique
from runnel_interop.cluster import poll as _poll
from test_cluster_local import LEASE_TTL_MS, _admin

pytestmark = pytest.mark.needs_broker

RECORDS = 5000


@pytest.fixture(scope="module")
def cluster(runnel_bin, tmp_path_factory):
    with running_cluster(runnel_bin, tmp_path_factory.mktemp("reassign-cluster"), **{"etcd.lease.ttl.ms": LEASE_TTL_MS}) as c:
        yield c


def _bootstrap(cluster) -> str:
    return ",".join(f"127.0.0.1:{p}" for p in cluster.ports)


def _java_admin(java, cluster, *ops):
    r = java.run("admin", {"bootstrap": _bootstrap(cluster), "ops": list(ops)})
    return [o for o in r["results"]]


def _data_dir(cluster, node: int):
    return next(n["data_dir"] for n in cluster.info()["nodes"] if n["id"] == node)


def _produce(cluster, topic: str) -> list[bytes]:
    p = Producer({"bootstrap.servers": _bootstrap(cluster), "acks": "all", "enable.idempotence": True})
    values = [f"record-{i}".encode() for i in range(RECORDS)]
    failures = []
    for v in values:
        p.produce(topic, v, partition=0, on_delivery=lambda err, _msg: err and failures.append(err))
        p.poll(0)
    assert p.flush(60) == 0 and not failures, failures[:3]
    return values


def _consume_all(cluster, topic: str, expected: int) -> list[bytes]:
    c = Consumer({"bootstrap.servers": _bootstrap(cluster), "group.id": unique("reassign-read"),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        got: list[bytes] = []

        def drained():
            for m in c.consume(500, timeout=1):
                assert m.error() is None, m.error()
                got.append(m.value())
            return len(got) >= expected
        _poll(f"{expected} records read back from {topic}", 60, drained)
        return got
    finally:
        c.close()


def _leader_and_replicas(admin, topic: str):
    p = admin.list_topics(topic=topic, timeout=10).topics[topic].partitions[0]
    return p.leader, list(p.replicas), list(p.isrs)


def test_reassign_rf1_partition_to_two_other_brokers(cluster, java, runnel_bin):
    admin = _admin(cluster.ports)
    topic = unique("reassign")
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    _poll(f"{topic} has a leader", 20, lambda: _leader_and_replicas(admin, topic)[0] in (1, 2, 3))
    source = _leader_and_replicas(admin, topic)[0]
    targets = [n for n in (1, 2, 3) if n != source]
    values = _produce(cluster, topic)
    source_dir = _data_dir(cluster, source) + f"/{topic}-0"
    assert shutil.os.path.isdir(source_dir)

    [moved] = _java_admin(java, cluster, {"op": "alterPartitionReassignments",
                                          "partitions": [{"topic": topic, "partition": 0, "replicas": targets}]})
    assert moved["ok"], moved
    assert moved["result"][f"{topic}-0"]["ok"], moved

    def done():
        [listed] = _java_admin(java, cluster, {"op": "listPartitionReassignments"})
        assert listed["ok"], listed
        leader, replicas, isr = _leader_and_replicas(admin, topic)
        return f"{topic}-0" not in listed["result"] and sorted(replicas) == targets and sorted(isr) == targets
    _poll(f"reassignment of {topic}-0 to {targets} complete", 60, done)
    leader, replicas, _ = _leader_and_replicas(admin, topic)
    assert replicas == targets and leader == targets[0]

    assert _consume_all(cluster, topic, RECORDS) == values
    _poll(f"{source_dir} deleted", 20, lambda: not shutil.os.path.exists(source_dir))

    [dirs] = _java_admin(java, cluster, {"op": "describeLogDirs", "brokers": [1, 2, 3]})
    assert dirs["ok"], dirs
    for node in (1, 2, 3):
        [(path, described)] = dirs["result"][str(node)].items()
        assert described["error"] is None and path == _data_dir(cluster, node)
        assert described["totalBytes"] > 0 and 0 <= described["usableBytes"] <= described["totalBytes"]
        replica = described["replicas"].get(f"{topic}-0")
        if node == source:
            assert replica is None, described
        else:
            assert replica is not None and replica["size"] > 0 and replica["offsetLag"] == 0 and not replica["isFuture"]

    # The CLI's view of the same.
    out = subprocess.run([runnel_bin, "cluster", "log-dirs", "--brokers", _bootstrap(cluster), "--topic", topic,
                          "--format", "json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    holders = sorted(d["broker"] for d in json.loads(out.stdout) if any(p["topic"] == topic for p in d["partitions"]))
    assert holders == targets


def test_reassignment_errors(cluster, java, runnel_bin):
    admin = _admin(cluster.ports)
    topic = unique("reassign-err")
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    [r] = _java_admin(java, cluster, {"op": "alterPartitionReassignments", "partitions": [
        {"topic": topic, "partition": 0, "replicas": [1, 9]},
    ]})
    assert r["result"][f"{topic}-0"]["error"] == "InvalidReplicaAssignmentException", r
    [r] = _java_admin(java, cluster, {"op": "alterPartitionReassignments", "partitions": [
        {"topic": topic, "partition": 0},
    ]})
    assert r["result"][f"{topic}-0"]["error"] == "NoReassignmentInProgressException", r
    [r] = _java_admin(java, cluster, {"op": "alterPartitionReassignments", "partitions": [
        {"topic": "no-such-topic-" + topic, "partition": 0, "replicas": [1]},
    ]})
    assert r["result"][f"no-such-topic-{topic}-0"]["error"] == "UnknownTopicOrPartitionException", r

    out = subprocess.run([runnel_bin, "cluster", "reassign", "--brokers", _bootstrap(cluster), "--topic", topic,
                          "--partition", "0", "--replicas", "2,2"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "INVALID_REPLICA_ASSIGNMENT" in out.stdout, (out.stdout, out.stderr)

    # A plan in Kafka's JSON format, waited for by the CLI.
    source = _leader_and_replicas(admin, topic)[0]
    target = [n for n in (1, 2, 3) if n != source][0]
    plan = java.workdir / "plan.json"
    plan.write_text(json.dumps({"version": 1, "partitions": [{"topic": topic, "partition": 0, "replicas": [target]}]}))
    out = subprocess.run([runnel_bin, "cluster", "reassign", "--brokers", _bootstrap(cluster), "--plan", str(plan),
                          "--wait", "--wait-timeout", "60"], capture_output=True, text=True, timeout=90)
    assert out.returncode == 0 and "Reassignment complete." in out.stdout, (out.stdout, out.stderr)
    assert _leader_and_replicas(admin, topic)[1] == [target]


def test_a_broker_down_while_reassigned_away_deletes_its_stray_copy_when_it_returns(cluster, runnel_bin, tmp_path):
    admin = _admin(cluster.ports)
    topic = unique("reassign-stray")
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    _poll(f"{topic} has a leader", 20, lambda: _leader_and_replicas(admin, topic)[0] in (1, 2, 3))
    source = _leader_and_replicas(admin, topic)[0]
    victim, other = [n for n in (1, 2, 3) if n != source]

    def reassign(replicas):
        out = subprocess.run([runnel_bin, "cluster", "reassign", "--brokers", _bootstrap(cluster), "--topic", topic,
                              "--partition", "0", "--replicas", ",".join(map(str, replicas)), "--wait",
                              "--wait-timeout", "60"], capture_output=True, text=True, timeout=90)
        assert out.returncode == 0, (out.stdout, out.stderr)
    reassign([source, victim])
    _produce(cluster, topic)
    stray = _data_dir(cluster, victim) + f"/{topic}-0"
    _poll(f"{stray} has the records", 20, lambda: shutil.os.path.isdir(stray))

    node = next(n for n in cluster.info()["nodes"] if n["id"] == victim)
    shutil.os.kill(node["pid"], 9)
    survivors = [n["port"] for n in cluster.info()["nodes"] if n["id"] != victim]
    _poll(f"node {victim} out of the ISR", 30,
          lambda: victim not in _leader_and_replicas(_admin(survivors), topic)[2])
    out = subprocess.run([runnel_bin, "cluster", "reassign", "--brokers", ",".join(f"127.0.0.1:{p}" for p in survivors),
                          "--topic", topic, "--partition", "0", "--replicas", f"{source},{other}", "--wait",
                          "--wait-timeout", "60"], capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert shutil.os.path.isdir(stray)  # nobody could delete it while the broker was down

    with open(tmp_path / "restarted.log", "wb") as log:
        restarted = subprocess.Popen(node["command"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
    cluster.restarted[victim] = restarted  # killed by the fixture if the test fails
    cluster.pids[victim] = restarted.pid
    _poll(f"node {victim}'s stray copy deleted after its restart", 60,
          lambda: restarted.poll() is None and not shutil.os.path.exists(stray))
    assert "deleting a stray partition log" in (tmp_path / "restarted.log").read_text()
    restarted.send_signal(15)
    assert restarted.wait(30) == 0
    cluster.restarted.pop(victim, None)


THROTTLE_RATE = 200_000  # bytes/s, the leader's or the follower's side
THROTTLED_BYTES = 1_200_000


@pytest.fixture(params=["leader", "follower"])
def throttled_cluster(request, runnel_bin, tmp_path_factory):
    """A cluster where only the leader's or only the follower's side of the throttle is set."""
    with running_cluster(runnel_bin, tmp_path_factory.mktemp(f"reassign-throttled-{request.param}"),
                         **{"etcd.lease.ttl.ms": LEASE_TTL_MS, f"{request.param}.replication.throttled.rate": THROTTLE_RATE}) as c:
        yield c


def test_throttled_catch_up_takes_the_rate_into_account(throttled_cluster, runnel_bin):
    cluster = throttled_cluster
    admin = _admin(cluster.ports)
    topic = unique("reassign-throttled")
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1,
                                  config={"compression.type": "uncompressed"})])[topic].result(30)
    _poll(f"{topic} has a leader", 20, lambda: _leader_and_replicas(admin, topic)[0] in (1, 2, 3))
    source = _leader_and_replicas(admin, topic)[0]
    target = [n for n in (1, 2, 3) if n != source][0]
    lists = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("leader.replication.throttled.replicas", f"0:{source}", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("follower.replication.throttled.replicas", f"0:{target}", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([lists])[lists].result(30)
    # Small batches: a batch is never split (by Kafka's leader either), so one fetch may take a whole batch
    # beyond the bucket; librdkafka's default batch.size (1,000,000) let a loaded machine's producer put
    # most of the data in one or two batches, and the catch-up went faster than the rate (2.7 s in CI).
    p = Producer({"bootstrap.servers": _bootstrap(cluster), "acks": "all", "compression.type": "none",
                  "batch.size": 16384})
    payload = bytes(1000)
    for i in range(THROTTLED_BYTES // len(payload)):
        p.produce(topic, payload, key=str(i).encode(), partition=0)
        p.poll(0)
    assert p.flush(60) == 0

    started = time.monotonic()
    out = subprocess.run([runnel_bin, "cluster", "reassign", "--brokers", _bootstrap(cluster), "--topic", topic,
                          "--partition", "0", "--replicas", f"{source},{target}", "--wait", "--wait-timeout", "120"],
                         capture_output=True, text=True, timeout=150)
    elapsed = time.monotonic() - started
    print(f"throttled catch-up of {THROTTLED_BYTES} bytes at {THROTTLE_RATE} B/s: {elapsed:.1f}s")
    assert out.returncode == 0, (out.stdout, out.stderr)
    # One second of the rate may go at once (the bucket starts full); the rest at the rate.
    floor = (THROTTLED_BYTES - THROTTLE_RATE) / THROTTLE_RATE * 0.8
    assert elapsed >= floor, f"catch-up of {THROTTLED_BYTES} bytes at {THROTTLE_RATE} B/s took only {elapsed:.1f}s"
    assert sorted(_leader_and_replicas(admin, topic)[2]) == sorted([source, target])
