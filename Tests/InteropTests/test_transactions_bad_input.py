"""Raw transactional requests the broker must refuse with Kafka's exact error codes (checked in Kafka's
KafkaApis / TransactionCoordinator / AddPartitionsToTxnManager):
- a batch with the transactional attribute in a Produce without a transactional id:
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53), nothing appended;
- EndTxn (commit or abort) for a transactional id with no open transaction: INVALID_TXN_STATE (48);
- EndTxn / AddPartitionsToTxn with a stale producer epoch: PRODUCER_FENCED (90) from v2, the older
  INVALID_PRODUCER_EPOCH (47) in v0/v1;
- a transactional Produce (v8) to a partition not added to the transaction: INVALID_TXN_STATE (48)
  (TRANSACTION_ABORTABLE is translated for Produce v10 and older), while the added partition accepts it;
- InitProducerId with transaction.timeout.ms above transaction.max.timeout.ms: INVALID_TRANSACTION_TIMEOUT
  (50); with an empty transactional id: INVALID_REQUEST (42)."""
from __future__ import annotations

import pytest

from conftest import TXN_BROKER_CONFIGS, unique
from runnel_interop import clients
from runnel_interop import txn as T

pytestmark = pytest.mark.needs_broker


@pytest.fixture
def conn(txn_broker):
    c = T.TxnConnection(txn_broker.port)
    yield c
    c.close()


def batch(pid: int, epoch: int, seq: int = 0, n: int = 3) -> bytes:
    return T.transactional_batch([(f"k{i}".encode(), f"v{i}".encode(), []) for i in range(n)], pid, epoch, seq)


def ready(conn, tid: str) -> dict:
    res = conn.init_until_ready(tid)
    assert res["error"] == T.NONE, res
    return res


@pytest.mark.timeout(60)
def test_find_coordinator_for_a_transactional_id(txn_broker, conn):
    res = conn.find_coordinator(unique("bad-tid"))
    for _ in range(100):  # while the transaction log loads
        if res["error"] not in T.RETRIABLE:
            break
        res = conn.find_coordinator(unique("bad-tid"))
    assert res["error"] == T.NONE and res["port"] == txn_broker.port, res


@pytest.mark.timeout(60)
def test_transactional_batch_without_transactional_id_is_refused(txn_broker, conn):
    t = unique("bad-txn-noid")
    clients.create_topic(txn_broker.bootstrap, t, partitions=1)
    idem = conn.init_producer_id(None)
    assert idem["error"] == T.NONE and idem["producer_id"] >= 0, idem
    res = conn.produce(t, 0, batch(idem["producer_id"], idem["producer_epoch"]), transactional_id=None)
    assert res["error"] == T.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, res
    assert T.read_log(txn_broker.port, t)[1] == 0, "the refused batch was appended"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("commit", [True, False])
def test_end_txn_without_a_transaction_is_invalid_txn_state(conn, commit):
    tid = unique("bad-txn-end")
    p = ready(conn, tid)
    assert conn.end_txn(tid, p["producer_id"], p["producer_epoch"], commit=commit) == T.INVALID_TXN_STATE


@pytest.mark.timeout(60)
@pytest.mark.parametrize("version,expected", [(0, T.INVALID_PRODUCER_EPOCH), (1, T.INVALID_PRODUCER_EPOCH),
                                              (2, T.PRODUCER_FENCED)])
def test_stale_epoch_is_fenced_per_version(txn_broker, conn, version, expected):
    t = unique("bad-txn-epoch")
    clients.create_topic(txn_broker.bootstrap, t, partitions=1)
    tid = unique("bad-txn-epoch-tid")
    first = ready(conn, tid)
    second = ready(conn, tid)
    assert second["producer_id"] == first["producer_id"] and second["producer_epoch"] == first["producer_epoch"] + 1
    pid, stale = first["producer_id"], first["producer_epoch"]
    assert conn.end_txn(tid, pid, stale, commit=True, version=version) == expected
    assert conn.add_partitions(tid, pid, stale, t, [0], version=min(version, 2)) == {0: expected}
    # The current epoch still works.
    assert conn.add_partitions(tid, pid, second["producer_epoch"], t, [0]) == {0: T.NONE}
    assert conn.end_txn(tid, pid, second["producer_epoch"], commit=False) == T.NONE


@pytest.mark.timeout(60)
def test_produce_to_a_partition_not_in_the_transaction_is_invalid_txn_state(txn_broker, conn):
    t = unique("bad-txn-notadded")
    clients.create_topic(txn_broker.bootstrap, t, partitions=2)
    tid = unique("bad-txn-notadded-tid")
    p = ready(conn, tid)
    pid, epoch = p["producer_id"], p["producer_epoch"]
    # No transaction at all yet.
    assert conn.produce(t, 0, batch(pid, epoch), transactional_id=tid)["error"] == T.INVALID_TXN_STATE
    assert conn.add_partitions(tid, pid, epoch, t, [0]) == {0: T.NONE}
    # Partition 1 was not added; partition 0 was.
    assert conn.produce(t, 1, batch(pid, epoch), transactional_id=tid)["error"] == T.INVALID_TXN_STATE
    ok = conn.produce(t, 0, batch(pid, epoch), transactional_id=tid)
    assert (ok["error"], ok["base_offset"]) == (T.NONE, 0), ok
    assert conn.end_txn(tid, pid, epoch, commit=False) == T.NONE
    T.await_stable(txn_broker.port, t, (0, 1))  # EndTxn is answered before the markers are written
    for part in (0, 1):
        fate = T.classify(T.read_log(txn_broker.port, t, part)[0])
        assert fate["aborted"] == ({0, 1, 2} if part == 0 else set()), (part, fate)
        assert not fate["committed"] and not fate["open"] and not fate["plain"]


@pytest.mark.timeout(60)
def test_init_producer_id_with_timeout_over_the_maximum(conn):
    over = TXN_BROKER_CONFIGS["transaction.max.timeout.ms"] + 1
    for version in (0, 1):
        res = conn.init_producer_id(unique("bad-txn-timeout"), timeout_ms=over, version=version)
        assert res["error"] == T.INVALID_TRANSACTION_TIMEOUT, res
    assert ready(conn, unique("bad-txn-timeout-ok"))["producer_id"] >= 0


@pytest.mark.timeout(60)
def test_init_producer_id_with_empty_transactional_id(conn):
    res = conn.init_producer_id("")
    assert res["error"] == T.INVALID_REQUEST, res
    assert (res["producer_id"], res["producer_epoch"]) == (-1, -1)
