"""Consumer groups with the Java client (kafka-clients 4.3, classic protocol), each member its own
JVM: cooperative-sticky with a member killed mid-stream (the others take over its partitions after
its session expires and resume from its commits), static membership (a restarted member rejoins
without a rebalance), the range assignor's layout, and commitSync / commitAsync landing (checked
with AdminClient listConsumerGroupOffsets and OffsetFetch)."""
from __future__ import annotations

import time

import pytest

from conftest import unique
from runnel_interop import clients
from runnel_interop.group_members import (PacedProducer, balanced, committed, describe_group, group_detail,
                                          java_member, wait_until)
from runnel_interop.group_scenarios import kill_and_take_over, scale_up_cooperatively

pytestmark = [pytest.mark.needs_broker]

SESSION_MS = 3000  # within the group broker's group.min.session.timeout.ms=1000
PARTITIONS = 12


def all_partitions(topic: str, n: int = PARTITIONS) -> set[str]:
    return {f"{topic}:{p}" for p in range(n)}


def detail(b, group, members):
    return group_detail(b.port, group, members)


@pytest.mark.timeout(150)
def test_java_cooperative_sticky_member_killed_others_take_over_from_commits(group_broker, java, tmp_path):
    b = group_broker
    topic, group = unique("coop-java"), unique("g-coop-java")
    clients.create_topic(b.bootstrap, topic, partitions=PARTITIONS)
    def start(n):
        return java_member(java, n, tmp_path, b.bootstrap, group, [topic], assignor="cooperative-sticky",
                           sessionTimeoutMs=SESSION_MS, heartbeatIntervalMs=300, commit="sync")
    members = {n: start(n) for n in ["java-0", "java-1"]}
    try:
        # java-2 joins a stable group of two: only the partitions that move are revoked (KIP-429).
        scale_s = scale_up_cooperatively(b, group, topic, PARTITIONS, members, "java-2", lambda: start("java-2"))
        out = kill_and_take_over(b, group, topic, PARTITIONS, members, "java-1", SESSION_MS)
        out["scale_up_s"] = round(scale_s, 1)
        assert out["protocol"] == "cooperative-sticky"
        for n, r in out["results"].items():
            assert not r["timedOut"] and r["syncCommits"] > 0, (n, r)
        print(f"\ncooperative-sticky (Java): {out}")
    finally:
        for m in members.values():
            m.kill()


@pytest.mark.timeout(150)
def test_java_static_member_restarted_within_session_rejoins_without_rebalance(group_broker, java, tmp_path):
    b = group_broker
    topic, group = unique("static-java"), unique("g-static-java")
    clients.create_topic(b.bootstrap, topic, partitions=PARTITIONS)
    names = ["static-0", "static-1", "static-2"]
    # A session long enough for a JVM restart on a loaded machine; the restart must beat it.
    common = dict(assignor="range", sessionTimeoutMs=45000, heartbeatIntervalMs=300, commit="sync")
    members = {n: java_member(java, n, tmp_path, b.bootstrap, group, [topic], instanceId=f"instance-{n}", **common)
               for n in names}
    show = detail(b, group, members.values())
    try:
        view = wait_until(lambda: (v := describe_group(b.port, group)) and balanced(v, names, all_partitions(topic)) and v,
                          60, "3 static Java members sharing 12 partitions", show)
        # Range over static members orders them by group.instance.id.
        assert [view["members"][n]["assignment"] for n in names] == [
            sorted(f"{topic}:{p}" for p in range(4 * i, 4 * i + 4)) for i in range(3)]
        assert {n: view["members"][n]["instance_id"] for n in names} == {n: f"instance-{n}" for n in names}
        wait_until(lambda: all(members[n].owned() == set(view["members"][n]["assignment"]) for n in names),
                   20, "listeners to report the assignment", show)
        generation = {e["gen"] for n in names for e in members[n].events if e["type"] == "assigned"}
        generation = max(generation)
        rejoin_s = {}
        # Each member in turn, so the leader's restart (JoinGroup v9 SkipAssignment) is covered too.
        for victim in names:
            old_member_id = view["members"][victim]["member_id"]
            t_kill = time.monotonic()
            members[victim].kill()
            members[victim] = java_member(java, victim, tmp_path, b.bootstrap, group, [topic],
                                          instanceId=f"instance-{victim}", **common)
            wait_until(lambda: members[victim].owned(), 40, f"the restarted {victim}'s assignment", show)
            rejoin_s[victim] = round(time.monotonic() - t_kill, 1)
            assert rejoin_s[victim] < 45, "the restart did not beat the session timeout: the test proves nothing"
            [assigned] = [e for e in members[victim].events if e["type"] == "assigned"]
            # Same slot, same generation, same partitions: no rebalance happened.
            assert assigned["gen"] == generation, (assigned, generation)
            assert sorted(assigned["partitions"]) == view["members"][victim]["assignment"]
            assert assigned["memberId"] != old_member_id
            now = describe_group(b.port, group)
            assert now["state"] == "Stable"
            assert {n: m["assignment"] for n, m in now["members"].items()} == {
                n: m["assignment"] for n, m in view["members"].items()}
            assert now["members"][victim]["member_id"] == assigned["memberId"]
        # The whole group keeps consuming (records produced now reach every member and their commits are
        # accepted), and no member saw any rebalance after its own restart.
        producer = PacedProducer(b.bootstrap, topic, PARTITIONS, rate=400)
        wait_until(lambda: all(members[n].progress >= 30 for n in names), 40, "every member to consume", show)
        produced = producer.stop()
        wait_until(lambda: committed(b.port, group, topic, PARTITIONS) == produced, 30,
                   "every member's commits", show)
        for n in names:
            callbacks = [e["type"] for e in members[n].events if e["type"] in ("assigned", "revoked", "lost")]
            assert callbacks == ["assigned"], f"{n} saw a rebalance after its restart: {members[n].events}"
        assert describe_group(b.port, group)["state"] == "Stable"
        results = {n: m.stop() for n, m in members.items()}
        assert {r["generation"] for r in results.values()} == {generation}, results
        print(f"\nstatic membership (Java): restarted members rejoined in {rejoin_s} s at generation {generation}")
    finally:
        for m in members.values():
            m.kill()


@pytest.mark.timeout(150)
def test_java_range_assignor_and_commit_sync_async_land(group_broker, java, tmp_path):
    b = group_broker
    t12, t5 = unique("range-a"), unique("range-b")
    group = unique("g-range-java")
    clients.create_topic(b.bootstrap, t12, partitions=12)
    clients.create_topic(b.bootstrap, t5, partitions=5)
    names = ["range-0", "range-1", "range-2"]
    modes = {"range-0": "sync", "range-1": "async", "range-2": "sync"}
    members = {n: java_member(java, n, tmp_path, b.bootstrap, group, [t12, t5], assignor="range",
                              sessionTimeoutMs=SESSION_MS, heartbeatIntervalMs=300, commit=modes[n])
               for n in names}
    show = detail(b, group, members.values())
    try:
        parts = all_partitions(t12, 12) | all_partitions(t5, 5)
        view = wait_until(lambda: (v := describe_group(b.port, group)) and v["state"] == "Stable"
                          and sorted(v["members"]) == names
                          and set().union(*(set(m["assignment"]) for m in v["members"].values())) == parts and v,
                          60, "3 Java members with a range assignment", show)
        assert view["protocol"] == "range"
        # Range: members in member-id order take contiguous blocks of each topic, the first ones one
        # more when the count does not divide: 12 → 4/4/4, 5 → 2/2/1, the same member first in both.
        order = sorted(names, key=lambda n: view["members"][n]["member_id"])
        blocks12 = [list(range(0, 4)), list(range(4, 8)), list(range(8, 12))]
        blocks5 = [[0, 1], [2, 3], [4]]
        for n, b12, b5 in zip(order, blocks12, blocks5):
            assert view["members"][n]["assignment"] == sorted([f"{t12}:{p}" for p in b12] + [f"{t5}:{p}" for p in b5]), view
        wait_until(lambda: all(members[n].owned() == set(view["members"][n]["assignment"]) for n in names),
                   20, "listeners to report the assignment", show)
        end: dict[tuple[str, int], int] = {}
        for t, n in ((t12, 1200), (t5, 500)):
            acks = clients.confluent_produce(b.bootstrap, t, t, range(n), partition=None)["acks"]
            for p, o in acks.values():
                end[(t, p)] = max(end.get((t, p), 0), o + 1)
        total = 1700
        wait_until(lambda: sum(m.progress for m in members.values()) >= total, 60, "1700 records consumed", show)
        results = {n: m.stop() for n, m in members.items()}
        by_member = {n: members[n].records() for n in names}
        for n in names:
            recs = by_member[n]
            assert len(recs) == len(set(recs)), f"{n} consumed duplicates"
            assert {f"{t}:{p}" for t, p, _ in recs} <= set(view["members"][n]["assignment"])
            assert results[n]["generation"] == max(e["gen"] for e in members[n].events if e["type"] == "assigned")
        assert sum(len(r) for r in by_member.values()) == total
        assert results["range-1"]["asyncCommitsOk"] > 0 and results["range-1"]["asyncCommitsFailed"] == 0, results
        assert results["range-0"]["syncCommits"] > 0 and results["range-2"]["syncCommits"] > 0, results
        # The committed offsets, as Java's AdminClient reads them (OffsetFetch), are every partition's
        # log end offset, the commitAsync member's partitions included; the members left on close.
        offsets, described = java.run("admin", {"bootstrap": b.bootstrap, "ops": [
            {"op": "listConsumerGroupOffsets", "group": group},
            {"op": "describeConsumerGroups", "groups": [group]}]})["results"]
        assert offsets["ok"] and described["ok"], (offsets, described)
        assert offsets["result"] == {f"{t}:{p}": n for (t, p), n in sorted(end.items())}
        assert described["result"][group]["state"].lower() == "empty"
        assert described["result"][group]["members"] == []
        async_parts = [tuple(tp.split(":")) for tp in view["members"]["range-1"]["assignment"]]
        assert all(offsets["result"][f"{t}:{p}"] > 0 for t, p in async_parts), "commitAsync offsets missing"
    finally:
        for m in members.values():
            m.kill()
