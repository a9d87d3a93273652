"""Requests routed by a stale topic id (issue 15 item 3). Fetch v13+ names topics by id; when the id no
longer names a topic — the topic was deleted, or deleted and created again under the same name — the
broker answers UNKNOWN_TOPIC_ID (100), so the client refreshes its metadata, instead of serving the
new topic under the old id from a fetch session (KIP-227 sessions keep partitions between requests).
Driven on the wire (Fetch v13, a session), then with the Java client, which follows the recreated
topic after the error."""
from __future__ import annotations

import struct
import time

import pytest
from confluent_kafka import KafkaError, TopicCollection
from confluent_kafka.admin import NewTopic

from conftest import unique
from runnel_interop import clients, records
from runnel_interop import wire as w
from runnel_interop.cluster import poll

pytestmark = pytest.mark.needs_broker

UNKNOWN_TOPIC_ID = 100


def topic_id(admin, topic: str) -> bytes:
    desc = admin.describe_topics(TopicCollection([topic]))[topic].result(30)
    uuid = desc.topic_id
    return struct.pack(">qq", uuid.get_most_significant_bits(), uuid.get_least_significant_bits())


def fetch_v13(port: int, session_id: int, epoch: int, topics: list[tuple[bytes, int, int]]) -> dict:
    """One Fetch v13 round trip; `topics` are (topic id, partition, fetch offset)."""
    body = w.i32(-1) + w.i32(100) + w.i32(1) + w.i32(1 << 20) + w.i8(0) + w.i32(session_id) + w.i32(epoch)
    body += w.uvarint(len(topics) + 1)
    for tid, partition, offset in topics:
        body += tid + w.uvarint(2) + w.i32(partition) + w.i32(-1) + w.i64(offset) + w.i32(-1) + w.i64(-1)
        body += w.i32(1 << 20) + w.uvarint(0) + w.uvarint(0)
    body += w.uvarint(1) + w.compact_string("") + w.uvarint(0)  # no forgotten topics, rack "", no tags
    sock = w.connect(port)
    try:
        sock.sendall(w.frame(w.request_header(1, 13, 7, "stale-id-test", True) + body))
        payload = w.read_frame(sock, time.monotonic() + 10)
    finally:
        sock.close()
    r = w.Reader(payload)
    assert r.i32() == 7
    r.skip_tags()
    r.i32()  # throttle
    out = {"error": r.i16(), "session": r.i32(), "partitions": []}
    for _ in range(r.uvarint() - 1):
        tid = r.take(16)
        for _ in range(r.uvarint() - 1):
            partition, error, hw = r.i32(), r.i16(), r.i64()
            r.i64(), r.i64()
            aborted = r.uvarint()
            for _ in range(max(aborted - 1, 0)):
                r.i64(), r.i64()
                r.skip_tags()
            r.i32()
            n = r.uvarint()
            data = r.take(n - 1) if n > 0 else b""
            r.skip_tags()
            out["partitions"].append({"id": tid, "partition": partition, "error": error, "hw": hw, "bytes": len(data)})
        r.skip_tags()
    return out


def test_fetch_by_a_stale_topic_id_answers_unknown_topic_id(fresh_broker):
    b = fresh_broker()
    admin = clients.confluent_admin(b.bootstrap)
    t = unique("stale-id")
    clients.create_topic(b.bootstrap, t, partitions=1)
    clients.confluent_produce(b.bootstrap, t, t, range(10))
    old = topic_id(admin, t)

    # A fetch session on the topic, by id.
    first = fetch_v13(b.port, 0, 0, [(old, 0, 0)])
    assert first["error"] == 0 and first["session"] != 0
    assert [(p["error"], p["hw"]) for p in first["partitions"]] == [(0, 10)] and first["partitions"][0]["bytes"] > 0

    # The topic is deleted and created again under the same name (a new id), with new records.
    assert clients.error_code(admin.delete_topics([t])[t]) is None
    poll("topic recreated", 30, lambda: clients.error_code(admin.create_topics([NewTopic(t, 1, 1)])[t]) is None)
    clients.confluent_produce(b.bootstrap, t, t, range(100, 103))
    new = topic_id(admin, t)
    assert new != old

    # The session still holds the partition under the old id: UNKNOWN_TOPIC_ID, no records of the new topic.
    again = fetch_v13(b.port, first["session"], 1, [])
    assert [(p["id"], p["error"], p["bytes"]) for p in again["partitions"]] == [(old, UNKNOWN_TOPIC_ID, 0)]
    # Without a session, the old id is unknown too; the new id reads the new topic.
    assert [p["error"] for p in fetch_v13(b.port, 0, -1, [(old, 0, 0)])["partitions"]] == [UNKNOWN_TOPIC_ID]
    fresh = fetch_v13(b.port, 0, -1, [(new, 0, 0)])["partitions"]
    assert [(p["error"], p["hw"]) for p in fresh] == [(0, 3)]


@pytest.mark.timeout(240)
def test_java_consumer_follows_a_recreated_topic(fresh_broker, java, tmp_path):
    """The Java consumer (Fetch v17, by topic id) reading a topic that is deleted and created again
    gets UNKNOWN_TOPIC_ID, refreshes its metadata, and goes on with the new topic's records."""
    b = fresh_broker()
    admin = clients.confluent_admin(b.bootstrap)
    t = unique("stale-java")
    clients.create_topic(b.bootstrap, t, partitions=1)
    clients.confluent_produce(b.bootstrap, t, t, range(50))
    old = topic_id(admin, t)
    out = tmp_path / "java.jsonl"
    consumer = java.start("consume", {"bootstrap": b.bootstrap, "topic": t, "partitions": [0], "out": str(out),
                                      "expected": 60, "timeoutMs": 150000, "progressEvery": 50})
    try:
        consumer.wait_acked(50, timeout=60)
        assert clients.error_code(admin.delete_topics([t])[t]) is None
        # Created again by us, or already by the consumer's metadata request (allow.auto.create.topics):
        # either way under a new id.
        poll("topic recreated", 30, lambda: clients.error_code(admin.create_topics([NewTopic(t, 1, 1)])[t])
             in (None, KafkaError.TOPIC_ALREADY_EXISTS) and topic_id(admin, t) != old)
        clients.confluent_produce(b.bootstrap, t, t, range(1000, 1010))
        res = consumer.result(timeout=180)
    finally:
        consumer.kill()
    assert (res["count"], res["timedOut"]) == (60, False), res
    got = records.read_jsonl(out)
    assert [records.index_of(t, r["k"]) for r in got[50:]] == list(range(1000, 1010))


@pytest.mark.timeout(180)
def test_librdkafka_consumer_follows_a_recreated_topic(fresh_broker):
    """The same with librdkafka (confluent-kafka): after the topic is deleted and created again, the
    assigned consumer goes on with the new topic's records."""
    from confluent_kafka import Consumer
    from confluent_kafka import TopicPartition as CkTopicPartition
    b = fresh_broker()
    admin = clients.confluent_admin(b.bootstrap)
    t = unique("stale-rdkafka")
    clients.create_topic(b.bootstrap, t, partitions=1)
    clients.confluent_produce(b.bootstrap, t, t, range(50))
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": unique("stale"), "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "fetch.wait.max.ms": 100, "topic.metadata.refresh.interval.ms": 300000})
    got: list[int] = []

    def read_until(n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(got) < n:
            assert time.monotonic() < deadline, f"librdkafka: {len(got)} of {n} records"
            for m in c.consume(num_messages=100, timeout=0.5):
                if m.error():
                    assert m.error().code() in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART,
                                                KafkaError._UNKNOWN_PARTITION, KafkaError.UNKNOWN_TOPIC_ID,
                                                KafkaError._AUTO_OFFSET_RESET, KafkaError.OFFSET_OUT_OF_RANGE), m.error()
                    continue
                got.append(records.index_of(t, m.key().decode()))
    try:
        c.assign([CkTopicPartition(t, 0, 0)])
        read_until(50, 60)
        assert clients.error_code(admin.delete_topics([t])[t]) is None
        poll("topic recreated", 30, lambda: clients.error_code(admin.create_topics([NewTopic(t, 1, 1)])[t]) is None)
        clients.confluent_produce(b.bootstrap, t, t, range(1000, 1010))
        read_until(60, 90)
    finally:
        c.close()
    assert got == list(range(50)) + list(range(1000, 1010))
