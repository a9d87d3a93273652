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
                                          kcat_member, kill_and_take_over, wait_balanced, wait_until)

pytestmark = [pytest.mark.needs_broker]

SESSION_MS = 3000
PARTITIONS = 12


@pytest.mark.timeout(120)
def test_confluent_cooperative_sticky_member_killed_others_take_over_from_commits(group_broker, tmp_path):
    b = group_broker
    topic, group = unique("coop-ck"), unique("g-coop-ck")
    clients.create_topic(b.bootstrap, topic, partitions=PARTITIONS)
    names = ["ck-0", "ck-1", "ck-2"]
    modes = {"ck-0": "sync", "ck-1": "sync", "ck-2": "async"}
    members = {n: confluent_member(n, tmp_path, b.bootstrap, group, [topic], assignor="cooperative-sticky",
                                   sessionTimeoutMs=SESSION_MS, heartbeatIntervalMs=300, commit=modes[n])
               for n in names}
    try:
        out = kill_and_take_over(b, group, topic, PARTITIONS, members, "ck-1", SESSION_MS)
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
    members = {n: kcat_member(kcat_bin, n, tmp_path, b.bootstrap, group, [topic], props)
               for n in ["kcat-0", "kcat-1", "kcat-2"]}
    try:
        # kcat reports rebalances only as text: the broker's DescribeGroups view is the reference.
        out = kill_and_take_over(b, group, topic, PARTITIONS, members, "kcat-1", SESSION_MS, listeners=False)
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
    every = {f"{topic}:{p}" for p in range(PARTITIONS)}
    try:
        view = wait_balanced(b.port, group, names, every, 60, show)
        wait_until(lambda: all(members[n].owned() == set(view["members"][n]["assignment"]) for n in names),
                   20, "listeners to report the assignment", show)
        victim, other = "sck-1", "sck-0"
        t_kill = time.monotonic()
        members[victim].kill()
        members[victim] = confluent_member(f"{victim}", tmp_path, b.bootstrap, group, [topic],
                                           instanceId=f"i-{victim}", **common)
        wait_until(lambda: members[victim].owned(), 30, "the restarted member's assignment", show)
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
        assert members[other].events_since(t_kill) == [], f"{other} saw a rebalance: {members[other].events_since(t_kill)}"
        for m in members.values():
            m.stop()
    finally:
        for m in members.values():
            m.kill()
