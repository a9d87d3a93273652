"""Offsets by timestamp (ListOffsets with a timestamp) through every client. One partition holds
1,000 records with CreateTime T0 + 10*i (i = offset). For each query timestamp the broker must
return the first offset whose timestamp is >= the query, with that record's timestamp, and
"nothing" past the last record: Java offsetsForTimes (null), kafka-python offsets_for_times (None),
confluent-kafka offsets_for_times (-1), kcat -o s@<ts> (starts reading at that offset, or reads
nothing). The Java AdminClient's earliest / latest / max-timestamp specs are checked too."""
from __future__ import annotations

import pytest

from conftest import unique
from runnel_interop import clients

pytestmark = pytest.mark.needs_broker
COUNT = 1000
T0 = 1_700_000_000_000
# (query timestamp, expected offset or None)
CASES = [
    (T0 - 60_000, 0),
    (T0, 0),
    (T0 + 1, 1),
    (T0 + 10 * 500, 500),
    (T0 + 10 * 500 + 5, 501),
    (T0 + 10 * 999, 999),
    (T0 + 10 * 999 + 1, None),
]


@pytest.fixture(scope="module")
def topic(broker):
    name = unique("oft")
    clients.create_topic(broker.bootstrap, name, partitions=1)
    res = clients.confluent_produce(broker.bootstrap, name, name, range(COUNT), ts_base=T0, ts_step=10)
    assert not res["errors"] and len(res["acks"]) == COUNT
    return name


def ts_of(offset):
    return T0 + 10 * offset


def test_java_offsets_for_times(broker, topic, java):
    r = java.run("offsets-for-times", {"bootstrap": broker.bootstrap, "topic": topic, "partitions": [0],
                                       "timestamps": [ts for ts, _ in CASES]})
    got = [(one["timestamp"], one["partitions"]["0"]) for one in r["results"]]
    want = [(ts, None if off is None else {"offset": off, "timestamp": ts_of(off)}) for ts, off in CASES]
    assert got == want
    assert (r["beginningOffsets"], r["endOffsets"]) == ({"0": 0}, {"0": COUNT})


def test_java_admin_list_offsets_specs(broker, topic, java):
    ops = [{"op": "listOffsets", "topic": topic, "partitions": [0], "spec": s}
           for s in ("earliest", "latest", "maxTimestamp", str(T0 + 10 * 500 + 5))]
    r = java.run("admin", {"bootstrap": broker.bootstrap, "ops": ops})
    results = [x["result"]["0"] if x["ok"] else x for x in r["results"]]
    assert results[0]["offset"] == 0
    assert results[1]["offset"] == COUNT
    assert results[2] == {"offset": COUNT - 1, "timestamp": ts_of(COUNT - 1)}
    assert results[3] == {"offset": 501, "timestamp": ts_of(501)}


def test_kafka_python_offsets_for_times(broker, topic):
    from kafka import TopicPartition
    c = clients.kafka_python_consumer(broker.bootstrap)
    try:
        tp = TopicPartition(topic, 0)
        got = []
        for ts, _ in CASES:
            oat = c.offsets_for_times({tp: ts})[tp]
            got.append(None if oat is None else (oat.offset, oat.timestamp))
        assert got == [None if off is None else (off, ts_of(off)) for _, off in CASES]
        assert c.beginning_offsets([tp]) == {tp: 0} and c.end_offsets([tp]) == {tp: COUNT}
    finally:
        c.close()


def test_confluent_offsets_for_times(broker, topic):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": unique("oft-group"),
                  "enable.auto.commit": False})
    try:
        got = [c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=15)[0] for ts, _ in CASES]
        assert [(tp.error, tp.offset) for tp in got] == [(None, -1 if off is None else off) for _, off in CASES]
        assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=15) == (0, COUNT)
    finally:
        c.close()


@pytest.mark.parametrize("ts,offset", CASES)
def test_kcat_start_at_timestamp(broker, topic, kcat_bin, ts, offset):
    got = clients.kcat_consume(kcat_bin, broker.bootstrap, topic, offset=f"s@{ts}", count=1)
    if offset is None:
        assert got == []
    else:
        assert [(r["o"], r["ts"], r["k"]) for r in got] == [(offset, ts_of(offset), f"{topic}-{offset:07d}")]
