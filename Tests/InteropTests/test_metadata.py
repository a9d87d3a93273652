"""Metadata through each client: kcat -L, confluent-kafka list_topics, kafka-python's admin
describe_cluster / describe_topics, and the Java AdminClient all see exactly one broker at
127.0.0.1:<port> (the same node id everywhere) and the test topic with its 3 partitions, each led
by that broker with replicas = isr = [it]."""
from __future__ import annotations

import pytest

from conftest import unique
from runnel_interop import clients

pytestmark = pytest.mark.needs_broker
PARTITIONS = 3


@pytest.fixture(scope="module")
def topic(broker):
    name = unique("meta")
    clients.create_topic(broker.bootstrap, name, partitions=PARTITIONS)
    return name


@pytest.fixture(scope="module")
def node_id(broker, topic):
    md = clients.confluent_admin(broker.bootstrap).list_topics(timeout=10)
    assert len(md.brokers) == 1, md.brokers
    return next(iter(md.brokers))


def test_kcat_metadata(broker, topic, node_id, kcat_bin):
    md = clients.kcat_metadata(kcat_bin, broker.bootstrap, topic)
    assert md["brokers"] == [{"id": node_id, "name": f"127.0.0.1:{broker.port}"}]
    [t] = md["topics"]
    assert t["topic"] == topic and "error" not in t
    assert t["partitions"] == [{"partition": p, "leader": node_id, "replicas": [{"id": node_id}],
                                "isrs": [{"id": node_id}]} for p in range(PARTITIONS)]


def test_confluent_kafka_metadata(broker, topic, node_id):
    md = clients.confluent_admin(broker.bootstrap).list_topics(timeout=10)
    b = md.brokers[node_id]
    assert (b.host, b.port) == ("127.0.0.1", broker.port)
    t = md.topics[topic]
    assert t.error is None
    assert sorted(t.partitions) == list(range(PARTITIONS))
    for p in t.partitions.values():
        assert (p.leader, p.replicas, p.isrs, p.error) == (node_id, [node_id], [node_id], None)
    assert md.cluster_id, "cluster id must be set"


def test_kafka_python_metadata(broker, topic, node_id):
    from kafka import KafkaAdminClient
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
    try:
        cluster = admin.describe_cluster()
        assert [(b["broker_id"], b["host"], b["port"]) for b in cluster["brokers"]] == [
            (node_id, "127.0.0.1", broker.port)]
        [t] = admin.describe_topics([topic])
        assert (t["name"], t["error_code"]) == (topic, 0)
        parts = sorted(t["partitions"], key=lambda p: p["partition_index"])
        assert [(p["partition_index"], p["error_code"], p["leader_id"], list(p["replica_nodes"]),
                 list(p["isr_nodes"])) for p in parts] == [
            (p, 0, node_id, [node_id], [node_id]) for p in range(PARTITIONS)]
    finally:
        admin.close()


def test_java_admin_metadata(broker, topic, node_id, java):
    res = java.run("admin", {"bootstrap": broker.bootstrap, "ops": [
        {"op": "describeCluster"}, {"op": "describeTopics", "names": [topic]},
        {"op": "listTopics"}, {"op": "describeTopics", "names": [unique("absent")]}]})
    cluster, described, listed, absent = res["results"]
    assert cluster["ok"], cluster
    assert cluster["result"]["nodes"] == [{"id": node_id, "host": "127.0.0.1", "port": broker.port}]
    assert cluster["result"]["clusterId"]
    d = described["result"][topic]
    assert d["ok"], d
    assert d["value"]["name"] == topic and d["value"]["internal"] is False
    assert d["value"]["partitions"] == [{"partition": p, "leader": node_id, "replicas": [node_id],
                                         "isr": [node_id]} for p in range(PARTITIONS)]
    assert listed["ok"] and topic in listed["result"]
    [(name, outcome)] = absent["result"].items()
    assert outcome["ok"] is False and outcome["error"] == "UnknownTopicOrPartitionException", outcome
