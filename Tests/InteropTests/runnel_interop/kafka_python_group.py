"""Subscribing a kafka-python (3.0.12) group consumer so that its first join sees its topics' metadata.

kafka-python's coordinator keeps a per-topic "metadata snapshot" that only a metadata response received
while subscribed fills in. A leader that assigns before one arrives assigns nothing ("No partition metadata
for topic"), records an empty snapshot, and rejoins when the next metadata response differs from it. That
rejoin is not flagged in the coordinator's `rejoin_needed`, so when `poll(timeout_ms)` runs out while its
SyncGroup is in flight the next poll no longer sees a rejoin to finish: the completed join is never applied,
heartbeats stay disabled, and the broker removes the member at its session timeout (seen in test_kappa.py
and test_groups_kafka_python.py; the broker answered JoinGroup and SyncGroup, the client sent nothing more).

`subscribe_with_metadata` asks for the topics' metadata before subscribing and once more after it, so the
snapshot is filled before any join (joins run on the client's IO thread after that response's listeners).
The topics are asked for by name through the consumer's cluster metadata (kafka-python's own, private,
API): an alias is not in an all-topics listing (Runnel lists topics), which partitions_for_topic and
topics() ask for.

Imported as `runnel_interop.kafka_python_group` by the tests and as `kafka_python_group` by
kafka_python_member.py (run as a script from this folder)."""
from __future__ import annotations

import time


def _fresh_metadata(consumer, future, topics: list[str], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not (future.is_done and all(consumer._cluster.partitions_for_topic(t) for t in topics)):
        if time.monotonic() > deadline:
            raise AssertionError(f"kafka-python: no metadata for {topics} within {timeout}s ({what})")
        time.sleep(0.02)  # metadata poll interval, bounded above by the deadline


def subscribe_with_metadata(consumer, topics: list[str], listener=None, timeout: float = 20) -> None:
    """Subscribes `consumer` (a KafkaConsumer made without topics) to `topics` with their metadata known
    before its first join."""
    _fresh_metadata(consumer, consumer._cluster.set_topics(topics), topics, "before subscribing", timeout)
    if listener is None:
        consumer.subscribe(topics)
    else:
        consumer.subscribe(topics, listener=listener)
    _fresh_metadata(consumer, consumer._cluster.request_update(), topics, "after subscribing", timeout)


def group_consumer(topics: list[str], **config):
    """A kafka-python KafkaConsumer (`config` as its keyword arguments) subscribed to `topics` with
    `subscribe_with_metadata`."""
    from kafka import KafkaConsumer
    consumer = KafkaConsumer(**config)
    try:
        subscribe_with_metadata(consumer, topics)
    except BaseException:
        consumer.close()
        raise
    return consumer
