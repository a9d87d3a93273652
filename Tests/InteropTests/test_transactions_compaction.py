"""Log compaction of a compacted topic written in transactions (confluent-kafka transactional producer):
round 0 commits a value for every key, round 1 writes newer values for half the keys and aborts, round 2
commits newer values for a quarter. After the cleaner ran (segments rolled by `segment.ms`, cleaner
backoff lowered), even a read_uncommitted consumer finds every key once with its last *committed* value
at its original offset: the aborted records are gone and did not shadow the older committed values."""
from __future__ import annotations

import time

import pytest

from conftest import TXN_BROKER_CONFIGS, unique
from runnel_interop import clients
from runnel_interop import txn as T
from runnel_interop.group_members import wait_until

pytestmark = pytest.mark.needs_broker
KEYS = 40
ROUNDS = [(range(0, 40), "commit"), (range(0, 20), "abort"), (range(10, 20), "commit"), (range(30, 40), "abort")]


@pytest.mark.timeout(150)
def test_compaction_keeps_committed_and_drops_aborted_records(fresh_broker):
    b = fresh_broker({**TXN_BROKER_CONFIGS, "log.cleaner.backoff.ms": 100})
    topic = unique("txn-compact")
    clients.create_topic(b.bootstrap, topic, partitions=1,
                         configs={"cleanup.policy": "compact", "segment.ms": "200", "min.cleanable.dirty.ratio": "0.01",
                                  "delete.retention.ms": "86400000"})
    producer = T.confluent_txn_producer(b.bootstrap, unique("txn-compact-tid"))
    latest: dict[str, tuple[str, int]] = {}
    aborted_values: set[str] = set()
    for round_, (keys, end) in enumerate(ROUNDS):
        # Each round in its own segment: segment.ms is a time rule, so time has to pass.
        time.sleep(0.25)
        offsets: dict[str, int] = {}

        def done(err, msg):
            assert err is None, err
            offsets[msg.key().decode()] = msg.offset()
        producer.begin_transaction()
        for k in keys:
            producer.produce(topic, key=f"key-{k:02d}".encode(), value=f"key-{k:02d}-round-{round_}".encode(),
                             partition=0, on_delivery=done)
        assert producer.flush(30) == 0
        if end == "commit":
            producer.commit_transaction(30)
            latest.update({k: (f"{k}-round-{round_}", o) for k, o in offsets.items()})
        else:
            producer.abort_transaction(30)
            aborted_values.update(f"{k}-round-{round_}" for k in offsets)
    # A committed record in a later segment makes every round's segment cleanable.
    time.sleep(0.25)
    producer.begin_transaction()
    producer.produce(topic, key=b"roll", value=b"roll", partition=0)
    producer.commit_transaction(30)
    T.await_stable(b.port, topic)
    # 81 records and 5 markers (the cleaner may already be at work: it keeps offsets, not records).
    assert T.list_offsets_v2(b.port, topic, 0, isolation=0) == sum(len(k) for k, _ in ROUNDS) + 1 + len(ROUNDS) + 1

    def compacted():
        got = clients.confluent_consume(b.bootstrap, topic, config={"isolation.level": "read_uncommitted"})
        return got if len(got) == KEYS + 1 else None
    got = wait_until(compacted, 90, f"the cleaner to leave {KEYS + 1} records (every key once, nothing aborted)")
    values = {r["k"]: (r["v"], r["o"]) for r in got if r["k"] != "roll"}
    assert values == latest, {k: (v, latest.get(k)) for k, v in values.items() if latest.get(k) != v}
    assert not {v for v, _ in values.values()} & aborted_values
    rc = clients.confluent_consume(b.bootstrap, topic, config={"isolation.level": "read_committed"})
    assert sorted((r["k"], r["v"], r["o"]) for r in rc) == sorted((r["k"], r["v"], r["o"]) for r in got)
    after, _ = T.read_log(b.port, topic)
    assert not T.classify(after)["aborted"], "aborted records survived cleaning"
