"""DeleteRecords through the Java AdminClient, confluent-kafka's AdminClient and kafka-python's
KafkaAdminClient. On a partition of 100 records: delete before 40 -> low watermark 40; the
earliest offset is 40 and a consumer from the beginning reads exactly offsets 40..99; deleting
before 20 leaves it at 40; before 200 (past the high watermark) is OFFSET_OUT_OF_RANGE; before
-1 (the high watermark) empties the partition (low watermark 100, nothing to read). The log start
offset survives a graceful broker restart."""
from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from conftest import unique
from runnel_interop import clients, records

pytestmark = pytest.mark.needs_broker
COUNT = 100


def filled_topic(bootstrap: str, tag: str) -> str:
    t = unique(f"delrec-{tag}")
    clients.create_topic(bootstrap, t, partitions=1)
    res = clients.confluent_produce(bootstrap, t, t, range(COUNT))
    assert not res["errors"] and len(res["acks"]) == COUNT
    return t


def low_high(bootstrap: str, topic: str) -> tuple[int, int]:
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("wm"), "enable.auto.commit": False})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=15, cached=False)
    finally:
        c.close()


def assert_reads_from(bootstrap: str, topic: str, start: int) -> None:
    got = clients.confluent_consume(bootstrap, topic)
    records.verify(got, topic, range(start, COUNT), 100, "confluent", first_offset=start)


def java_delete(java, bootstrap, topic, before):
    [r] = java.run("admin", {"bootstrap": bootstrap, "ops": [
        {"op": "deleteRecords", "topic": topic, "partition": 0, "beforeOffset": before}]})["results"]
    return r["result"]["lowWatermark"] if r["ok"] else r["error"]


def confluent_delete(bootstrap, topic, before):
    admin = clients.confluent_admin(bootstrap)
    fut = admin.delete_records([TopicPartition(topic, 0, before)], operation_timeout=30)
    try:
        return next(iter(fut.values())).result(30).low_watermark
    except KafkaException as e:
        return e.args[0].code()


def kafka_python_delete(bootstrap, topic, before):
    from kafka import KafkaAdminClient
    from kafka import TopicPartition as KpTopicPartition
    from kafka.errors import KafkaError as KpError
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        tp = KpTopicPartition(topic, 0)
        return admin.delete_records({tp: before})[tp]["low_watermark"]
    except KpError as e:
        return type(e).__name__
    finally:
        admin.close()


OUT_OF_RANGE = {"java": "OffsetOutOfRangeException", "confluent": KafkaError.OFFSET_OUT_OF_RANGE,
                "kafka-python": "OffsetOutOfRangeError"}


@pytest.mark.parametrize("client", ["java", "confluent", "kafka-python"])
def test_delete_records(broker, java, client):
    delete = {"java": lambda t, b: java_delete(java, broker.bootstrap, t, b),
              "confluent": lambda t, b: confluent_delete(broker.bootstrap, t, b),
              "kafka-python": lambda t, b: kafka_python_delete(broker.bootstrap, t, b)}[client]
    t = filled_topic(broker.bootstrap, client)
    assert delete(t, 40) == 40
    assert low_high(broker.bootstrap, t) == (40, COUNT)
    assert_reads_from(broker.bootstrap, t, 40)
    assert delete(t, 20) == 40
    assert delete(t, 200) == OUT_OF_RANGE[client]
    assert low_high(broker.bootstrap, t) == (40, COUNT)
    assert delete(t, -1) == COUNT
    assert low_high(broker.bootstrap, t) == (COUNT, COUNT)
    assert clients.confluent_consume(broker.bootstrap, t) == []


def test_log_start_offset_survives_graceful_restart(fresh_broker, java):
    b = fresh_broker()
    t = filled_topic(b.bootstrap, "restart")
    assert java_delete(java, b.bootstrap, t, 40) == 40
    b.restart(graceful=True)
    assert low_high(b.bootstrap, t) == (40, COUNT)
    assert_reads_from(b.bootstrap, t, 40)
