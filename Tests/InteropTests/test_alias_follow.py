"""Running consumers follow an alias swap (issue 15, docs/kappa.md "Running consumers"): a Java consumer
and a librdkafka (confluent-kafka) consumer in one group (eager `range` assignor) read the alias
`serving` -> v1 while both outputs keep growing; `runnel alias swap serving --to v2 --translate-offsets
--group G` runs while they read. The swap holds v2 for the members until they are assigned it again, fences the group's
generation (their revoke-time commits of v1 positions are refused) and commits the translated offsets in
the same coordinator step; their fetches by v1's id (learned through the alias) get UNKNOWN_TOPIC_ID; the
members rejoin, drop their positions and read v2 from the translated offsets. A reader of v1 itself, in
another group, reads all of v1 undisturbed. (Cooperative assignors and kafka-python, which keep positions across
a rebalance: test_alias_follow_positions.py.)

v2 is the reprocessed output from event M on, so offsets differ between the targets (v2 offset k is
event k + M): a consumer that went on in v2 from its v1 position would skip M events, which the
at-least-once check below catches."""
from __future__ import annotations

import threading
import time

import pytest

import cli_support as cli
from conftest import unique
from runnel_interop import clients
from runnel_interop.group_members import committed, confluent_member, java_member, wait_until

from confluent_kafka import Producer

pytestmark = pytest.mark.needs_broker

PARTITIONS = 2
M = 100          # v2 starts at event M (a replay from a mid-point): v2 offset k is event k + M
PREFILL = 300    # events 0..PREFILL-1 exist before the consumers start
RATE = 40        # events per second per partition afterwards


class TwoOutputs:
    """Writes event i of every partition to v1 ("v1:i") and, from M on, to v2 ("v2:i"), with the same
    timestamp in both (T0 + 10 ms * i): the prefill at once, then RATE events/s per partition in a
    background thread until stopped."""

    def __init__(self, bootstrap: str, v1: str, v2: str):
        self.v1, self.v2 = v1, v2
        self.t0 = int(time.time() * 1000) - 3_600_000
        self.next = 0
        self.errors: list[str] = []
        # Idempotent: v2 offset k must stay event k + M even when a test restarts the broker with SIGKILL (a
        # batch written and synced whose answer was lost is retried; without idempotence it lands twice).
        self._p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all", "message.timeout.ms": 30000,
                            "enable.idempotence": True})
        self._emit(PREFILL)
        assert self._p.flush(30) == 0 and not self.errors, self.errors[:5]
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _cb(self, err, _msg):
        if err is not None:
            self.errors.append(str(err))

    def _emit(self, upto: int) -> None:
        while self.next < upto:
            i, ts = self.next, self.t0 + 10 * self.next
            for p in range(PARTITIONS):
                self._p.produce(self.v1, value=f"v1:{i}".encode(), partition=p, timestamp=ts, on_delivery=self._cb)
                if i >= M:
                    self._p.produce(self.v2, value=f"v2:{i}".encode(), partition=p, timestamp=ts, on_delivery=self._cb)
            self.next += 1
        self._p.poll(0)

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.wait(0.02):  # pacing tick of the background producer
            self._emit(PREFILL + int((time.monotonic() - start) * RATE))

    def stop(self) -> int:
        """Stops producing; returns the number of events written (all acknowledged)."""
        self._stop.set()
        self._t.join(10)
        assert self._p.flush(30) == 0 and not self.errors, self.errors[:5]
        return self.next


def reads(member) -> list[tuple[int, str, int, int]]:
    """(partition, target, event, offset) per consumed record, in the member's order."""
    out = []
    if not member.out_path.exists():
        return out
    for line in member.out_path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 4:  # topic partition offset value
            target, event = parts[3].split(":")
            out.append((int(parts[1]), target, int(event), int(parts[2])))
    return out


def swap_while_reading(b, runnel_bin, v1, v2, alias, group, outputs, members, read, detail, on_swap=lambda: None,
                       after_swap=lambda: None):
    """Waits until every member reads v1 past the prefill, swaps with --translate-offsets while they
    run, produces four more seconds, and waits until the group read v2 to its end. Returns the
    translated offsets and the number of events written (`on_swap` is called just before the swap,
    `after_swap` right after it)."""
    wait_until(lambda: all(m.owned() for m in members) and all(
        any(t == "v1" and e >= PREFILL for _, t, e, _ in read(m)) for m in members), 90,
        "every member reading v1 past the prefill", detail)
    # ...and the group committed past v2's start in every partition (else it starts v2 at its beginning).
    port = int(b.rsplit(":", 1)[1])
    wait_until(lambda: all(o > M for o in committed(port, group, v1, PARTITIONS).values()), 30,
               "the group's commits in v1 past event M", detail)
    swap_started = time.monotonic()
    on_swap()
    swapped = cli.json_out(runnel_bin, "alias", "swap", alias, "--to", v2, "--expect", v1,
                           "--translate-offsets", "--group", group, brokers=b)
    translated = {o["partition"]: o["offset"] for o in swapped["offsets"][group]}
    assert swapped["from"] == v1 and swapped["to"] == v2 and sorted(translated) == list(range(PARTITIONS)), swapped
    after_swap()
    # Translation points are past v2's start (the group had consumed beyond event M in v1).
    assert all(offset > 0 for offset in translated.values()), translated
    wait_until(lambda: time.monotonic() - swap_started > 4, 10, "four seconds of production after the swap")
    events = outputs.stop()

    def drained():
        seen = {(p, e) for m in members for p, t, e, _ in read(m) if t == "v2"}
        return all((p, events - 1) in seen for p in range(PARTITIONS))
    wait_until(drained, 90, f"the group reading v2 up to event {events - 1} in every partition", detail)
    return translated, events


def check_followed(all_reads: dict, translated: dict, events: int, held: bool = True) -> None:
    """At-least-once across the swap, per the documented guarantee (docs/kappa.md). `held`: the members'
    hold lasted, so they read nothing of v2 before the translation point."""
    for name, got in all_reads.items():
        # Per member and partition: v1 records, then v2 records — never a v1 record once v2 started.
        for p in range(PARTITIONS):
            targets = [t for q, t, _, _ in got if q == p]
            if "v2" in targets:
                first_v2 = targets.index("v2")
                assert "v1" not in targets[first_v2:], f"{name} read v1 after v2 in partition {p}"
        # Every v2 record a member read is the record at that offset (v2 offset k is event k + M).
        assert all(e == o + M for _, t, e, o in got if t == "v2"), f"{name}: v2 offsets and events disagree"
        # Every member moved: it read v2 (each owns a partition after the swap).
        assert any(t == "v2" for _, t, _, _ in got), f"{name} never read v2"
    for p in range(PARTITIONS):
        v1_seen = {e for got in all_reads.values() for q, t, e, _ in got if q == p and t == "v1"}
        v2_seen = {e for got in all_reads.values() for q, t, e, _ in got if q == p and t == "v2"}
        start = translated[p] + M  # the first event of v2 the group starts at
        # Every v2 record from the translation point on was read...
        missing_v2 = sorted(set(range(start, events)) - v2_seen)
        assert not missing_v2, f"partition {p}: v2 events {missing_v2[:10]}... ({len(missing_v2)}) never read"
        # ...and every event was read in v1 or in v2: nothing lost at the switch.
        missing = sorted(set(range(events)) - v1_seen - v2_seen)
        assert not missing, f"partition {p}: events {missing[:10]}... ({len(missing)}) read in neither target"
        # v2 was read from the translation point, never at a position learned in v1 (the hold).
        assert min(v2_seen) == start or not held, (p, min(v2_seen), start)
        # The translation point is at or before the last v1 event read (at-least-once, not at-most).
        assert start <= max(v1_seen) + 1, (p, start, max(v1_seen))


def setup_alias(b, runnel_bin, prefix):
    v1, v2, alias, group = unique(f"{prefix}-v1"), unique(f"{prefix}-v2"), unique(f"{prefix}-serving"), unique(f"{prefix}-group")
    for topic in (v1, v2):
        clients.create_topic(b, topic, partitions=PARTITIONS)
    cli.ok(runnel_bin, "alias", "create", alias, "--to", v1, brokers=b)
    return v1, v2, alias, group


def test_running_java_and_librdkafka_consumers_follow_a_swap_with_translated_offsets(broker, java, tmp_path, runnel_bin):
    b = broker.bootstrap
    v1, v2, alias, group = setup_alias(b, runnel_bin, "fo")
    outputs = TwoOutputs(b, v1, v2)
    common = {"assignor": "range", "commit": "sync", "withValues": True, "timeoutMs": 180000,
              "sessionTimeoutMs": 10000, "heartbeatIntervalMs": 500, "maxPollRecords": 20}
    members = [java_member(java, "java", tmp_path, b, group, [alias], **common),
               confluent_member("librdkafka", tmp_path, b, group, [alias], **common)]
    # A reader of v1 itself (another group): the swap does not concern it (no UNKNOWN_TOPIC_ID, no hold).
    direct = confluent_member("direct-v1", tmp_path, b, unique("fo-direct"), [v1], **common)
    detail = lambda: "\n".join(f"{m.name}: " + "".join(l for l in m.stderr_lines if not l.startswith("PROGRESS"))[-3000:] for m in members)  # noqa: E731
    try:
        translated, events = swap_while_reading(b, runnel_bin, v1, v2, alias, group, outputs, members, reads, detail)
        wait_until(lambda: {(p, e) for p, _, e, _ in reads(direct)} >= {(p, events - 1) for p in range(PARTITIONS)}, 60,
                   "the direct reader of v1 at its end", detail)
        results = [m.stop() for m in [*members, direct]]
    finally:
        for m in [*members, direct]:
            m.kill()
        if not outputs._stop.is_set():
            outputs.stop()
    check_followed({m.name: reads(m) for m in members}, translated, events)
    direct_reads = reads(direct)
    assert {t for _, t, _, _ in direct_reads} == {"v1"}
    for p in range(PARTITIONS):
        assert sorted({e for q, _, e, _ in direct_reads if q == p}) == list(range(events)), f"direct reader, partition {p}"
    # The fence refused the old generation's commits of v1 positions: the members' revoke-time commits
    # failed (REBALANCE_IN_PROGRESS) instead of overwriting the translated offsets.
    refused = [m.name for m in members if any("revoke-commit-failed" in line for line in m.stderr_lines)]
    assert refused, f"no member's revoke commit was refused\n{detail()}"
    assert not any(r.get("timedOut") for r in results), results
    # The group's offsets in v2 reach its end; none were committed in v2 from v1 positions.
    report = cli.json_out(runnel_bin, "group", "describe", group, brokers=b)
    in_v2 = {o["partition"]: o["committedOffset"] for o in report["offsets"] if o["topic"] == v2}
    assert in_v2 == {p: events - M for p in range(PARTITIONS)}, report["offsets"]
