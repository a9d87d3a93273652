"""Idempotent producers with acks=all: the Java client's defaults (kafka-clients 4.x: idempotence
on, acks=all; nothing set by the test), kafka-python 3.x's defaults (the same), and confluent-kafka
with enable.idempotence=true. 20,000 records to one partition; every record acknowledged at its
own offset; the stored batches all carry one producer id (>= 0), epoch 0 and base sequences equal
to their base offsets; DescribeProducers (Java AdminClient) reports that producer with last
sequence 19,999; a consumer reads exactly the records sent."""
from __future__ import annotations

import pytest

from conftest import unique
from runnel_interop import clients, records, wire
from runnel_interop.drivers import Drivers

pytestmark = pytest.mark.needs_broker
COUNT = 20_000


@pytest.fixture(scope="module", params=["java", "kafka-python", "confluent"])
def produced(request, broker, java_classes, tmp_path_factory):
    """20,000 records produced idempotently by one client; returns (client, topic, result)."""
    from runnel_interop.java import JavaClient
    client = request.param
    topic = unique(f"idem-{client}")
    clients.create_topic(broker.bootstrap, topic, partitions=1)
    work = tmp_path_factory.mktemp(f"idem-{client}")
    d = Drivers(broker.bootstrap, java=JavaClient(java_classes, work), workdir=work)
    return client, topic, d.produce(client, topic, topic, range(COUNT), codec="lz4", idempotent=True)


def test_idempotent_producer_with_acks_all(broker, produced):
    client, topic, res = produced
    assert not res["errors"], res["errors"]
    if client == "java":
        config = dict(res["raw"]["config"])
        assert config.pop("produceThrottleTimeMaxMs") == 0, config
        assert config == {"acks": "default", "enable.idempotence": "default", "compression.type": "lz4"}
    assert res["acks"] == {i: (0, i) for i in range(COUNT)}

    batches = wire.fetch_all_batches(broker.port, topic)
    producer_ids = {b["producer_id"] for b in batches}
    assert len(producer_ids) == 1 and min(producer_ids) >= 0, f"producer ids in the log: {producer_ids}"
    assert {b["producer_epoch"] for b in batches} == {0}
    wrong = [(b["base_offset"], b["base_sequence"]) for b in batches if b["base_sequence"] != b["base_offset"]]
    assert not wrong, f"base sequence != base offset (producer started at 0 on an empty log): {wrong[:5]}"
    assert sum(b["records_count"] for b in batches) == COUNT

    got = clients.confluent_consume(broker.bootstrap, topic)
    records.verify(got, topic, range(COUNT), 100, client)


def test_describe_producers_reports_the_idempotent_producer(broker, produced, java):
    client, topic, res = produced
    assert not res["errors"] and len(res["acks"]) == COUNT
    [pid] = {b["producer_id"] for b in wire.fetch_all_batches(broker.port, topic)}
    r = java.run("admin", {"bootstrap": broker.bootstrap,
                           "ops": [{"op": "describeProducers", "topic": topic, "partition": 0}]})
    [dp] = r["results"]
    assert dp["ok"], dp
    [state] = dp["result"]
    assert state.pop("lastTimestamp") > 0, dp
    assert state == {"producerId": pid, "producerEpoch": 0, "lastSequence": COUNT - 1,
                     "currentTransactionStartOffset": None, "coordinatorEpoch": None}
