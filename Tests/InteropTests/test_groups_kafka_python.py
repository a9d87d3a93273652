"""Consumer groups with kafka-python: two members share a topic and commit what they read; the
Kappa replay pattern (a NEW group subscribes, looks up offsets_for_times(T) and seeks, so its
replay starts exactly at the first record with timestamp >= T, then commits); and the group's
committed offsets survive a broker restart (a new member resumes exactly there)."""
from __future__ import annotations

import threading
import time

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka import errors as KafkaErrors
from kafka.structs import OffsetAndMetadata

from conftest import unique
from runnel_interop import clients, kafka_python_group
from runnel_interop.group_members import committed, describe_group, wait_until

pytestmark = [pytest.mark.needs_broker]


def group_consumer(bootstrap: str, group: str, topic: str, **kw) -> KafkaConsumer:
    """A subscribed kafka-python group consumer, with metadata fetched before its first join
    (runnel_interop/kafka_python_group.py says why)."""
    conf = dict(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                auto_offset_reset="earliest", session_timeout_ms=6000, heartbeat_interval_ms=300,
                request_timeout_ms=15000, max_poll_records=100, fetch_max_wait_ms=100)
    conf.update(kw)
    return kafka_python_group.group_consumer([topic], **conf)


class Member(threading.Thread):
    """A kafka-python group member polling in its own thread and committing after each poll, as an
    application does: a commit refused with a retriable error (REBALANCE_IN_PROGRESS while the group
    rebalances, a coordinator moving) is kept and retried after the next poll, which completes the
    rebalance; offsets of partitions a completed rebalance gave to the other member are dropped (it
    resumes from the last committed offset, so it may read those records again)."""

    def __init__(self, bootstrap: str, group: str, topic: str, name: str):
        super().__init__(daemon=True)
        self.consumer = group_consumer(bootstrap, group, topic, client_id=name)
        self.name_ = name
        self.lock = threading.Lock()
        self.records: list[tuple[int, int]] = []
        self.assignment: set[int] = set()
        self.owned_ever: set[int] = set()
        self.pending: dict[TopicPartition, OffsetAndMetadata] = {}
        self.commits = 0
        self.retried_commits: list[str] = []
        self.error: BaseException | None = None
        self.stop_flag = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop_flag.is_set():
                batch = self.consumer.poll(timeout_ms=100)
                assignment = set(self.consumer.assignment())
                with self.lock:
                    self.assignment = {tp.partition for tp in assignment}
                    self.owned_ever |= self.assignment
                    # Pending offsets first, records second: whoever sees a record also sees its
                    # offset pending until the commit succeeds.
                    for tp, msgs in batch.items():
                        self.pending[tp] = OffsetAndMetadata(msgs[-1].offset + 1, "", -1)
                    for tp, msgs in batch.items():
                        self.records += [(m.partition, m.offset) for m in msgs]
                    if assignment:  # empty while an eager rebalance is under way: keep everything
                        for tp in [tp for tp in self.pending if tp not in assignment]:
                            del self.pending[tp]
                    offsets = {tp: o for tp, o in self.pending.items() if tp in assignment}
                if not offsets:
                    continue
                try:
                    self.consumer.commit(offsets)
                except KafkaErrors.KafkaError as e:
                    if not (isinstance(e, KafkaErrors.RebalanceInProgressError) or e.retriable):
                        raise
                    self.retried_commits.append(type(e).__name__)
                    continue
                with self.lock:
                    for tp, committed_offset in offsets.items():
                        if self.pending.get(tp) == committed_offset:
                            del self.pending[tp]
                self.commits += 1
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e
        finally:
            self.consumer.close()

    def settled(self) -> bool:
        """Nothing consumed by this member is left uncommitted."""
        with self.lock:
            return not self.pending


@pytest.mark.timeout(90)
def test_kafka_python_members_share_a_topic_and_commit(group_broker):
    b = group_broker
    topic, group = unique("kp-group"), unique("g-kp")
    clients.create_topic(b.bootstrap, topic, partitions=4)
    members = [Member(b.bootstrap, group, topic, f"kp-{i}") for i in range(2)]
    for m in members:
        m.start()
    try:
        view = wait_until(lambda: (v := describe_group(b.port, group))["state"] == "Stable"
                          and sorted(v["members"]) == ["kp-0", "kp-1"]
                          and all(len(x["assignment"]) == 2 for x in v["members"].values()) and v,
                          60, "two kafka-python members with 2 partitions each")
        wait_until(lambda: all(len(m.assignment) == 2 for m in members), 20, "members to see their assignment")
        acks = clients.confluent_produce(b.bootstrap, topic, topic, range(400), partition=None)["acks"]
        end: dict[int, int] = {}
        for p, o in acks.values():
            end[p] = max(end.get(p, 0), o + 1)
        expected = {(p, o) for p, n in end.items() for o in range(n)}
        wait_until(lambda: any(m.error for m in members)
                   or (expected <= {r for m in members for r in m.records} and all(m.settled() for m in members)),
                   60, "400 records consumed and committed",
                   lambda: f"consumed {sum(len(m.records) for m in members)}, retried commits "
                           f"{[m.retried_commits for m in members]}")
    finally:
        for m in members:
            m.stop_flag.set()
        for m in members:
            m.join(30)
    assert not any(m.error for m in members), [m.error for m in members]
    assert members[0].assignment.isdisjoint(members[1].assignment)
    for m in members:
        assert {f"{topic}:{p}" for p in m.assignment} == set(view["members"][m.name_]["assignment"])
        assert {p for p, _ in m.records} <= m.owned_ever and m.commits > 0
    every = [r for m in members for r in m.records]
    assert set(every) == expected
    # A record is read twice only when a rebalance interrupted its commit (the partition restarts at
    # the last committed offset, at-least-once); otherwise each exactly once.
    if not any(m.retried_commits for m in members):
        assert len(every) == len(expected)
    assert committed(b.port, group, topic, 4) == {(topic, p): end.get(p, 0) for p in range(4)}


@pytest.mark.timeout(120)
def test_kafka_python_replay_from_timestamp_in_new_group_and_resume_after_restart(fresh_broker):
    b = fresh_broker()
    topic, group = unique("kp-replay"), unique("g-replay")
    clients.create_topic(b.bootstrap, topic, partitions=3)
    base = int(time.time() * 1000) - 600_000
    for p in range(3):  # record i of partition p has timestamp base + 10*i + p
        clients.confluent_produce(b.bootstrap, topic, f"{topic}-{p}", range(100), partition=p,
                                  ts_base=base + p, ts_step=10)
    t_replay = base + 501
    # First offset with timestamp >= T: 10*i + p >= 501.
    start = {p: next(i for i in range(100) if 10 * i + p >= 501) for p in range(3)}
    assert start == {0: 51, 1: 50, 2: 50}

    # A new group joins with auto.offset.reset=latest (it would read nothing), then replays from T.
    c = group_consumer(b.bootstrap, group, topic, auto_offset_reset="latest", client_id="replayer")
    tps = [TopicPartition(topic, p) for p in range(3)]
    wait_until(lambda: c.poll(timeout_ms=100) is not None and set(c.assignment()) == set(tps), 30,
               "the replay group's assignment")
    found = c.offsets_for_times({tp: t_replay for tp in tps})
    assert {tp.partition: found[tp].offset for tp in tps} == start
    assert {tp.partition: found[tp].timestamp for tp in tps} == {p: base + 10 * start[p] + p for p in range(3)}
    for tp in tps:
        c.seek(tp, found[tp].offset)
    got: dict[int, list] = {p: [] for p in range(3)}
    deadline = time.monotonic() + 30
    while any(len(got[p]) < 20 for p in range(3)):
        assert time.monotonic() < deadline, {p: len(v) for p, v in got.items()}
        for tp, msgs in c.poll(timeout_ms=200).items():
            got[tp.partition] += msgs
    for p in range(3):
        first = got[p][0]
        assert first.offset == start[p] and first.timestamp >= t_replay
        assert [m.offset for m in got[p]] == list(range(start[p], start[p] + len(got[p])))
    # Commit exactly 20 records into the replay on each partition, then leave.
    c.commit({tp: OffsetAndMetadata(start[tp.partition] + 20, "replay", -1) for tp in tps})
    c.close()
    want = {(topic, p): start[p] + 20 for p in range(3)}
    assert committed(b.port, group, topic, 3) == want

    b.restart(graceful=True)

    assert committed(b.port, group, topic, 3) == want
    c2 = group_consumer(b.bootstrap, group, topic, auto_offset_reset="earliest", client_id="resumer")
    rest: dict[int, list[int]] = {p: [] for p in range(3)}
    deadline = time.monotonic() + 40
    try:
        while any(len(rest[p]) < 100 - want[(topic, p)] for p in range(3)):
            assert time.monotonic() < deadline, {p: len(v) for p, v in rest.items()}
            for tp, msgs in c2.poll(timeout_ms=200).items():
                rest[tp.partition] += [m.offset for m in msgs]
        assert c2.committed(TopicPartition(topic, 1)) == want[(topic, 1)]
    finally:
        c2.close()
    assert rest == {p: list(range(want[(topic, p)], 100)) for p in range(3)}
