"""Topic `compression.type`: the broker recompresses produced batches to the topic's codec, as Kafka does.

For topics with compression.type zstd, gzip, uncompressed and snappy, confluent-kafka and the Java client each
produce one uncompressed and one lz4 run; every client reads all records back exactly (keys, values,
headers, offsets), and `runnel log dump` of the segment file shows every stored batch in the topic's codec
with a valid CRC. A compression.type=producer topic keeps each batch's codec as sent.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import cli_support as cli
from conftest import unique
from runnel_interop import clients, records
from runnel_interop.drivers import Drivers

pytestmark = pytest.mark.needs_broker
COUNT = 400
PRODUCERS = ["confluent", "java"]
SENT = ["none", "lz4"]
CONSUMERS = ["confluent", "java", "kafka-python", "kcat"]
TS_BASE = 1_700_000_000_000


@pytest.fixture
def drivers(broker, java, kcat_bin, tmp_path):
    return Drivers(broker.bootstrap, java=java, kcat=kcat_bin, workdir=tmp_path)


def dump_segment(runnel_bin: str, broker, topic: str) -> list[dict]:
    segments = sorted(Path(broker.data_dir).glob(f"{topic}-0/*.log"))
    assert segments, f"no segment file for {topic}"
    report = cli.json_out(runnel_bin, "log", "dump", str(segments[0]))
    assert report["problems"] == [], report["problems"]
    return report["batches"]


def produce_runs(drivers: Drivers, topic: str) -> list[tuple[str, str, range]]:
    """Each producer sends each codec, COUNT records per run, in consecutive offset ranges."""
    runs = []
    start = 0
    for producer in PRODUCERS:
        for codec in SENT:
            indices = range(start, start + COUNT)
            res = drivers.produce(producer, topic, f"{topic}-{producer}-{codec}", indices, codec=codec,
                                  ts_base=TS_BASE)
            assert not res["errors"], f"{producer}/{codec} produce errors: {res['errors']}"
            assert len(res["acks"]) == COUNT
            runs.append((producer, codec, indices))
            start += COUNT
    return runs


def verify_consumed(drivers: Drivers, topic: str, runs) -> None:
    total = COUNT * len(runs)
    for consumer in CONSUMERS:
        got = drivers.consume(consumer, topic)
        assert len(got) == total, f"{consumer} read {len(got)} of {total}"
        assert [r["o"] for r in got] == list(range(total)), f"{consumer}: offsets are not 0..{total - 1}"
        for producer, codec, indices in runs:
            prefix = f"{topic}-{producer}-{codec}"
            mine = [r for r in got if r["k"] is not None and r["k"].startswith(prefix + "-")]
            records.verify(mine, prefix, indices, 100, client=producer, first_offset=indices.start)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("topic_codec,stored", [("zstd", "zstd"), ("gzip", "gzip"), ("uncompressed", "none"),
                                                ("snappy", "snappy")])
def test_batches_are_stored_with_the_topic_codec(runnel_bin, broker, drivers, topic_codec, stored):
    topic = unique(f"ct-{topic_codec}")
    clients.create_topic(broker.bootstrap, topic, configs={"compression.type": topic_codec})
    runs = produce_runs(drivers, topic)
    verify_consumed(drivers, topic, runs)
    batches = dump_segment(runnel_bin, broker, topic)
    assert sum(b["count"] for b in batches) == COUNT * len(runs)
    assert {b["compression"] for b in batches} == {stored}, (
        f"stored codecs {sorted({b['compression'] for b in batches})}, topic compression.type {topic_codec}")
    assert all(b["crcValid"] for b in batches)


@pytest.mark.timeout(600)
def test_producer_keeps_the_codec_as_sent(runnel_bin, broker, drivers):
    topic = unique("ct-producer")
    clients.create_topic(broker.bootstrap, topic, configs={"compression.type": "producer"})
    runs = produce_runs(drivers, topic)
    verify_consumed(drivers, topic, runs)
    batches = dump_segment(runnel_bin, broker, topic)
    assert all(b["crcValid"] for b in batches)
    # Runs are consecutive offset ranges; each batch carries the codec its run was sent with.
    for b in batches:
        run = b["baseOffset"] // COUNT
        assert (b["lastOffset"]) // COUNT == run, "a batch spans two producer runs"
        expected = SENT[run % len(SENT)]
        assert b["compression"] == expected, f"batch at {b['baseOffset']} stored {b['compression']}, sent {expected}"
