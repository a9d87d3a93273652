"""kafka-python's transactional producer (init_transactions, begin_transaction, send,
send_offsets_to_transaction, commit_transaction / abort_transaction) read back by read_committed
consumers of every client family — kafka-python, confluent-kafka, the Java client and kcat
(`-X isolation.level=read_committed`) — each getting exactly the committed records (checked against the
raw log's markers), while the group offsets sent with the aborted transaction never land."""
from __future__ import annotations

import json
import subprocess

import pytest
from confluent_kafka import Consumer
from confluent_kafka import TopicPartition as CkTP

from conftest import unique
from runnel_interop import clients, records
from runnel_interop import txn as T

pytestmark = pytest.mark.needs_broker
PLAN = [(0, 100, "commit"), (100, 100, "abort"), (200, 100, "commit"), (300, 40, "abort"), (340, 60, "commit")]
COMMITTED = [i for s, n, e in PLAN if e == "commit" for i in range(s, s + n)]


def committed_offset(bootstrap: str, group: str, topic: str) -> int:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        return c.committed([CkTP(topic, 0)], timeout=30)[0].offset
    finally:
        c.close()


@pytest.fixture(scope="module")
def written(txn_broker):
    """Five kafka-python transactions into one partition (PLAN), each sending group offsets."""
    from kafka import KafkaProducer
    from kafka.structs import OffsetAndMetadata, TopicPartition
    b = txn_broker
    t, src, group = unique("kp-txn"), unique("kp-txn-src"), unique("kp-txn-g")
    clients.create_topic(b.bootstrap, t, partitions=1)
    clients.create_topic(b.bootstrap, src, partitions=1)
    p = KafkaProducer(bootstrap_servers=b.bootstrap, transactional_id=unique("kp-tid"), request_timeout_ms=15000,
                      max_block_ms=30000, linger_ms=5)
    offsets_seen = []
    try:
        p.init_transactions()
        for start, n, end in PLAN:
            p.begin_transaction()
            futures = [p.send(t, key=records.key(t, i).encode(), value=records.value(t, i, 100).encode(), partition=0,
                              headers=[("idx", str(i).encode()), ("client", b"kafka-python")])
                       for i in range(start, start + n)]
            p.flush(30)
            assert all(f.succeeded() for f in futures), [f.exception for f in futures if not f.succeeded()][:3]
            p.send_offsets_to_transaction({TopicPartition(src, 0): OffsetAndMetadata(start + n, "", -1)}, group)
            if end == "commit":
                p.commit_transaction()
            else:
                p.abort_transaction()
            offsets_seen.append(committed_offset(b.bootstrap, group, src))
    finally:
        p.close(timeout=30)
    T.await_stable(b.port, t)
    return {"topic": t, "src": src, "group": group, "offsets": offsets_seen}


@pytest.mark.timeout(120)
def test_kafka_python_transactions_land_with_their_offsets(txn_broker, written):
    # The group's offset moves with committed transactions only.
    assert written["offsets"] == [100, 100, 300, 300, 400]
    batches, _ = T.read_log(txn_broker.port, written["topic"])
    assert [tx.marker for tx in T.transactions(batches)] == [
        T.COMMIT_MARKER if e == "commit" else T.ABORT_MARKER for *_, e in PLAN]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("reader", ["kafka-python", "confluent", "java", "kcat"])
def test_read_committed_consumers_see_only_kafka_python_commits(txn_broker, written, reader, request, tmp_path):
    b, t = txn_broker, written["topic"]
    if reader == "kafka-python":
        got = clients.kafka_python_consume(b.bootstrap, t, config={"isolation_level": "read_committed"})
    elif reader == "confluent":
        got = clients.confluent_consume(b.bootstrap, t, config={"isolation.level": "read_committed"})
    elif reader == "java":
        java = request.getfixturevalue("java")
        got = T.java_read(java, b.bootstrap, t, tmp_path / "rc.jsonl", "read_committed")
    else:
        kcat = request.getfixturevalue("kcat_bin")
        got = kcat_read_committed(kcat, b.bootstrap, t)
    if reader == "kcat":
        # kcat cannot print per-record headers in -J with every build: check keys and values only.
        assert sorted(records.index_of(t, r["k"]) for r in got) == COMMITTED
        assert all(r["v"] == records.value(t, records.index_of(t, r["k"]), 100) for r in got)
    else:
        T.verify_indices(got, t, COMMITTED, "kafka-python")
    T.check_views(b.port, t, 0, got)


def kcat_read_committed(kcat: str, bootstrap: str, topic: str) -> list[dict]:
    cmd = clients.kcat_base(kcat, bootstrap) + ["-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-J", "-q",
                                                "-X", "isolation.level=read_committed"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    out = []
    for line in res.stdout.splitlines():
        if line.startswith("{"):
            j = json.loads(line)
            out.append({"p": j["partition"], "o": j["offset"], "k": j.get("key"), "v": j.get("payload"), "h": []})
    return out
