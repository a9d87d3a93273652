"""Consumer groups with librdkafka: confluent-kafka members (each its own process) with
partition.assignment.strategy=cooperative-sticky, and kcat -G members; one member is SIGKILLed
mid-stream, the others take its partitions over after its session expires and resume from its
committed offsets (every record consumed, duplicates only past the victim's last commit), and the
group's final commits are the log end offsets. Static membership with confluent-kafka: a restarted
member with the same group.instance.id gets its partitions back without a rebalance."""
from __future__ import annotations

import time

import pytest

from conftest import unique
from runnel_interop import clients
from runnel_interop.group_members import (PacedProducer, committed, confluent_member, describe_group, group_detail,
                                          kcat_member, wait_balanced, wait_until)
from runnel_interop.group_scenarios import kill_and_take_over, scale_up_cooperatively

pytestmark = [pytest.mark.needs_broker]

SESSION_MS = 3000
PARTITIONS = 12


def await_balanced(b, group: str, topic: str, partitions: int, members: dict, show) -> dict:
    """Waits until the group is Stable with every partition of `topic` assigned and each member's
    listener reports its assignment; returns the group's view."""
    names = list(members)
    view = wait_balanced(b.port, group, names, {f"{topic}:{p}" for p in range(partitions)}, 60, show)
    wait_until(lambda: all(members[n].owned() == set(view["members"][n]["assignment"]) for n in names),
               20, "listeners to report the assignment", show)
    return view


@pytest.mark.timeout(120)
def test_confluent_cooperative_sticky_member_killed_others_take_over_from_commits(group_broker, tmp_path):
    b = group_broker
    topic, group = unique("coop-ck"), unique("g-coop-ck")
    clients.create_topic(b.bootstrap, topic, partitions=PARTITIONS)
    modes = {"ck-0": "sync", "ck-1": "sync", "ck-2": "async"}

    def start(n):
        return confluent_member(n, tmp_path, b.bootstrap, group, [topic], assignor="cooperative-sticky",
                                sessionTimeoutMs=SESSION_MS, heartbeatIntervalMs=300, commit=modes[n])
    members = {n: start(n) for n in ["ck-0", "ck-1"]}
    try:
        # ck-2 joins a stable group of two: only the partitions that move are revoked (KIP-429).
        scale_s = scale_up_cooperatively(b, group, topic, PARTITIONS, members, "ck-2", lambda: start("ck-2"))
        out = kill_and_take_over(b, group, topic, PARTITIONS, members, "ck-1", SESSION_MS)
        out["scale_up_s"] = round(scale_s, 1)
        assert out["protocol"] == "cooperative-sticky"
        assert out["results"]["ck-0"]["syncCommits"] > 0
        ck2 = out["results"]["ck-2"]
        # An async commit still in flight when the takeover's join phase ends carries the old
        # generation: Kafka answers ILLEGAL_GENERATION (or REBALANCE_IN_PROGRESS until the sync);
        # later commits cover those offsets, as the final committed offsets above show.
        assert ck2["asyncCommitsOk"] > 0 and ck2["asyncCommitsOk"] > ck2["asyncCommitsFailed"], ck2
        assert all("ILLEGAL_GENERATION" in e or "REBALANCE_IN_PROGRESS" in e for e in ck2["commitErrors"]), ck2
        print(f"\ncooperative-sticky (confluent-kafka): {out}")
    finally:
        for m in members.values():
            m.kill()


@pytest.mark.timeout(120)
def test_kcat_group_member_killed_others_take_over_from_commits(group_broker, kcat_bin, tmp_path):
    b = group_broker
    topic, group = unique("coop-kcat"), unique("g-coop-kcat")
    clients.create_topic(b.bootstrap, topic, partitions=PARTITIONS)
    props = {"partition.assignment.strategy": "cooperative-sticky", "session.timeout.ms": SESSION_MS,
             "heartbeat.interval.ms": 300, "auto.commit.interval.ms": 100, "socket.timeout.ms": 10000}
    members = {n: kcat_member(kcat_bin, n, tmp_path, b.bootstrap, group, [topic], props) for n in ["kcat-0", "kcat-1"]}
    try:
        # kcat reports rebalances only as text: the broker's DescribeGroups view is the reference.
        scale_s = scale_up_cooperatively(b, group, topic, PARTITIONS, members, "kcat-2", lambda: kcat_member(
            kcat_bin, "kcat-2", tmp_path, b.bootstrap, group, [topic], props), listeners=False)
        out = kill_and_take_over(b, group, topic, PARTITIONS, members, "kcat-1", SESSION_MS, listeners=False)
        out["scale_up_s"] = round(scale_s, 1)
        assert out["protocol"] == "cooperative-sticky"
        print(f"\ncooperative-sticky (kcat -G): {out}")
    finally:
        for m in members.values():
            m.kill()


@pytest.mark.timeout(120)
def test_confluent_static_member_restarted_within_session_keeps_its_partitions(group_broker, tmp_path):
    b = group_broker
    topic, group = unique("static-ck"), unique("g-static-ck")
    clients.create_topic(b.bootstrap, topic, partitions=PARTITIONS)
    names = ["sck-0", "sck-1"]
    common = dict(assignor="range", sessionTimeoutMs=30000, heartbeatIntervalMs=300, commit="sync")
    members = {n: confluent_member(n, tmp_path, b.bootstrap, group, [topic], instanceId=f"i-{n}", **common)
               for n in names}
    show = group_detail(b.port, group, members.values())
    try:
        view = await_balanced(b, group, topic, PARTITIONS, members, show)
        # Both in turn, so the leader's restart is covered: librdkafka joins with JoinGroup v5, which
        # cannot carry SkipAssignment, so the new leader incarnation is answered as a follower.
        for victim in names:
            members[victim].kill()
            members[victim] = confluent_member(victim, tmp_path, b.bootstrap, group, [topic],
                                               instanceId=f"i-{victim}", **common)
            wait_until(lambda: members[victim].owned(), 30, f"the restarted {victim}'s assignment", show)
            assert members[victim].owned() == set(view["members"][victim]["assignment"])
            now = describe_group(b.port, group)
            assert now["state"] == "Stable"
            assert {n: m["assignment"] for n, m in now["members"].items()} == {
                n: m["assignment"] for n, m in view["members"].items()}
            assert now["members"][victim]["member_id"] != view["members"][victim]["member_id"]
        producer = PacedProducer(b.bootstrap, topic, PARTITIONS, rate=400)
        wait_until(lambda: all(members[n].progress >= 30 for n in names), 30, "both members to consume", show)
        produced = producer.stop()
        wait_until(lambda: committed(b.port, group, topic, PARTITIONS) == produced, 30, "both members' commits", show)
        for n in names:  # no rebalance after a member's restart: its only callback is its first assignment
            callbacks = [e["type"] for e in members[n].events if e["type"] in ("assigned", "revoked", "lost")]
            assert callbacks == ["assigned"], f"{n} saw a rebalance after its restart: {members[n].events}"
        for m in members.values():
            m.stop()
    finally:
        for m in members.values():
            m.kill()


@pytest.mark.timeout(120)
def test_confluent_group_keeps_its_generation_across_a_broker_restart(fresh_broker, tmp_path):
    """The coordinator loads a stable group back from __consumer_offsets with its generation, members
    and assignments, and restarts their sessions: two live members whose broker is restarted (SIGTERM)
    reconnect, heartbeat into the same generation without a rebalance, and consume every record
    produced before and after the restart exactly once."""
    b = fresh_broker({"group.min.session.timeout.ms": 1000})
    topic, group = unique("restart-ck"), unique("g-restart-ck")
    clients.create_topic(b.bootstrap, topic, partitions=4)
    names = ["rck-0", "rck-1"]
    members = {n: confluent_member(n, tmp_path, b.bootstrap, group, [topic], assignor="range",
                                   sessionTimeoutMs=10000, heartbeatIntervalMs=300, commit="sync")
               for n in names}
    show = group_detail(b.port, group, members.values())
    try:
        view = await_balanced(b, group, topic, 4, members, show)
        before = clients.confluent_produce(b.bootstrap, topic, topic, range(200), partition=None)["acks"]
        wait_until(lambda: sum(len(members[n].records()) for n in names) >= 200, 30, "200 records consumed", show)
        t_restart = time.monotonic()
        b.restart(graceful=True)
        after = clients.confluent_produce(b.bootstrap, topic, topic, range(200, 400), partition=None)["acks"]
        wait_until(lambda: sum(len(members[n].records()) for n in names) >= 400, 40,
                   "records produced after the restart consumed", show)
        now = describe_group(b.port, group)
        assert now["state"] == "Stable"
        assert {n: (m["member_id"], m["assignment"]) for n, m in now["members"].items()} == {
            n: (m["member_id"], m["assignment"]) for n, m in view["members"].items()}
        for n in names:
            assert members[n].events_since(t_restart) == [], f"{n} rebalanced: {members[n].events_since(t_restart)}"
        results = {n: members[n].stop() for n in names}
        consumed = sorted((p, o) for n in names for (_, p, o) in members[n].records())
        assert consumed == sorted({**before, **after}.values())
        assert all(r["syncCommits"] > 0 for r in results.values())
    finally:
        for m in members.values():
            m.kill()


@pytest.mark.timeout(150)
def test_confluent_static_member_restarted_after_a_broker_restart_keeps_its_partitions(fresh_broker, tmp_path):
    """The static-membership map (group.instance.id → member id) is part of the group metadata record:
    after the broker restarts (SIGTERM) and loads the group back, a static member whose process is then
    restarted is recognised by its instance id — a new member id, the same assignment, the group stays
    Stable and nobody sees a rebalance."""
    b = fresh_broker({"group.min.session.timeout.ms": 1000})
    topic, group = unique("restart-static"), unique("g-restart-static")
    clients.create_topic(b.bootstrap, topic, partitions=4)
    names = ["rsk-0", "rsk-1"]
    common = dict(assignor="range", sessionTimeoutMs=30000, heartbeatIntervalMs=300, commit="sync")
    members = {n: confluent_member(n, tmp_path, b.bootstrap, group, [topic], instanceId=f"i-{n}", **common)
               for n in names}
    show = group_detail(b.port, group, members.values())
    try:
        view = await_balanced(b, group, topic, 4, members, show)
        b.restart(graceful=True)
        victim, other = names
        t_restart = time.monotonic()
        members[victim].kill()
        members[victim] = confluent_member(victim, tmp_path, b.bootstrap, group, [topic], instanceId=f"i-{victim}",
                                           **common)
        wait_until(lambda: members[victim].owned(), 40, f"the restarted {victim}'s assignment", show)
        assert members[victim].owned() == set(view["members"][victim]["assignment"])
        now = describe_group(b.port, group)
        assert now["state"] == "Stable"
        assert {n: m["assignment"] for n, m in now["members"].items()} == {
            n: m["assignment"] for n, m in view["members"].items()}
        assert now["members"][victim]["member_id"] != view["members"][victim]["member_id"]
        assert now["members"][other]["member_id"] == view["members"][other]["member_id"]
        assert members[other].events_since(t_restart) == [], f"{other} rebalanced: {members[other].events_since(t_restart)}"
        callbacks = [e["type"] for e in members[victim].events if e["type"] in ("assigned", "revoked", "lost")]
        assert callbacks == ["assigned"], f"{victim} saw a rebalance after its restart: {members[victim].events}"
        produced = clients.confluent_produce(b.bootstrap, topic, topic, range(100), partition=None)["acks"]
        wait_until(lambda: sum(len(members[n].records()) for n in names) >= 100, 30, "100 records consumed", show)
        consumed = sorted((p, o) for n in names for (_, p, o) in members[n].records())
        assert consumed == sorted(produced.values())
        for m in members.values():
            m.stop()
    finally:
        for m in members.values():
            m.kill()
