"""The history checker (runnel_interop/history.py) on synthetic histories: no broker needed.
Each anomaly is detected (and only it), a clean history passes, examples tell the value's story."""
from __future__ import annotations

import threading

import pytest

from runnel_interop.history import ANOMALIES, History


def clean(n: int = 6, partitions: int = 2, idempotent: bool = True) -> History:
    """Producer p1 (idempotent) sends n values round-robin over partitions; all acked, all read
    by consumer c1 during the run and by the final read, at the acknowledged offsets."""
    h = History()
    h.producer("p1", idempotent=idempotent)
    next_offset = [0] * partitions
    for i in range(n):
        v = f"p1-{i}"
        p = i % partitions
        h.send("p1", v, partition=p)
        h.ack(v, p, next_offset[p])
        h.read("c1", p, next_offset[p], v)
        next_offset[p] += 1
    return h


def finish(h: History) -> History:
    """The final read = exactly what was acknowledged."""
    for s in h.sends.values():
        if s.ack is not None:
            h.final(s.ack[0], s.ack[1], s.value)
    h.final_complete()
    return h


def only(report, kind: str, n: int = 1) -> None:
    assert report.anomalies() == {kind: n}, str(report)
    assert not report.ok
    assert report.examples[kind] and f"\n{kind.upper()}: {n}\n" in str(report)


def test_clean_history_passes():
    r = finish(clean()).check()
    assert r.ok, str(r)
    assert r.anomalies() == {}
    assert (r.counts["sent"], r.counts["acked"], r.counts["failed"], r.counts["reads"], r.counts["final"]) == (6, 6, 0, 6, 6)
    assert "6 sent, 6 acked, 0 failed, 0 unresolved" in str(r)


def test_definite_and_indefinite_failures_absent_from_the_final_read_are_fine():
    h = clean()
    h.send("p1", "p1-x")
    h.fail("p1-x", "NOT_ENOUGH_REPLICAS", definite=True)
    h.send("p1", "p1-y")
    h.fail("p1-y", "_MSG_TIMED_OUT", definite=False)
    r = finish(h).check()
    assert r.ok, str(r)
    assert r.counts["failed"] == 2


def test_an_indefinite_failure_present_in_the_final_read_is_fine():
    h = clean()
    h.send("p1", "p1-x", partition=0)
    h.fail("p1-x", "_MSG_TIMED_OUT", definite=False)
    finish(h)
    h.final(0, 3, "p1-x")
    assert h.check().ok


def test_lost_acknowledged_record_absent_from_the_final_read():
    h = clean()
    h.sends["p1-3"].ack = None  # (rebuild: ack p1-3 but leave it out of the final read)
    h.sends["p1-3"].acks = []
    finish(h)
    h.ack("p1-3", 1, 1)
    # The final read has nothing at p1@1 (past the end), and p1-3 nowhere.
    h.reads = [r for r in h.reads if r[3] != "p1-3"]
    r = h.check()
    only(r, "lost")
    assert "LOST 'p1-3'" in r.examples["lost"][0] and "acked p1@1" in r.examples["lost"][0]
    assert "final: absent" in r.examples["lost"][0]


def test_lost_is_not_claimed_without_a_complete_final_read():
    h = clean()
    r = h.check()  # no final read at all
    assert r.counts["lost"] == 0 and r.counts["phantom"] == 0
    assert "INCOMPLETE" in r.summary


def test_lost_and_overwritten_is_lost_and_inconsistent():
    # p1-1 acked at p1@0, after a failover the new leader has p1-5 at p1@0 and p1-1 nowhere.
    h = History()
    h.producer("p1", idempotent=False)
    h.send("p1", "p1-1")
    h.ack("p1-1", 1, 0)
    h.send("p1", "p1-5")
    h.ack("p1-5", 1, 0)  # two acks at one offset: the stale leader's and the new one's
    h.final(1, 0, "p1-5")
    h.final_complete()
    r = h.check()
    assert r.anomalies() == {"lost": 1, "inconsistent": 1}, str(r)
    assert "final read has 'p1-5' there" in r.examples["inconsistent"][0]


def test_duplicated_in_the_final_read():
    h = finish(clean(idempotent=False))
    h.final(0, 3, "p1-2")  # p1-2 also at p0@1
    r = h.check()
    only(r, "duplicated")
    assert "at 2 offsets in the final read [(0, 1), (0, 3)]" in r.examples["duplicated"][0]


def test_a_duplicate_from_an_idempotent_producer_is_also_out_of_order():
    h = finish(clean())
    h.final(0, 3, "p1-2")  # after p1-4 at p0@2: #2 after #4
    r = h.check()
    assert r.anomalies() == {"duplicated": 1, "reordered": 1}, str(r)


def test_duplicated_acknowledgements_at_two_offsets():
    h = finish(clean())
    h.ack("p1-4", 0, 7)  # acked again elsewhere; the final read only has it at p0@2
    r = h.check()
    assert r.counts["duplicated"] == 1, str(r)
    assert "acknowledged at 2 positions" in r.examples["duplicated"][0]


def test_duplicated_in_consumer_reads_only():
    h = finish(clean())
    h.read("c2", 0, 5, "p1-0")  # a consumer saw p1-0 at p0@5 too; the final read has nothing there
    r = h.check()
    # Seen at two offsets (duplicate) and at an offset the final read does not confirm (phantom).
    assert r.anomalies() == {"duplicated": 1, "phantom": 1}, str(r)


def test_reordered_in_the_final_read_for_an_idempotent_producer():
    h = clean(n=4, partitions=1)
    finish(h)
    # Swap p1-1 and p1-2 in the final read, acks unchanged.
    h.finals[0][1], h.finals[0][2] = "p1-2", "p1-1"
    h.reads = []
    r = h.check()
    assert r.counts["reordered"] == 1, str(r)
    assert "final read has #2 'p1-2' at 1 before #1 'p1-1' at 2" in r.examples["reordered"][0]
    assert r.counts["inconsistent"] == 2  # and each was acked where the other now is


def test_reordered_acknowledgements():
    h = History()
    h.producer("p1", idempotent=True)
    for i, off in enumerate([0, 2, 1]):
        h.send("p1", f"p1-{i}")
        h.ack(f"p1-{i}", 0, off)
    h.final(0, 0, "p1-0")
    h.final(0, 1, "p1-2")
    h.final(0, 2, "p1-1")
    h.final_complete()
    r = h.check()
    assert r.anomalies() == {"reordered": 2}, str(r)   # once in the final read, once among the acks
    assert any("#1 'p1-1' acked at 2 but later #2 'p1-2' acked at 1" in e for e in r.examples["reordered"])


def test_reordering_is_not_checked_for_non_idempotent_producers():
    h = History()
    h.producer("p1", idempotent=False)
    for i, off in enumerate([1, 0]):
        h.send("p1", f"p1-{i}")
        h.ack(f"p1-{i}", 0, off)
        h.final(0, off, f"p1-{i}")
    h.final_complete()
    assert h.check().ok


def test_reordering_is_per_producer_and_partition():
    h = History()
    h.producer("a", idempotent=True)
    h.producer("b", idempotent=True)
    # Interleaved producers and partitions: each producer's own order per partition holds.
    layout = [("a", 0, 0), ("b", 0, 1), ("a", 1, 0), ("a", 0, 2), ("b", 1, 1), ("b", 0, 3)]
    for i, (prod, p, o) in enumerate(layout):
        v = f"{prod}-{i}"
        h.send(prod, v)
        h.ack(v, p, o)
        h.final(p, o, v)
    h.final_complete()
    assert h.check().ok, str(h.check())


def test_phantom_read_then_gone():
    h = clean()
    h.send("p1", "p1-z", partition=0)          # never acknowledged (timed out)...
    h.fail("p1-z", "_MSG_TIMED_OUT", definite=False)
    h.read("c1", 0, 3, "p1-z")                 # ...but a consumer saw it at p0@3...
    finish(h)                                  # ...and the final read does not have it
    r = h.check()
    only(r, "phantom")
    assert "c1 read p0@3" in r.examples["phantom"][0] and "final read has nothing there" in r.examples["phantom"][0]


def test_phantom_read_then_replaced():
    h = finish(clean())
    h.send("p1", "p1-z")
    h.fail("p1-z", "_MSG_TIMED_OUT")
    h.read("c1", 0, 1, "p1-z")                 # the final read has p1-2 at p0@1
    r = h.check()
    only(r, "phantom")
    assert "final read has 'p1-2' there" in r.examples["phantom"][0]


def test_reading_the_same_offset_twice_is_not_an_anomaly():
    h = clean()
    h.read("c2", 0, 0, "p1-0")   # redelivery after a rebalance: same value, same offset
    assert finish(h).check().ok


def test_inconsistent_offset():
    h = clean(n=4, partitions=1)
    finish(h)
    h.ack("p1-3", 0, 3)  # (already acked at 3: no change)
    h.sends["p1-3"].ack = (0, 2)  # the broker said p0@2, the final read has it at p0@3
    h.sends["p1-3"].acks = [(0, 2)]
    h.reads = []
    r = h.check()
    assert r.counts["inconsistent"] == 1, str(r)
    assert "acked at p0@2, final read has 'p1-2' there" in r.examples["inconsistent"][0]
    assert r.counts["lost"] == 0


def test_two_values_at_one_offset_in_the_final_read():
    h = finish(clean())
    h.final(0, 0, "p1-4")
    r = h.check()
    assert r.counts["inconsistent"] >= 1
    assert any("two values at p0@0" in e for e in r.examples["inconsistent"])


def test_unexpected_value_read():
    h = clean()
    h.read("c1", 1, 3, "nobody-1")
    finish(h)
    h.final(1, 3, "nobody-1")
    r = h.check()
    only(r, "unexpected")
    assert "'nobody-1' read at [(1, 3)] but never sent" in r.examples["unexpected"][0]


def test_definite_failure_present_in_the_final_read():
    h = clean()
    h.send("p1", "p1-x")
    h.fail("p1-x", "NOT_ENOUGH_REPLICAS", definite=True)
    finish(h)
    h.final(0, 3, "p1-x")
    r = h.check()
    only(r, "failed_present")
    assert "NOT_ENOUGH_REPLICAS" in r.examples["failed_present"][0]


def test_unresolved_send():
    h = clean()
    h.send("p1", "p1-u")
    r = finish(h).check()
    only(r, "unresolved")
    assert "UNRESOLVED 'p1-u'" in r.examples["unresolved"][0]


def test_values_must_be_unique():
    h = History()
    h.send("p1", "v")
    with pytest.raises(ValueError):
        h.send("p2", "v")


def test_examples_are_bounded_and_name_the_faults_nearby():
    h = History(max_examples=3)
    h.producer("p1", idempotent=True)
    h.fault("kill -9 node 2 (leader of p0)")
    for i in range(10):
        h.send("p1", f"p1-{i}", partition=0)
        h.ack(f"p1-{i}", 0, i)
    h.final_complete()  # an empty final read: all ten lost
    r = h.check()
    assert r.counts["lost"] == 10
    assert len(r.examples["lost"]) == 4 and r.examples["lost"][-1] == "... and 7 more"
    assert "kill -9 node 2 (leader of p0)" in r.examples["lost"][0]
    assert "timeline:" in r.summary and "kill -9 node 2" in r.summary


def test_every_anomaly_kind_is_reported_in_one_history():
    h = History()
    h.producer("p", idempotent=True)
    # lost
    h.send("p", "p-0"); h.ack("p-0", 0, 0)
    # duplicated + reordered: p-1, p-2 acked 1, 2; final has p-2 at 1, p-1 at 2 and 3
    h.send("p", "p-1"); h.ack("p-1", 0, 1)
    h.send("p", "p-2"); h.ack("p-2", 0, 2)
    h.final(0, 1, "p-2"); h.final(0, 2, "p-1"); h.final(0, 3, "p-1")
    # phantom
    h.send("p", "p-3"); h.fail("p-3", "timeout"); h.read("c", 0, 9, "p-3")
    # unexpected, failed_present, unresolved
    h.final(0, 4, "ghost")
    h.send("p", "p-4"); h.fail("p-4", "NOT_ENOUGH_REPLICAS", definite=True); h.final(0, 5, "p-4")
    h.send("p", "p-5")
    h.final_complete()
    r = h.check()
    assert set(r.anomalies()) == set(ANOMALIES), str(r)


def test_recording_is_thread_safe():
    h = History()
    h.producer("t", idempotent=False)

    def work(k: int) -> None:
        for i in range(500):
            v = f"t{k}-{i}"
            h.send(f"t{k}", v)
            h.ack(v, k, i)
            h.read("c", k, i, v)
            h.final(k, i, v)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    h.final_complete()
    r = h.check()
    assert r.ok, str(r)
    assert r.counts["sent"] == 2000 and r.counts["final"] == 2000
