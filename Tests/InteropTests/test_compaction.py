"""Log compaction with a real client: a confluent-kafka producer writes several versions of the same
keys to a `cleanup.policy=compact` topic in lz4 / zstd batches (segments rolled by `segment.ms`); the
broker's cleaner (`log.cleaner.backoff.ms` lowered) leaves, below the active segment, only the latest
record of each key — the consumer reads every key once with its last value at its original offset —
and the cleaned batches — rounds overwrite overlapping key ranges, so batches lose some records and
keep others — are still in the producer's codec with valid CRCs (`runnel log dump`)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from confluent_kafka import Producer

import cli_support as cli
from conftest import unique
from runnel_interop import clients
from runnel_interop.group_members import wait_until

pytestmark = pytest.mark.needs_broker
KEYS = 40
# Rounds overwrite overlapping key ranges, so every round's batch keeps some records and loses others:
# the cleaner must rebuild (and recompress) batches, not only drop whole ones.
ROUNDS = [range(0, 40), range(0, 20), range(20, 30), range(0, 10)]


def produce_round(bootstrap: str, topic: str, codec: str, round_: int, keys) -> dict[str, int]:
    """One version of each key in one batch (flushed; the long linger keeps a preempted produce loop from
    sending a lone record, which librdkafka sends uncompressed); returns key → offset."""
    p = Producer({"bootstrap.servers": bootstrap, "compression.type": codec, "linger.ms": 5000, "acks": "all"})
    offsets: dict[str, int] = {}

    def done(err, msg):
        assert err is None, err
        offsets[msg.key().decode()] = msg.offset()
    for k in keys:
        p.produce(topic, key=k.encode(), value=f"{k}-round-{round_}".encode(), partition=0, on_delivery=done)
    assert p.flush(30) == 0
    return offsets


@pytest.mark.timeout(120)
@pytest.mark.parametrize("codec", ["lz4", "zstd"])
def test_compacted_topic_keeps_the_latest_value_of_each_key_in_compressed_batches(fresh_broker, runnel_bin, codec):
    b = fresh_broker({"log.cleaner.backoff.ms": 100})
    topic = unique(f"compact-{codec}")
    clients.create_topic(b.bootstrap, topic, partitions=1,
                         configs={"cleanup.policy": "compact", "segment.ms": "200", "min.cleanable.dirty.ratio": "0.01"})
    keys = [f"key-{i:02d}" for i in range(KEYS)]
    latest: dict[str, tuple[str, int]] = {}
    for round_, indices in enumerate(ROUNDS):
        # Each round lands in its own segment: segment.ms is a time rule, so time has to pass.
        time.sleep(0.25)
        written = produce_round(b.bootstrap, topic, codec, round_, [keys[i] for i in indices])
        latest.update({k: (f"{k}-round-{round_}", o) for k, o in written.items()})
    # One more record rolls the last round's segment, so every round is below the active segment.
    time.sleep(0.25)
    roll = produce_round(b.bootstrap, topic, codec, len(ROUNDS), ["roll"])
    total = sum(len(r) for r in ROUNDS) + 1

    def compacted():
        got = clients.confluent_consume(b.bootstrap, topic)
        return got if len(got) == KEYS + 1 else None
    got = wait_until(compacted, 60, f"the cleaner to leave {KEYS + 1} of {total} records")
    assert {(r["k"], r["v"], r["o"]) for r in got} == (
        {(k, v, o) for k, (v, o) in latest.items()} | {("roll", f"roll-round-{len(ROUNDS)}", roll["roll"])})
    # The offsets keep their gaps and the log end does not move.
    assert max(r["o"] for r in got) == total - 1
    # The cleaned segments (all but the active one, whose single record librdkafka sends uncompressed).
    for segment in sorted(Path(b.data_dir).glob(f"{topic}-0/*.log"))[:-1]:
        report = cli.json_out(runnel_bin, "log", "dump", str(segment))
        assert report["problems"] == [], report["problems"]
        assert all(batch["crcValid"] for batch in report["batches"])
        codecs = {batch["compression"] for batch in report["batches"]}
        assert codecs <= {codec}, f"{segment.name}: batches in {codecs}, expected {codec}"
