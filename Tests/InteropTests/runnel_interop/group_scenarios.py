"""Group scenarios shared by the client-specific test files: a member killed mid-stream and the
takeover checked record by record (check_takeover, kill_and_take_over), and a member joining a stable
cooperative group (scale_up_cooperatively). Members are runnel_interop.group_members processes; the
broker's view comes from DescribeGroups and OffsetFetch."""
from __future__ import annotations

import time

from .group_members import (MemberProcess, PacedProducer, committed, group_detail, wait_balanced,
                            wait_until)


def check_takeover(produced: dict[tuple[str, int], int], consumed: dict[str, list[tuple[str, int, int]]],
                   victim: str, victim_partitions: set[str], committed_at_kill: dict[tuple[str, int], int]) -> dict:
    """The group lost `victim` (SIGKILL) mid-stream. Every produced record was consumed at least once;
    partitions the victim did not own were consumed exactly once; on the victim's partitions, offsets
    below its last commit before the kill were consumed exactly once (the survivors resumed from the
    committed offset, not from the beginning) and only later ones may repeat. Returns counts."""
    seen: dict[tuple[str, int, int], list[str]] = {}
    for name, recs in consumed.items():
        for rec in recs:
            seen.setdefault(rec, []).append(name)
    missing = [(t, p, o) for (t, p), n in produced.items() for o in range(n) if (t, p, o) not in seen]
    assert not missing, f"{len(missing)} produced records never consumed, e.g. {missing[:10]}"
    dups = {rec: who for rec, who in seen.items() if len(who) > 1}
    bad = []
    for (t, p, o), who in dups.items():
        tp = f"{t}:{p}"
        if tp not in victim_partitions:
            bad.append(((t, p, o), who, "partition not owned by the victim"))
        elif o < committed_at_kill[(t, p)]:
            bad.append(((t, p, o), who, f"below the victim's commit {committed_at_kill[(t, p)]}"))
    assert not bad, f"{len(bad)} records consumed twice where no duplicate is allowed: {bad[:10]}"
    taken_over = 0
    for tp in victim_partitions:
        t, p = tp.rsplit(":", 1)
        mine = [o for (tt, pp, o) in consumed[victim] if (tt, int(pp)) == (t, int(p))]
        theirs = [o for name, recs in consumed.items() if name != victim
                  for (tt, pp, o) in recs if (tt, pp) == (t, int(p))]
        assert mine, f"the victim consumed nothing from {tp} before the kill"
        assert theirs, f"no survivor consumed from the victim's partition {tp}"
        # The survivors started at the victim's committed position (at least the snapshot taken
        # just before the kill), not at the beginning of the partition.
        assert min(theirs) >= committed_at_kill[(t, int(p))] > 0, (tp, min(theirs), committed_at_kill[(t, int(p))])
        taken_over += len(theirs)
    return {"records": sum(produced.values()), "duplicates": len(dups), "taken_over": taken_over}


def kill_and_take_over(b, group: str, topic: str, partitions: int, members: dict[str, MemberProcess],
                       victim: str, session_ms: int, listeners: bool = True) -> dict:
    """The kill scenario for any client: the members share `topic` evenly; a paced producer starts;
    once the victim has committed on each of its partitions it is SIGKILLed; after its session
    expires the survivors own every partition, keeping their own (sticky), and consume every record
    (check_takeover); their final commits equal the log end offsets. Returns timings and counts."""
    names = list(members)
    every = {f"{topic}:{p}" for p in range(partitions)}
    show = group_detail(b.port, group, members.values())
    t0 = time.monotonic()
    view = wait_balanced(b.port, group, names, every, 60, show)
    formed_s = time.monotonic() - t0
    if listeners:  # each member's rebalance callbacks agree with the broker's view
        wait_until(lambda: all(members[n].owned() == set(view["members"][n]["assignment"]) for n in names),
                   20, "rebalance listeners to report the broker's assignment", show)
    victim_parts = set(view["members"][victim]["assignment"])
    producer = PacedProducer(b.bootstrap, topic, partitions, rate=400)
    try:
        def victim_committed():
            c = committed(b.port, group, topic, partitions)
            return all(c[(topic, int(tp.rsplit(":", 1)[1]))] > 0 for tp in victim_parts)
        wait_until(victim_committed, 30, "the victim's commits on each of its partitions", show)
        at_kill = committed(b.port, group, topic, partitions)
        members[victim].kill()
        t_kill = time.monotonic()
        survivors = [n for n in names if n != victim]
        after = wait_balanced(b.port, group, survivors, every, session_ms / 1000 + 30, show)
        takeover_s = time.monotonic() - t_kill
    finally:
        produced = producer.stop()
    for n in survivors:  # sticky: survivors kept their partitions and gained the victim's
        assert set(view["members"][n]["assignment"]) <= set(after["members"][n]["assignment"]), (view, after)
    if listeners:
        wait_until(lambda: all(members[n].owned() == set(after["members"][n]["assignment"]) for n in survivors),
                   20, "survivors' listeners to report the new assignment", show)
        for n in survivors:  # cooperative: nothing was revoked from a survivor
            revoked = [e for e in members[n].events_since(t_kill) if e["type"] in ("revoked", "lost") and e["partitions"]]
            assert not revoked, f"{n} gave up partitions in the takeover: {revoked}"
    want = {(t, p, o) for (t, p), c in produced.items() for o in range(c)}
    wait_until(lambda: {r for n in names for r in members[n].records()} >= want, 40,
               f"all {len(want)} records to be consumed", show)
    results = {n: members[n].stop() for n in survivors}
    try:
        counts = check_takeover(produced, {n: members[n].records() for n in names}, victim, victim_parts, at_kill)
    except AssertionError as e:
        # The rebalance callbacks (with the committed offsets a confluent member read on assignment).
        events = {n: [{k: v for k, v in ev.items() if k != "at"} for ev in members[n].events_since(t_kill)]
                  for n in survivors}
        raise AssertionError(f"{e}\ncommitted at the kill: {at_kill}\nsurvivors' callbacks since the kill: {events}") from None
    final = committed(b.port, group, topic, partitions)
    assert final == produced, f"final commits {final} != log end offsets {produced}"
    return {"formed_s": round(formed_s, 1), "takeover_s": round(takeover_s, 1), "results": results,
            "protocol": view["protocol"], **counts}


def scale_up_cooperatively(b, group: str, topic: str, partitions: int, members: dict[str, MemberProcess],
                           name: str, start, listeners: bool = True) -> float:
    """Incremental cooperative rebalancing (KIP-429) when a member joins a stable group: once the
    current members share `topic`, `start()` adds member `name` (into `members`); the group settles
    with everyone, the old members keep a subset of what they had, and (with rebalance listeners)
    each revoked exactly the partitions that moved — an eager protocol would revoke everything.
    Returns the seconds from the join to the balanced group."""
    every = {f"{topic}:{p}" for p in range(partitions)}
    old = list(members)
    show = group_detail(b.port, group, members.values())
    before = wait_balanced(b.port, group, old, every, 60, show)
    if listeners:
        wait_until(lambda: all(members[n].owned() == set(before["members"][n]["assignment"]) for n in old),
                   20, "rebalance listeners to report the broker's assignment", show)
    t_join = time.monotonic()
    members[name] = start()
    show = group_detail(b.port, group, members.values())
    after = wait_balanced(b.port, group, [*old, name], every, 60, show)
    took = time.monotonic() - t_join
    for n in old:
        kept, had = set(after["members"][n]["assignment"]), set(before["members"][n]["assignment"])
        assert kept <= had, f"{n} was given other partitions instead of keeping its own: {had} -> {kept}"
    if listeners:
        wait_until(lambda: all(members[n].owned() == set(after["members"][n]["assignment"]) for n in members),
                   20, "rebalance listeners to report the new assignment", show)
        for n in old:
            revoked = set().union(*(set(e["partitions"]) for e in members[n].events_since(t_join)
                                    if e["type"] in ("revoked", "lost")))
            moved = set(before["members"][n]["assignment"]) - set(after["members"][n]["assignment"])
            assert revoked == moved, f"{n} revoked {sorted(revoked)}, but only {sorted(moved)} moved"
    return took
