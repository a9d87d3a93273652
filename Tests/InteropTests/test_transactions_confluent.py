"""Transactions with confluent-kafka (librdkafka): an exactly-once consume-transform-produce loop
(init_transactions, send_offsets_to_transaction, commit, abort) with the broker SIGKILLed while
commit_transaction() is blocked in a thread — the commit then completes, or the client reports a
retriable, abortable or fatal error that the loop handles as librdkafka documents; either way the killed
transaction's records are visible all-or-nothing and the output holds every input exactly once,
consistent with the committed offsets — and the broker's abort of a transaction that outlived its
transaction.timeout.ms (a read_committed consumer is held at its first offset, then moves past it)."""
from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka import TopicPartition as TP

from conftest import TXN_BROKER_CONFIGS, unique
from runnel_interop import clients, records
from runnel_interop import txn as T
from runnel_interop.group_members import wait_until

pytestmark = pytest.mark.needs_broker
COUNT = 3000
KILL_AT_ATTEMPT = 4


def rewind(consumer: Consumer) -> None:
    """Back to the group's committed offsets (after an abort)."""
    assignment = consumer.assignment()
    for tp in consumer.committed(assignment, timeout=30):
        consumer.seek(TP(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else 0))


def kafka_error(e: BaseException) -> KafkaError | None:
    return e.args[0] if isinstance(e, KafkaException) and e.args and isinstance(e.args[0], KafkaError) else None


@pytest.mark.timeout(240)
def test_confluent_exactly_once_with_broker_killed_during_commit(fresh_broker):
    # librdkafka 2.16 re-bootstraps when its only broker goes away, and a group coordinator cached on a
    # decommissioned broker makes send_offsets_to_transaction() wait for the next broker state change,
    # ignoring its timeout (librdkafka issues #5511, #5456): with Kafka's 10-minute idle timeout that is
    # a 10-minute stall. Closing idle connections after 3 s gives the client that state change.
    b = fresh_broker({**TXN_BROKER_CONFIGS, "connections.max.idle.ms": 3000})
    src, dst, group, tid = unique("ck-eos-in"), unique("ck-eos-out"), unique("ck-eos"), unique("ck-tid")
    clients.create_topic(b.bootstrap, src, partitions=1)
    clients.create_topic(b.bootstrap, dst, partitions=1)
    produced = clients.confluent_produce(b.bootstrap, src, src, range(COUNT), config={"enable.idempotence": True})
    assert produced["acks"] == {i: (0, i) for i in range(COUNT)}

    consumer = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group, "isolation.level": "read_committed",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
                         "socket.timeout.ms": 10000, "fetch.wait.max.ms": 100})
    producer = T.confluent_txn_producer(b.bootstrap, tid)
    consumer.subscribe([src])
    attempts: dict[int, dict] = {}
    attempt = 0
    kill_outcome = None
    failures_in_a_row, last_error = 0, None
    summary = lambda: (f"{attempt} attempts, results {Counter(a.get('result') for a in attempts.values())}, "
                       f"kill outcome {kill_outcome}, last error {last_error}")
    deadline = time.monotonic() + 180
    try:
        while True:
            assert time.monotonic() < deadline, "the loop did not finish: " + summary()
            assert failures_in_a_row < 25, "25 transactions in a row failed: " + summary()
            msgs = [m for m in consumer.consume(500, 0.5) if m.error() is None]
            if not msgs:
                done = consumer.committed([TP(src, 0)], timeout=10)[0].offset
                if done == COUNT:
                    break
                continue
            attempt += 1
            attempts[attempt] = {"inputs": [m.offset() for m in msgs]}
            try:
                producer.begin_transaction()
                for m in msgs:
                    producer.produce(dst, key=m.key(), value=b"T:" + m.value(), partition=0,
                                     headers=[("src", f"{m.offset()}".encode()), ("attempt", str(attempt).encode())])
                producer.send_offsets_to_transaction(consumer.position(consumer.assignment()),
                                                     consumer.consumer_group_metadata(), 30)
                if attempt == KILL_AT_ATTEMPT:
                    producer.flush(30)  # the records are written; commit_transaction sends EndTxn at once
                    box: dict = {}

                    def commit():
                        try:
                            producer.commit_transaction(60)
                            box["ok"] = True
                        except BaseException as e:  # noqa: BLE001 - reported to the test thread
                            box["error"] = e
                    th = threading.Thread(target=commit, daemon=True)
                    th.start()
                    b.kill()
                    b.start()
                    th.join(90)
                    assert not th.is_alive(), "commit_transaction() still blocked 90 s after the broker restarted"
                    if "error" in box:
                        raise box["error"]
                    kill_outcome = "committed"
                else:
                    producer.commit_transaction(60)
                attempts[attempt]["result"] = "committed"
                failures_in_a_row = 0
            except KafkaException as e:
                err = kafka_error(e)
                assert err is not None, e
                last_error = str(err)
                failures_in_a_row += 1
                while err.retriable() and not err.txn_requires_abort() and not err.fatal():
                    assert time.monotonic() < deadline, f"commit kept failing with {err}: " + summary()
                    # A retriable commit error: commit_transaction() may be called again.
                    try:
                        producer.commit_transaction(60)
                        attempts[attempt]["result"] = "committed"
                        err = None
                        break
                    except KafkaException as again:
                        err = kafka_error(again)
                if err is None:
                    pass
                elif err.txn_requires_abort():
                    producer.abort_transaction(60)
                    attempts[attempt]["result"] = "aborted"
                    rewind(consumer)
                else:
                    assert err.fatal(), f"unexpected transaction error {err}: " + summary()
                    # Fatal: a new producer with the same transactional.id fences the old one and
                    # aborts its transaction if it is still open.
                    attempts[attempt]["result"] = f"fatal {err.name()}"
                    producer = T.confluent_txn_producer(b.bootstrap, tid)
                    rewind(consumer)
                if attempt == KILL_AT_ATTEMPT:
                    kill_outcome = attempts[attempt]["result"]
    finally:
        consumer.close()

    assert kill_outcome is not None, "the broker was never killed during a commit: " + summary()
    T.await_stable(b.port, dst)
    got = clients.confluent_consume(b.bootstrap, dst, config={"isolation.level": "read_committed"})
    ru = clients.confluent_consume(b.bootstrap, dst, config={"isolation.level": "read_uncommitted"})
    T.check_views(b.port, dst, 0, got, ru)
    header = lambda r, k: dict(r["h"])[k]
    by_attempt: dict[int, list[int]] = {}
    for r in got:
        by_attempt.setdefault(int(header(r, "attempt")), []).append(int(header(r, "src")))
    for a, info in attempts.items():
        visible = sorted(by_attempt.get(a, []))
        assert visible in ([], info["inputs"]), (f"attempt {a} ({info.get('result')}): {len(visible)} of "
                                                  f"{len(info['inputs'])} records visible; " + summary())
        if info.get("result") == "committed":
            assert visible == info["inputs"], f"attempt {a} committed but {len(visible)} records visible"
        if info.get("result") == "aborted":
            assert visible == [], f"attempt {a} aborted but {len(visible)} records visible"
    sources = sorted(int(header(r, "src")) for r in got)
    assert sources == list(range(COUNT)), (f"output is not every input exactly once: {len(sources)} records, "
                                           f"{len(set(sources))} distinct; " + summary())
    for r in got:
        i = int(header(r, "src"))
        assert (r["k"], r["v"]) == (records.key(src, i), "T:" + records.value(src, i, 100))
    check = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group})
    try:
        assert check.committed([TP(src, 0)], timeout=30)[0].offset == COUNT
    finally:
        check.close()


@pytest.mark.timeout(120)
def test_confluent_hanging_transaction_is_aborted_after_its_timeout(txn_broker):
    b = txn_broker
    t = unique("ck-timeout")
    clients.create_topic(b.bootstrap, t, partitions=1)
    clients.confluent_produce(b.bootstrap, t, t, range(0, 10), config={"enable.idempotence": True})
    timeout_ms = 5000
    hanging = T.confluent_txn_producer(b.bootstrap, unique("ck-hang"), **{"transaction.timeout.ms": timeout_ms})
    began = time.monotonic()
    hanging.begin_transaction()
    for i in range(10, 20):
        hanging.produce(t, key=records.key(t, i).encode(), value=records.value(t, i, 100).encode(), partition=0,
                        headers=[("idx", str(i).encode()), ("client", b"confluent")])
    assert hanging.flush(30) == 0
    clients.confluent_produce(b.bootstrap, t, t, range(20, 30), config={"enable.idempotence": True})
    try:
        # Held: the last stable offset is the hanging transaction's first offset, and a read_committed
        # consumer stops there while the transaction is open.
        if time.monotonic() - began < timeout_ms / 1000:
            assert T.list_offsets_v2(b.port, t, 0, isolation=1) == 10
            assert T.list_offsets_v2(b.port, t, 0, isolation=0) == 30
        held = clients.confluent_consume(b.bootstrap, t, config={"isolation.level": "read_committed"})
        if time.monotonic() - began < timeout_ms / 1000:
            T.verify_indices(held, t, range(10), "confluent")

        c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": unique("ck-timeout-g"), "isolation.level": "read_committed",
                      "enable.auto.commit": False, "fetch.wait.max.ms": 100})
        got: list[dict] = []
        try:
            c.assign([TP(t, 0, 0)])

            def past_it():
                for m in c.consume(100, 0.2):
                    assert m.error() is None, m.error()
                    got.append({"p": m.partition(), "o": m.offset(), "k": m.key().decode(), "v": m.value().decode(),
                                "h": [[k, v.decode()] for k, v in m.headers()]})
                return len(got) >= 20
            wait_until(past_it, 45, "the broker to abort the timed-out transaction (read_committed consumer to pass it)",
                       lambda: f"{len(got)} records so far")
        finally:
            c.close()
        elapsed = time.monotonic() - began
        assert elapsed >= timeout_ms / 1000, f"aborted after {elapsed:.1f}s, before transaction.timeout.ms"
        T.verify_indices(got, t, [*range(10), *range(20, 30)], None)
        fate = T.check_views(b.port, t, 0, got)
        assert fate["aborted"] == set(range(10, 20)) and not fate["open"], fate
        assert T.list_offsets_v2(b.port, t, 0, isolation=1) == T.list_offsets_v2(b.port, t, 0, isolation=0)
    finally:
        try:
            hanging.abort_transaction(5)
        except KafkaException:
            pass  # fenced by the broker's abort (its epoch was bumped): expected
