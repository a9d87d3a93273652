"""Topic and config administration through the Java AdminClient and confluent-kafka's AdminClient:
create (with configs), create again (TopicExists), invalid requests (replication factor above the
broker count, bad name, zero partitions), describe, describe configs (the values set at creation
are DYNAMIC_TOPIC_CONFIG, others are not), incremental alter (set and delete), an unknown config
name (InvalidConfiguration), create partitions (1 -> 3), delete, describe after delete
(UnknownTopicOrPartition), delete again (UnknownTopicOrPartition); plus the broker's own configs."""
from __future__ import annotations

import socket
import struct
import time

import pytest
from confluent_kafka import KafkaError, TopicCollection
from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource,
                                   NewPartitions, NewTopic)

from conftest import unique
from runnel_interop import clients
from runnel_interop.clients import error_code

pytestmark = pytest.mark.needs_broker


def java_admin(java, broker, *ops):
    r = java.run("admin", {"bootstrap": broker.bootstrap, "ops": list(ops)})
    return r["results"]


def outcome(op_result) -> str:
    """The single topic's outcome of an admin op: "ok" or the exception's simple name."""
    if not op_result["ok"]:
        return op_result["error"]
    [one] = op_result["result"].values()
    return "ok" if one["ok"] else one["error"]


def test_java_admin_topic_lifecycle(broker, java):
    t = unique("adm-java")
    create, again, rf3, badname, zero = java_admin(
        java, broker,
        {"op": "createTopics", "topics": [{"name": t, "partitions": 1, "replicationFactor": 1,
                                           "configs": {"retention.ms": "3600000", "cleanup.policy": "delete"}}]},
        {"op": "createTopics", "topics": [{"name": t, "partitions": 1, "replicationFactor": 1}]},
        {"op": "createTopics", "topics": [{"name": unique("adm-rf3"), "partitions": 1, "replicationFactor": 3}]},
        {"op": "createTopics", "topics": [{"name": "bad name!", "partitions": 1, "replicationFactor": 1}]},
        {"op": "createTopics", "topics": [{"name": unique("adm-zero"), "partitions": 0, "replicationFactor": 1}]})
    assert create["ok"] and create["result"][t]["ok"], create
    assert create["result"][t]["value"]["numPartitions"] == 1
    assert create["result"][t]["value"]["replicationFactor"] == 1
    assert outcome(again) == "TopicExistsException", again
    assert outcome(rf3) == "InvalidReplicationFactorException", rf3
    assert outcome(badname) == "InvalidTopicException", badname
    assert outcome(zero) == "InvalidPartitionsException", zero

    described, configs = java_admin(java, broker, {"op": "describeTopics", "names": [t]},
                                    {"op": "describeConfigs", "topics": [t]})
    d = described["result"][t]["value"]
    assert d["name"] == t and [p["partition"] for p in d["partitions"]] == [0]
    assert create["result"][t]["value"]["topicId"] == d["topicId"]
    entries = configs["result"][f"topic:{t}"]["value"]
    dynamic = {"source": "DYNAMIC_TOPIC_CONFIG", "readOnly": False, "sensitive": False, "isDefault": False}
    assert entries["retention.ms"] == {"value": "3600000", **dynamic}
    assert entries["cleanup.policy"] == {"value": "delete", **dynamic}
    assert entries["segment.bytes"]["source"] in ("DEFAULT_CONFIG", "STATIC_BROKER_CONFIG"), entries["segment.bytes"]
    assert entries["segment.bytes"]["value"] == str(int(entries["segment.bytes"]["value"]))

    alter, unknown, configs2, grow, described2 = java_admin(
        java, broker,
        {"op": "incrementalAlterConfigs", "name": t, "set": {"retention.ms": "7200000", "max.message.bytes": "2000000"},
         "delete": ["cleanup.policy"]},
        {"op": "incrementalAlterConfigs", "name": t, "set": {"no.such.config": "1"}},
        {"op": "describeConfigs", "topics": [t]},
        {"op": "createPartitions", "topic": t, "totalCount": 3},
        {"op": "describeTopics", "names": [t]})
    assert alter["ok"], alter
    assert unknown == {"op": "incrementalAlterConfigs", "ok": False, "error": "InvalidConfigurationException",
                       "message": unknown.get("message")}, unknown
    entries = configs2["result"][f"topic:{t}"]["value"]
    assert entries["retention.ms"] == {"value": "7200000", **dynamic}
    assert entries["max.message.bytes"] == {"value": "2000000", **dynamic}
    assert entries["cleanup.policy"]["value"] == "delete"
    assert entries["cleanup.policy"]["source"] != "DYNAMIC_TOPIC_CONFIG"
    assert "no.such.config" not in entries
    assert grow["ok"], grow
    assert [p["partition"] for p in described2["result"][t]["value"]["partitions"]] == [0, 1, 2]

    delete, absent, again_delete = java_admin(
        java, broker, {"op": "deleteTopics", "names": [t]}, {"op": "awaitAbsent", "name": t},
        {"op": "deleteTopics", "names": [t]})
    assert delete["result"][t] == {"ok": True, "value": None}, delete
    assert absent["ok"] and absent["result"]["absent"] is True, absent
    assert outcome(again_delete) == "UnknownTopicOrPartitionException", again_delete


def test_java_admin_describes_broker_configs(broker, java):
    md = clients.confluent_admin(broker.bootstrap).list_topics(timeout=10)
    [node] = list(md.brokers)
    [r] = java_admin(java, broker, {"op": "describeConfigs", "brokers": [str(node)]})
    assert r["ok"], r
    entries = r["result"][f"broker:{node}"]["value"]
    assert entries["log.dirs"]["value"] == str(broker.data_dir)
    assert entries["log.dirs"]["source"] == "STATIC_BROKER_CONFIG"
    assert entries["listeners"]["value"] == f"PLAINTEXT://127.0.0.1:{broker.port}"


def test_confluent_admin_topic_lifecycle(broker):
    admin = clients.confluent_admin(broker.bootstrap)
    t = unique("adm-ck")
    fs = admin.create_topics([NewTopic(t, 1, 1, config={"retention.ms": "3600000"})], operation_timeout=30)
    assert error_code(fs[t]) is None
    assert error_code(admin.create_topics([NewTopic(t, 1, 1)])[t]) == KafkaError.TOPIC_ALREADY_EXISTS
    bad = unique("adm-ck-rf3")
    assert error_code(admin.create_topics([NewTopic(bad, 1, 3)])[bad]) == KafkaError.INVALID_REPLICATION_FACTOR
    assert error_code(admin.create_topics([NewTopic("bad name!", 1, 1)])["bad name!"]) == KafkaError.TOPIC_EXCEPTION

    desc = admin.describe_topics(TopicCollection([t]))[t].result(30)
    assert desc.name == t and [p.id for p in desc.partitions] == [0]
    [node] = list(admin.list_topics(timeout=10).brokers)
    assert [(p.leader.id, [r.id for r in p.replicas], [r.id for r in p.isr]) for p in desc.partitions] == [
        (node, [node], [node])]

    res = ConfigResource(ConfigResource.Type.TOPIC, t)
    cfg = admin.describe_configs([res])[res].result(30)
    assert (cfg["retention.ms"].value, cfg["retention.ms"].source) == ("3600000", ConfigSource.DYNAMIC_TOPIC_CONFIG.value)
    assert cfg["cleanup.policy"].source != ConfigSource.DYNAMIC_TOPIC_CONFIG.value

    alter = ConfigResource(ConfigResource.Type.TOPIC, t, incremental_configs=[
        ConfigEntry("retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SET)])
    assert error_code(admin.incremental_alter_configs([alter])[alter]) is None
    cfg = admin.describe_configs([res])[res].result(30)
    assert (cfg["retention.ms"].value, cfg["retention.ms"].source) == ("7200000", ConfigSource.DYNAMIC_TOPIC_CONFIG.value)
    assert (cfg["cleanup.policy"].value, cfg["cleanup.policy"].source) == ("compact", ConfigSource.DYNAMIC_TOPIC_CONFIG.value)

    unset = ConfigResource(ConfigResource.Type.TOPIC, t, incremental_configs=[
        ConfigEntry("cleanup.policy", None, incremental_operation=AlterConfigOpType.DELETE)])
    assert error_code(admin.incremental_alter_configs([unset])[unset]) is None
    cfg = admin.describe_configs([res])[res].result(30)
    assert cfg["cleanup.policy"].value == "delete"
    assert cfg["cleanup.policy"].source != ConfigSource.DYNAMIC_TOPIC_CONFIG.value

    unknown = ConfigResource(ConfigResource.Type.TOPIC, t, incremental_configs=[
        ConfigEntry("no.such.config", "1", incremental_operation=AlterConfigOpType.SET)])
    assert error_code(admin.incremental_alter_configs([unknown])[unknown]) == KafkaError.INVALID_CONFIG

    assert error_code(admin.create_partitions([NewPartitions(t, 3)])[t]) is None
    assert [p.id for p in admin.describe_topics(TopicCollection([t]))[t].result(30).partitions] == [0, 1, 2]

    assert error_code(admin.delete_topics([t], operation_timeout=30)[t]) is None
    deadline = time.monotonic() + 15
    while True:  # deletion shows in metadata within a bound
        code = error_code(admin.describe_topics(TopicCollection([t]))[t])
        if code == KafkaError.UNKNOWN_TOPIC_OR_PART:
            break
        assert time.monotonic() < deadline, f"topic still described after delete (code {code})"
        time.sleep(0.1)
    assert error_code(admin.delete_topics([t])[t]) == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_delete_topic_enable_false_refuses_deletion_and_fetch_max_bytes_caps_responses(fresh_broker):
    """Broker settings reach the handlers: `delete.topic.enable=false` answers DeleteTopics with
    TOPIC_DELETION_DISABLED and the topic stays; `fetch.max.bytes` caps what one Fetch returns even when
    the client asks for more (Kafka's rule: at least one batch still comes back)."""
    b = fresh_broker({"delete.topic.enable": "false", "fetch.max.bytes": 65536})
    admin = clients.confluent_admin(b.bootstrap)
    t = unique("undeletable")
    clients.create_topic(b.bootstrap, t, partitions=1)
    assert error_code(admin.delete_topics([t], operation_timeout=30)[t]) == KafkaError.TOPIC_DELETION_DISABLED
    assert error_code(admin.describe_topics(TopicCollection([t]))[t]) is None

    acks = clients.confluent_produce(b.bootstrap, t, t, range(2000), value_size=1000, config={"batch.size": 16384})["acks"]
    assert len(acks) == 2000
    # One raw Fetch v4 asking for 50 MiB: the answer must respect the broker's 64 KiB cap.
    host, port = b.bootstrap.split(":")
    name = t.encode()
    body = struct.pack(">hhih", 1, 4, 7, 3) + b"cap"
    body += struct.pack(">iiiib", -1, 500, 1, 50 << 20, 0)
    body += struct.pack(">ih", 1, len(name)) + name + struct.pack(">i", 1) + struct.pack(">iqi", 0, 0, 50 << 20)
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", recv_exact(sock, 4))[0]
        payload = recv_exact(sock, size)
    assert struct.unpack(">i", payload[:4])[0] == 7
    # Batches of ≈ 16 KiB: the cap lets at most one batch past 64 KiB; uncapped it would be ≈ 2 MB.
    assert 16384 < size <= 65536 + 17000, f"{size} bytes in one fetch response, cap 65536"


def recv_exact(sock, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        assert chunk, "connection closed early"
        out += chunk
    return bytes(out)
