"""Transactions with the Java client 4.3 (KIP-98): a transactional producer commits and aborts; a
read_committed consumer gets exactly the committed records and a read_uncommitted one every data record
(control records are never delivered as data, checked against the raw log's markers); a second producer
with the same transactional.id fences the first (ProducerFencedException / InvalidProducerEpochException),
whose late writes never become visible; and the AdminClient's listTransactions, describeTransactions and
describeProducers show an open transaction and its partitions, then its completion."""
from __future__ import annotations

import pytest

from conftest import unique
from runnel_interop import clients
from runnel_interop import txn as T
from runnel_interop.group_members import wait_until

pytestmark = pytest.mark.needs_broker


@pytest.mark.timeout(180)
def test_java_commit_and_abort_read_committed_vs_read_uncommitted(txn_broker, java, tmp_path):
    b = txn_broker
    t = unique("txn-java-vis")
    clients.create_topic(b.bootstrap, t, partitions=1)
    plan = [(0, 100, "commit"), (100, 100, "abort"), (200, 100, "commit"), (300, 50, "abort"), (350, 50, "commit")]
    res = java.run("txn", {"mode": "produce", "bootstrap": b.bootstrap, "topic": t, "prefix": t, "partition": 0,
                           "transactionalId": unique("tid-vis"),
                           "transactions": [{"start": s, "count": n, "end": e} for s, n, e in plan]})
    assert [(tr["end"], tr["ok"], tr.get("error")) for tr in res["transactions"]] == [(e, True, None) for *_, e in plan]
    committed_idx = [i for s, n, e in plan if e == "commit" for i in range(s, s + n)]
    T.await_stable(b.port, t)  # the last commit's marker is written after commitTransaction() returns

    rc = T.java_read(java, b.bootstrap, t, tmp_path / "rc.jsonl", "read_committed")
    ru = T.java_read(java, b.bootstrap, t, tmp_path / "ru.jsonl", "read_uncommitted")
    T.verify_indices(rc, t, committed_idx, "java")
    T.verify_indices(ru, t, range(400), "java")
    fate = T.check_views(b.port, t, 0, rc, ru)
    # The log: five transactions of one producer, ended by markers in the order they were ended.
    batches, hw = T.read_log(b.port, t)
    txns = T.transactions(batches)
    assert [tx.marker for tx in txns] == [T.COMMIT_MARKER, T.ABORT_MARKER, T.COMMIT_MARKER, T.ABORT_MARKER,
                                          T.COMMIT_MARKER]
    assert len({tx.producer_id for tx in txns}) == 1
    assert (len(fate["committed"]), len(fate["aborted"]), len(fate["open"]), len(fate["plain"])) == (250, 150, 0, 0)
    assert hw == 405, f"400 records and 5 markers, high watermark {hw}"
    # With no open transaction the last stable offset is the high watermark.
    assert T.list_offsets_v2(b.port, t, 0, isolation=1) == hw


@pytest.mark.timeout(180)
def test_java_zombie_is_fenced_and_its_writes_never_become_visible(txn_broker, java, tmp_path):
    b = txn_broker
    t = unique("txn-java-fence")
    clients.create_topic(b.bootstrap, t, partitions=1)
    n = 20
    res = java.run("txn", {"mode": "fence", "bootstrap": b.bootstrap, "topic": t, "prefix": t, "partition": 0,
                           "count": n, "transactionalId": unique("tid-fence"), "requestTimeoutMs": 10000,
                           "maxBlockMs": 20000, "deliveryTimeoutMs": 30000})
    assert res.get("successorInitialized") and res.get("successorCommitted"), res
    seen = f"send: {res['zombieSendError']}; commit: {res['zombieCommitError']}"
    assert res["zombieCommitError"] is not None, f"the fenced producer committed ({seen})"
    assert "ProducerFencedException" in seen or "InvalidProducerEpochException" in seen, seen
    T.await_stable(b.port, t)

    rc = T.java_read(java, b.bootstrap, t, tmp_path / "rc.jsonl", "read_committed")
    ru = T.java_read(java, b.bootstrap, t, tmp_path / "ru.jsonl", "read_uncommitted")
    T.verify_indices(rc, t, range(2 * n, 3 * n), "successor")
    fate = T.check_views(b.port, t, 0, rc, ru)
    zombie_offsets = {r["o"] for r in ru if ["client", "zombie"] in r["h"]}
    # The zombie's first records were written before it was fenced; the successor's initTransactions
    # aborted them. Nothing it wrote is committed or still open.
    assert len(zombie_offsets) >= n
    assert zombie_offsets <= fate["aborted"], f"zombie records not aborted: {sorted(zombie_offsets - fate['aborted'])[:5]}"


@pytest.mark.timeout(180)
def test_java_admin_lists_and_describes_an_open_transaction(txn_broker, java, tmp_path):
    b = txn_broker
    t = unique("txn-java-admin")
    clients.create_topic(b.bootstrap, t, partitions=3)
    tid = unique("tid-admin")
    stop = tmp_path / "stop"
    app = T.LineProcess(java.command("txn", {
        "mode": "produce", "bootstrap": b.bootstrap, "topic": t, "prefix": t, "transactionalId": tid,
        "transactionTimeoutMs": 60000, "stopFile": str(stop), "hangEnd": "commit",
        "transactions": [{"start": 0, "count": 60, "end": "hang"}]}), "java txn produce")
    try:
        app.wait_line("OPEN", timeout=60)

        def admin(*ops):
            out = java.run("admin", {"bootstrap": b.bootstrap, "ops": list(ops)})["results"]
            for r in out:
                assert r["ok"], r
            return [r["result"] for r in out]

        listed, ongoing, described = admin({"op": "listTransactions"},
                                           {"op": "listTransactions", "states": ["Ongoing"]},
                                           {"op": "describeTransactions", "transactionalId": tid})
        mine = [x for x in listed if x["transactionalId"] == tid]
        assert len(mine) == 1 and mine[0]["state"] == "Ongoing", listed
        assert tid in {x["transactionalId"] for x in ongoing}
        assert all(x["state"] == "Ongoing" for x in ongoing), ongoing
        pid = mine[0]["producerId"]
        assert described["state"] == "Ongoing" and described["producerId"] == pid, described
        assert described["transactionTimeoutMs"] == 60000
        assert described["transactionStartTimeMs"] is not None and described["transactionStartTimeMs"] > 0
        # The partitions the records went to (the keys spread them) are the transaction's partitions.
        written = sorted({f"{t}:{p}" for p, _ in _acks_from_log(b, t, 3)})
        assert described["partitions"] == written, (described["partitions"], written)

        for spec in written:
            p = int(spec.rsplit(":", 1)[1])
            [producers] = admin({"op": "describeProducers", "topic": t, "partition": p})
            ours = [x for x in producers if x["producerId"] == pid]
            assert len(ours) == 1, producers
            first = min(o for q, o in _acks_from_log(b, t, 3) if q == p)
            assert ours[0]["currentTransactionStartOffset"] == first, ours

        stop.touch()
        assert app.finish(60) == 0, app.tail()
        # commitTransaction() returns once the decision is logged (PrepareCommit); the coordinator
        # completes the transaction when the markers are written.
        last: list = []

        def completed():
            last[:] = admin({"op": "describeTransactions", "transactionalId": tid})
            return last[0]["state"] == "CompleteCommit"
        wait_until(completed, 30, "the transaction to complete", lambda: str(last))
        assert last[0]["partitions"] == [], last
        [after_list] = admin({"op": "listTransactions", "states": ["Ongoing"]})
        assert tid not in {x["transactionalId"] for x in after_list}
        for spec in written:
            [producers] = admin({"op": "describeProducers", "topic": t, "partition": int(spec.rsplit(":", 1)[1])})
            assert [x["currentTransactionStartOffset"] for x in producers if x["producerId"] == pid] == [None]
    finally:
        app.kill()


def _acks_from_log(b, topic: str, partitions: int) -> list[tuple[int, int]]:
    """(partition, offset) of every transactional data record in the topic's raw log."""
    out = []
    for p in range(partitions):
        batches, _ = T.read_log(b.port, topic, p)
        out += [(p, o) for bt in batches if bt.transactional and not bt.control for o in T.data_offsets(bt)]
    return out


@pytest.mark.timeout(180)
@pytest.mark.parametrize("level", [2, 1])
def test_java_uses_transactions_v2_only_when_the_broker_finalizes_it(fresh_broker, java, level):
    """`transaction.version` decides the protocol the Java client speaks: with 2 it sends no
    AddPartitionsToTxn and ends with EndTxn v5 (epoch bumped per transaction, visible in the batches);
    with 1 the classic protocol (AddPartitionsToTxn, EndTxn v4, one epoch)."""
    from runnel_interop import metrics as M
    from conftest import TXN_BROKER_CONFIGS
    b = fresh_broker(configs={**TXN_BROKER_CONFIGS, **M.metrics_configs(), "transaction.version": level})
    t = unique(f"txn-java-tv{level}")
    clients.create_topic(b.bootstrap, t, partitions=1)
    plan = [(0, 30, "commit"), (30, 30, "abort"), (60, 30, "commit")]
    res = java.run("txn", {"mode": "produce", "bootstrap": b.bootstrap, "topic": t, "prefix": t, "partition": 0,
                           "transactionalId": unique("tid-tv"),
                           "transactions": [{"start": s, "count": n, "end": e} for s, n, e in plan]})
    assert [(tr["end"], tr["ok"]) for tr in res["transactions"]] == [(e, True) for *_, e in plan]
    T.await_stable(b.port, t)
    samples = M.Samples(M.get(b)[2])
    adds = samples.value("runnel_requests_total", api="AddPartitionsToTxn", version="3") or 0
    ends_v5 = samples.value("runnel_requests_total", api="EndTxn", version="5") or 0
    batches = T.read_log(b.port, t)[0]
    txns = T.transactions(batches)
    assert [tx.marker for tx in txns] == [T.COMMIT_MARKER, T.ABORT_MARKER, T.COMMIT_MARKER]
    data_epochs = [sorted({d.producer_epoch for d in tx.data_batches}) for tx in txns]
    marker_epochs = [bt.producer_epoch for bt in batches if bt.control]
    if level == 2:
        assert adds == 0 and ends_v5 == 3, (adds, ends_v5)
        # Each transaction at its own epoch, ended by a marker at the next one.
        first = data_epochs[0][0]
        assert data_epochs == [[first], [first + 1], [first + 2]], data_epochs
        assert marker_epochs == [first + 1, first + 2, first + 3], marker_epochs
    else:
        assert adds >= 3 and ends_v5 == 0, (adds, ends_v5)
        assert len({e for es in data_epochs for e in es} | set(marker_epochs)) == 1, (data_epochs, marker_epochs)
