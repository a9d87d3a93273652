"""A committed transaction survives a crash while its producer starts the next one (decision 0021).

Over the raw wire (so the moment of the kill is chosen, not left to a client's timing), each round
commits a transaction T1 in three partitions and then starts T2, whose first AddPartitionsToTxn arrives
while T1's markers and completion may still be in flight, and SIGKILLs the broker at one of three
moments: with T2's AddPartitionsToTxn sent but not answered, right after it is answered, and after T2's
batches are written in every partition. After each restart a new InitProducerId of the same
transactional id fences T2 (aborting it if it was open). In the end no transaction is open (the last
stable offset reaches the high watermark in every partition), every T1 is committed and readable by a
read_committed consumer, and no record of any T2 is: a crash never lets the next transaction's data
be ended by the previous transaction's markers."""
from __future__ import annotations

import threading

import pytest

from conftest import TXN_BROKER_CONFIGS, unique
from runnel_interop import clients
from runnel_interop import txn as T

pytestmark = pytest.mark.needs_broker
PARTITIONS = [0, 1, 2]
KILL_POINTS = ["add_in_flight", "added", "data_written"]


def produce_txn(conn: T.TxnConnection, tid: str, pid: int, epoch: int, topic: str, tag: str,
                sequences: dict[int, int], count: int = 5) -> dict[int, range]:
    """One transactional batch of `count` records per partition; returns the offsets written."""
    written = {}
    for p in PARTITIONS:
        records = [(None, f"{tag}-p{p}-{i}".encode(), []) for i in range(count)]
        res = conn.produce(topic, p, T.transactional_batch(records, pid, epoch, sequences[p]), tid)
        assert res["error"] == 0, f"{tag}: produce to partition {p} answered {res}"
        sequences[p] += count
        written[p] = range(res["base_offset"], res["base_offset"] + count)
    return written


@pytest.mark.timeout(240)
def test_a_commit_survives_a_kill_while_the_next_transaction_starts(fresh_broker):
    b = fresh_broker(TXN_BROKER_CONFIGS)
    topic, tid = unique("txn-next-kill"), unique("txn-next-kill-tid")
    clients.create_topic(b.bootstrap, topic, partitions=len(PARTITIONS))
    committed: dict[int, set[int]] = {p: set() for p in PARTITIONS}
    committed_values: set[str] = set()
    for round_index, kill_point in enumerate(KILL_POINTS * 2):
        conn = T.TxnConnection(b.port)
        ready = conn.init_until_ready(tid, timeout_ms=60000)
        assert ready["error"] == 0, f"round {round_index}: InitProducerId answered {ready}"
        pid, epoch = ready["producer_id"], ready["producer_epoch"]
        sequences = {p: 0 for p in PARTITIONS}

        # T1: committed before the kill.
        assert set(conn.add_partitions(tid, pid, epoch, topic, PARTITIONS).values()) == {0}
        written = produce_txn(conn, tid, pid, epoch, topic, f"r{round_index}-t1", sequences)
        assert conn.end_txn(tid, pid, epoch, commit=True) == 0
        for p, offsets in written.items():
            committed[p].update(offsets)
        committed_values.update(f"r{round_index}-t1-p{p}-{i}" for p in PARTITIONS for i in range(5))

        # T2 starts at once; the broker is killed at the chosen moment.
        if kill_point == "add_in_flight":
            pending = threading.Thread(target=lambda: _ignore_disconnect(
                lambda: conn.add_partitions(tid, pid, epoch, topic, PARTITIONS)), daemon=True)
            pending.start()
            b.kill()
            pending.join(20)
            assert not pending.is_alive(), "AddPartitionsToTxn still blocked after the broker died"
        else:
            answer = conn.add_partitions(tid, pid, epoch, topic, PARTITIONS)
            assert set(answer.values()) == {0}, f"round {round_index}: the next AddPartitionsToTxn answered {answer}"
            if kill_point == "data_written":
                produce_txn(conn, tid, pid, epoch, topic, f"r{round_index}-t2", sequences)
            b.kill()
        conn.close()
        b.start()

    # The last T2 may still be open: a new producer of the id fences and aborts it, as after every kill.
    final = T.TxnConnection(b.port)
    try:
        assert final.init_until_ready(tid, timeout_ms=60000)["error"] == 0
    finally:
        final.close()
    T.await_stable(b.port, topic, partitions=PARTITIONS, timeout=60)
    got = clients.confluent_consume(b.bootstrap, topic, partitions=PARTITIONS,
                                    config={"isolation.level": "read_committed"})
    ru = clients.confluent_consume(b.bootstrap, topic, partitions=PARTITIONS,
                                   config={"isolation.level": "read_uncommitted"})
    for p in PARTITIONS:
        fate = T.check_views(b.port, topic, p, got, ru)
        assert not fate["open"], f"partition {p}: a transaction is still open at offsets {sorted(fate['open'])[:5]}"
        assert committed[p] <= fate["committed"], (
            f"partition {p}: committed records not committed in the log: {sorted(committed[p] - fate['committed'])[:5]}")
        # The crash may leave a prepared commit whose markers are written again on load: a second,
        # harmless marker. What matters is that no record of a T2 is committed.
        assert fate["committed"] == committed[p], (
            f"partition {p}: records of a next transaction were committed: {sorted(fate['committed'] - committed[p])[:5]}")
    values = {r["v"] for r in got}
    assert values == committed_values, (f"read_committed: missing {sorted(committed_values - values)[:5]}, "
                                        f"extra {sorted(values - committed_values)[:5]}")
    assert len(got) == len(committed_values), "read_committed delivered a record twice"


def _ignore_disconnect(call) -> None:
    try:
        call()
    except (ConnectionError, OSError, TimeoutError):
        pass  # the broker was killed while the request was in flight
