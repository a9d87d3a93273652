"""Running consumers that keep their positions across a rebalance follow an alias swap (issue 15,
docs/decisions/0016 "Partitions leave and come back"): cooperative-sticky Java and librdkafka groups, and a
kafka-python group (eager, but it keeps the positions of partitions it is assigned again). Two members each
read the alias `serving` -> v1 while both outputs grow; `runnel alias swap --translate-offsets --group G`
runs while they read. After the fence the moved partitions leave every member's assignment for one
generation — the cooperative members revoke them, kafka-python's are simply not assigned, and so their
positions learned in v1 are dropped — and the next rebalance assigns them again as new partitions, whose
positions every client reads from the committed (translated) offsets. The same at-least-once checks as the
eager test (test_alias_follow.py): every v2 record from the translation point is read, none before it,
every event read in v1 or v2, never v1 after v2."""
from __future__ import annotations

import signal
import time

import pytest

from runnel_interop.group_members import (committed, confluent_member, group_detail, java_member,
                                          kafka_python_member)
from test_alias_follow import PARTITIONS, M, TwoOutputs, check_followed, reads, setup_alias, swap_while_reading

import cli_support as cli

pytestmark = pytest.mark.needs_broker

COMMON = {"commit": "sync", "withValues": True, "timeoutMs": 120000, "sessionTimeoutMs": 10000,
          "heartbeatIntervalMs": 500, "maxPollRecords": 20}


def follow_swap(broker, runnel_bin, prefix: str, make_member) -> None:
    """Two members made by `make_member(name, group, alias)` follow a swap; the checks of the eager test."""
    b = broker.bootstrap
    port = int(b.rsplit(":", 1)[1])
    v1, v2, alias, group = setup_alias(b, runnel_bin, prefix)
    outputs = TwoOutputs(b, v1, v2)
    members = [make_member(f"{prefix}-a", group, alias), make_member(f"{prefix}-b", group, alias)]
    show = group_detail(port, group, members)
    detail = lambda: show() + "\n---- broker ----\n" + broker.log_tail(6000)  # noqa: E731
    try:
        swapped_at = []
        translated, events = swap_while_reading(b, runnel_bin, v1, v2, alias, group, outputs, members, reads, detail,
                                                on_swap=lambda: swapped_at.append(time.monotonic()))
        results = [m.stop() for m in members]
    finally:
        for m in members:
            m.kill()
        if not outputs._stop.is_set():
            outputs.stop()
    check_followed({m.name: reads(m) for m in members}, translated, events)
    assert not any(r.get("timedOut") for r in results), results
    # Commits of v1 positions were refused (the fenced generation's, and the revoke-time commits of the
    # generation whose assignment left the moved partitions out) instead of overwriting the translation.
    refused = [m.name for m in members if any("revoke-commit-failed" in line for line in m.stderr_lines)]
    assert refused, f"no member's revoke commit was refused\n{detail()}"
    # The moved partitions left the assignments once: the broker says so.
    log = broker.log_path.read_text(errors="replace").splitlines()
    assert any("moved partitions left out of the assignment" in line and group in line for line in log), detail()
    # Every member gave up the alias's partitions after the swap (revoked: cooperative, or eager before it
    # rejoined) — and so the positions it had in them — and was assigned partitions of it again.
    for m in members:
        after = [e for e in m.events if e["at"] >= swapped_at[0] and e["type"] in ("assigned", "revoked")]
        revoked = [i for i, e in enumerate(after) if e["type"] == "revoked" and e["partitions"]]
        assert revoked and any(e["type"] == "assigned" and e["partitions"] for e in after[revoked[0]:]), \
            f"{m.name}: events after the swap {after}\n{detail()}"
    # The group's offsets in v2 reach its end.
    assert committed(port, group, v2, PARTITIONS) == {(v2, p): events - M for p in range(PARTITIONS)}, detail()


def test_cooperative_sticky_java_consumers_follow_a_swap(broker, java, tmp_path, runnel_bin):
    follow_swap(broker, runnel_bin, "fcj", lambda name, group, alias: java_member(
        java, name, tmp_path, broker.bootstrap, group, [alias], assignor="cooperative-sticky", **COMMON))


def test_cooperative_sticky_librdkafka_consumers_follow_a_swap(broker, tmp_path, runnel_bin):
    follow_swap(broker, runnel_bin, "fcl", lambda name, group, alias: confluent_member(
        name, tmp_path, broker.bootstrap, group, [alias], assignor="cooperative-sticky", **COMMON))


def test_kafka_python_consumers_follow_a_swap(broker, tmp_path, runnel_bin):
    follow_swap(broker, runnel_bin, "fkp", lambda name, group, alias: kafka_python_member(
        name, tmp_path, broker.bootstrap, group, [alias], assignor="range", logFile=str(tmp_path / f"{name}.log"), **COMMON))


def test_the_fence_survives_a_broker_restart(fresh_broker, tmp_path, runnel_bin):
    """The fence and what it moved are in the group's record in __consumer_offsets (decision 0016,
    amendment): cooperative librdkafka members are stopped (SIGSTOP) across the swap and a broker restart, so
    nothing of the fence reached them before it. The restarted coordinator loads the group, restarts the
    rebalance, leaves the alias's partitions out once, and the members read v2 from the translated offsets.
    The hold and the stale-id answers are in memory and lost: the members may read v1 or v2 at old
    positions first (extra reads), but no v2 record from the translation point is missed."""
    b = fresh_broker()
    port = int(b.bootstrap.rsplit(":", 1)[1])
    v1, v2, alias, group = setup_alias(b.bootstrap, runnel_bin, "frs")
    outputs = TwoOutputs(b.bootstrap, v1, v2)
    members = [confluent_member(name, tmp_path, b.bootstrap, group, [alias], assignor="cooperative-sticky", **COMMON)
               for name in ("frs-a", "frs-b")]
    show = group_detail(port, group, members)
    detail = lambda: show() + "\n---- broker ----\n" + b.log_tail(6000)  # noqa: E731

    def stop_members():
        for m in members:
            m.proc.send_signal(signal.SIGSTOP)

    def restart_and_resume():
        b.restart(graceful=False)
        for m in members:
            m.proc.send_signal(signal.SIGCONT)

    try:
        translated, events = swap_while_reading(b.bootstrap, runnel_bin, v1, v2, alias, group, outputs, members, reads,
                                                detail, on_swap=stop_members, after_swap=restart_and_resume)
        results = [m.stop() for m in members]
    finally:
        for m in members:
            if m.running():
                m.proc.send_signal(signal.SIGCONT)
            m.kill()
        if not outputs._stop.is_set():
            outputs.stop()
    check_followed({m.name: reads(m) for m in members}, translated, events, held=False)
    assert not any(r.get("timedOut") for r in results), results
    after_restart = b.log_path.read_text(errors="replace").splitlines()
    assert any("a fence loaded with the group is not complete" in line and group in line for line in after_restart), detail()
    assert any("moved partitions left out of the assignment" in line and group in line for line in after_restart), detail()
    assert committed(port, group, v2, PARTITIONS) == {(v2, p): events - M for p in range(PARTITIONS)}, detail()
