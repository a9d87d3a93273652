"""Internal topics are the broker's own state: a client may read `__consumer_offsets` but not append
to it (INVALID_TOPIC_EXCEPTION, as Kafka's ReplicaManager answers; librdkafka sends the produce,
kafka-python refuses internal topics itself), trim it with DeleteRecords (same
code), delete it or change its partition count (refused with the same code; see
docs/compatibility.md). After every refusal the topic is intact and groups still commit to it."""
from __future__ import annotations

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicCollection
from confluent_kafka import TopicPartition as CkTopicPartition
from confluent_kafka.admin import NewPartitions

from conftest import unique
from runnel_interop import clients
from runnel_interop.clients import error_code

pytestmark = pytest.mark.needs_broker

OFFSETS = "__consumer_offsets"


def test_librdkafka_cannot_append_to_consumer_offsets(broker):
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "message.timeout.ms": 20000,
                  "socket.timeout.ms": 10000})
    results = []
    p.produce(OFFSETS, key=b"k", value=b"forged", partition=0,
              on_delivery=lambda err, msg: results.append(err))
    assert p.flush(30) == 0
    [err] = results
    assert err is not None and err.code() == KafkaError.TOPIC_EXCEPTION, err


def test_consumer_offsets_cannot_be_deleted_trimmed_or_repartitioned(broker):
    admin = clients.confluent_admin(broker.bootstrap)
    before = admin.describe_topics(TopicCollection([OFFSETS]))[OFFSETS].result(30)
    assert before.is_internal
    count = len(before.partitions)

    assert error_code(admin.delete_topics([OFFSETS], operation_timeout=30)[OFFSETS]) == KafkaError.TOPIC_EXCEPTION
    grown = admin.create_partitions([NewPartitions(OFFSETS, count + 1)])[OFFSETS]
    assert error_code(grown) == KafkaError.TOPIC_EXCEPTION
    trimmed = admin.delete_records([CkTopicPartition(OFFSETS, 0, 0)])
    [fut] = trimmed.values()
    try:
        [result] = [fut.result(30)]
        code = result.error.code() if getattr(result, "error", None) else None
    except KafkaException as e:
        code = e.args[0].code()
    assert code == KafkaError.TOPIC_EXCEPTION

    after = admin.describe_topics(TopicCollection([OFFSETS]))[OFFSETS].result(30)
    assert len(after.partitions) == count and str(after.topic_id) == str(before.topic_id)

    # The coordinator still writes it: a group commits and reads back its offset.
    t = unique("internal-still-works")
    clients.create_topic(broker.bootstrap, t, partitions=1)
    group = unique("internal-group")
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        c.commit(offsets=[CkTopicPartition(t, 0, 7)], asynchronous=False)
        [tp] = c.committed([CkTopicPartition(t, 0)], timeout=30)
        assert tp.offset == 7
    finally:
        c.close()


def test_a_user_topic_with_a_double_underscore_is_not_internal(broker):
    admin = clients.confluent_admin(broker.bootstrap)
    t = "__" + unique("user")
    clients.create_topic(broker.bootstrap, t, partitions=1)
    assert not admin.describe_topics(TopicCollection([t]))[t].result(30).is_internal
