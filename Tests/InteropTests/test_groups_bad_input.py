"""Hostile and wrong group requests on raw sockets against a real broker: a JoinGroup storm
(hundreds of fresh members within a second, with and without the member-id handshake), oversized
member metadata (within and beyond socket.request.max.bytes), wrong generations, unknown member
ids, fenced static instances, inconsistent protocols and bad session timeouts. Each gets Kafka's
error code, and the coordinator is not wedged: other clients are served during the storm, and
afterwards a new consumer group (confluent-kafka) forms and consumes promptly."""
from __future__ import annotations

import time

import pytest

from conftest import unique
from runnel_interop import clients, group_wire, wire
from runnel_interop.group_members import describe_group, wait_until
from runnel_interop.group_wire import (FENCED_INSTANCE_ID, ILLEGAL_GENERATION, INCONSISTENT_GROUP_PROTOCOL,
                                       INVALID_GROUP_ID, INVALID_SESSION_TIMEOUT, MEMBER_ID_REQUIRED, NONE,
                                       REBALANCE_IN_PROGRESS, UNKNOWN_MEMBER_ID, UNKNOWN_SERVER_ERROR, GroupConnection,
                                       consumer_subscription)

pytestmark = [pytest.mark.needs_broker]

CONFIGS = {"group.min.session.timeout.ms": 1000, "socket.request.max.bytes": 1 << 20}


@pytest.fixture
def b(fresh_broker):
    return fresh_broker(CONFIGS)


def join_member(conn: GroupConnection, group: str, **kw) -> dict:
    """A dynamic member's two-step join (KIP-394): MEMBER_ID_REQUIRED, then join with that id."""
    first = conn.join(group, **kw)
    assert first["error"] == MEMBER_ID_REQUIRED and first["member_id"], first
    return conn.join(group, member_id=first["member_id"], **kw)


def assert_groups_work_promptly(b, bound: float = 15.0) -> float:
    """A brand-new confluent-kafka group member gets its assignment and reads 10 records within
    `bound` seconds; returns how long it took."""
    topic, group = unique("after"), unique("g-after")
    clients.create_topic(b.bootstrap, topic, partitions=1)
    clients.confluent_produce(b.bootstrap, topic, topic, range(10))
    from confluent_kafka import Consumer
    t0 = time.monotonic()
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "session.timeout.ms": 6000, "heartbeat.interval.ms": 500, "enable.auto.commit": False})
    c.subscribe([topic])
    got = []
    try:
        while len(got) < 10:
            assert time.monotonic() - t0 < bound, f"a new group read {len(got)}/10 records in {bound}s"
            got += [m.offset() for m in c.consume(num_messages=10, timeout=0.2) if m.error() is None]
        c.commit(asynchronous=False)
    finally:
        c.close()
    assert got == list(range(10))
    return time.monotonic() - t0


@pytest.mark.timeout(90)
def test_join_storm_answers_every_join_and_leaves_the_coordinator_responsive(b):
    # 1. 400 joins without member ids (v5): each gets MEMBER_ID_REQUIRED and a distinct pending id.
    g1 = unique("storm-pending")
    conns = [GroupConnection(b.port) for _ in range(8)]
    t0 = time.monotonic()
    for i in range(400):
        conns[i % 8].send(group_wire.JOIN_GROUP, group_wire.join_group_body(g1, session_ms=2500, rebalance_ms=2000))
    answers = [group_wire.parse_join_group(c.recv(10)[1]) for c in conns for _ in range(50)]
    pending_s = time.monotonic() - t0
    for c in conns:
        c.close()
    assert {a["error"] for a in answers} == {MEMBER_ID_REQUIRED}
    assert len({a["member_id"] for a in answers}) == 400 and all(a["member_id"] for a in answers)

    # 2. 100 of those pending ids complete their join at once: one generation of exactly those 100, once
    # the other 300 pending ids have expired (session 2.5 s): pending ids hold the join phase open.
    rejoin = [GroupConnection(b.port) for _ in range(100)]
    t2 = time.monotonic()
    for c, a in zip(rejoin, answers):
        c.send(group_wire.JOIN_GROUP, group_wire.join_group_body(g1, member_id=a["member_id"], session_ms=2500,
                                                                  rebalance_ms=2000))
    second = [group_wire.parse_join_group(c.recv(20)[1]) for c in rejoin]
    second_s = time.monotonic() - t2
    for c in rejoin:
        c.close()
    assert {a["error"] for a in second} == {NONE} and len({a["generation"] for a in second}) == 1, second[:3]
    [leader] = [a for a in second if a["member_id"] == a["leader"]]
    assert sorted(m["member_id"] for m in leader["members"]) == sorted(a["member_id"] for a in answers[:100])

    # 3. 200 fresh members joining at once without the handshake (v3), each on its own connection:
    # every join is parked until a rebalance completes and then answered.
    g2 = unique("storm-members")
    storm = [GroupConnection(b.port) for _ in range(200)]
    t1 = time.monotonic()
    for c in storm:
        c.send(group_wire.JOIN_GROUP, group_wire.join_group_body(g2, session_ms=1000, rebalance_ms=2000, version=3),
               version=3)
    # Meanwhile other clients are served at once: ApiVersions and a group lookup on fresh connections.
    served = time.monotonic()
    resp = wire.api_versions_roundtrip(b.port, version=3, timeout=5)
    assert resp["error_code"] == 0
    other = GroupConnection(b.port)
    assert other.describe(unique("nobody"))["state"] in ("Dead", "")
    other.close()
    served = time.monotonic() - served
    storm_answers = []
    for c in storm:
        storm_answers.append(group_wire.parse_join_group(c.recv(30)[1], version=3))
        c.close()
    storm_s = time.monotonic() - t1
    errors = [a["error"] for a in storm_answers]
    assert set(errors) <= {NONE, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS}, errors
    ok = [a for a in storm_answers if a["error"] == NONE]
    # Most joined one generation together; its leader got every member of that generation.
    assert len(ok) >= 150, errors
    biggest = max(ok, key=lambda a: a["generation"])
    leaders = [a for a in ok if a["generation"] == biggest["generation"] and a["member_id"] == a["leader"]]
    assert len(leaders) == 1 and len(leaders[0]["members"]) == sum(
        1 for a in ok if a["generation"] == biggest["generation"])

    # 4. The storm's members never sync or heartbeat: the group empties within session/rebalance bounds.
    wait_until(lambda: describe_group(b.port, g2)["state"] == "Empty", 20, "the storm group to empty",
               lambda: str(describe_group(b.port, g2)))
    # Step 2's members never sync: after the rebalance timeout a real member joins that group alone.
    conn = GroupConnection(b.port)
    joined = wait_until(lambda: (j := join_member(conn, g1, session_ms=6000, rebalance_ms=5000))["error"] == NONE and j,
                        15, "a normal join to the first storm group")
    assert joined["leader"] == joined["member_id"] and len(joined["members"]) == 1
    conn.close()
    took = assert_groups_work_promptly(b)
    print(f"\njoin storm: 400 MEMBER_ID_REQUIRED in {pending_s:.2f}s; 100 of them joined one generation in "
          f"{second_s:.1f}s; 200 parked joins answered in {storm_s:.1f}s "
          f"({len(ok)} joined generation {biggest['generation']}); other clients served in {served:.2f}s during "
          f"the storm; a new group read 10 records {took:.1f}s after")


@pytest.mark.timeout(60)
def test_oversized_member_metadata_is_refused_or_stored_without_wedging(b):
    group = unique("big-meta")
    # Beyond socket.request.max.bytes (1 MiB here): the connection is closed, nothing else happens.
    s = wire.connect(b.port)
    big = group_wire.join_group_body(group, protocols=[("range", b"\x00" * (2 << 20))])
    try:
        s.sendall(wire.frame(wire.request_header(11, 5, 1, "big", False) + big))
    except OSError:
        pass  # closed while we were still sending: that is the expected answer
    assert wire.wait_closed(s, time.monotonic() + 15) == b""
    s.close()
    # Within the limit: 700 KiB of subscription user data and 500 protocols are Kafka-legal.
    conn = GroupConnection(b.port)
    meta = consumer_subscription(["t"], user_data=b"\x01" * (700 << 10))
    joined = join_member(conn, group, protocols=[("range", meta)], session_ms=6000)
    assert joined["error"] == NONE and joined["members"][0]["metadata_len"] == len(meta)
    synced = conn.sync(group, joined["generation"], joined["member_id"],
                       assignments={joined["member_id"]: b"\x02" * (200 << 10)})
    assert synced["error"] in (NONE, -1), synced  # stored, or UNKNOWN_SERVER_ERROR as Kafka answers a too-large record
    many = [(f"proto-{i}", b"\x00" * 100) for i in range(500)]
    group2 = unique("many-protocols")
    j2 = join_member(conn, group2, protocols=many, protocol_type="custom", session_ms=6000)
    assert j2["error"] == NONE and j2["protocol"] == "proto-0"
    assert conn.sync(group2, j2["generation"], j2["member_id"], assignments={j2["member_id"]: b"x"})["error"] == NONE
    conn.close()
    view = describe_group(b.port, group2)
    assert view["state"] == "Stable" and view["protocol"] == "proto-0"
    assert_groups_work_promptly(b)


@pytest.mark.timeout(60)
def test_wrong_generations_unknown_members_and_fenced_instances_get_kafka_errors(b):
    group, topic = unique("fencing"), unique("fencing-t")
    clients.create_topic(b.bootstrap, topic, partitions=2)
    ca, cb = GroupConnection(b.port), GroupConnection(b.port)
    a = join_member(ca, group, session_ms=10000, rebalance_ms=3000)
    assert a["error"] == NONE and a["leader"] == a["member_id"]
    gen1 = a["generation"]
    # B is a static member: it joins without the handshake; A must rejoin for the new generation.
    cb.send(group_wire.JOIN_GROUP, group_wire.join_group_body(group, instance_id="inst-b", session_ms=10000,
                                                               rebalance_ms=3000))
    wait_until(lambda: ca.heartbeat(group, gen1, a["member_id"]) == REBALANCE_IN_PROGRESS, 10,
               "the static member's join to start a rebalance")
    a = ca.join(group, member_id=a["member_id"], session_ms=10000, rebalance_ms=3000)
    bj = group_wire.parse_join_group(cb.recv(10)[1])
    assert a["error"] == bj["error"] == NONE and a["generation"] == bj["generation"] > gen1
    gen, ma, mb = a["generation"], a["member_id"], bj["member_id"]
    cb.send(group_wire.SYNC_GROUP, group_wire.sync_group_body(group, gen, mb, "inst-b"))
    assert ca.sync(group, gen, ma, assignments={ma: b"A", mb: b"B"})["error"] == NONE
    assert group_wire.parse_sync_group(cb.recv(10)[1]) == {"error": NONE, "assignment": b"B"}

    # Wrong generations.
    assert ca.heartbeat(group, gen + 1, ma) == ILLEGAL_GENERATION
    assert ca.heartbeat(group, gen - 1, ma) == ILLEGAL_GENERATION
    assert ca.sync(group, gen + 5, ma)["error"] == ILLEGAL_GENERATION
    assert ca.commit(group, gen + 1, ma, topic, {0: 5}) == {(topic, 0): ILLEGAL_GENERATION}
    assert ca.commit(group, gen - 1, ma, topic, {0: 5}) == {(topic, 0): ILLEGAL_GENERATION}
    # Unknown member ids.
    assert ca.heartbeat(group, gen, "nobody") == UNKNOWN_MEMBER_ID
    assert ca.sync(group, gen, "nobody")["error"] == UNKNOWN_MEMBER_ID
    assert ca.commit(group, gen, "nobody", topic, {0: 5}) == {(topic, 0): UNKNOWN_MEMBER_ID}
    assert ca.join(group, member_id="nobody")["error"] == UNKNOWN_MEMBER_ID
    assert ca.join(unique("no-such-group"), member_id="nobody")["error"] == UNKNOWN_MEMBER_ID
    assert ca.heartbeat(unique("no-such-group"), 1, "nobody") == UNKNOWN_MEMBER_ID
    left = ca.leave(group, [("nobody", None)])
    assert left["error"] == NONE and [m["error"] for m in left["members"]] == [UNKNOWN_MEMBER_ID]
    # Static instance with another member id: fenced.
    assert cb.heartbeat(group, gen, mb, "inst-b") == NONE
    assert cb.heartbeat(group, gen, "impostor", "inst-b") == FENCED_INSTANCE_ID
    assert cb.heartbeat(group, gen, mb, "inst-unknown") == UNKNOWN_MEMBER_ID
    # Inconsistent protocols, bad session timeouts, empty group id.
    assert ca.join(group, member_id="", protocol_type="connect")["error"] == INCONSISTENT_GROUP_PROTOCOL
    assert ca.join(group, member_id="", protocols=[("roundrobin", b"")])["error"] == INCONSISTENT_GROUP_PROTOCOL
    assert ca.join(group, session_ms=10)["error"] == INVALID_SESSION_TIMEOUT
    assert ca.join(group, session_ms=3_600_000)["error"] == INVALID_SESSION_TIMEOUT
    assert ca.join("")["error"] == INVALID_GROUP_ID
    # None of that disturbed the group: same generation, both members, commits from members land.
    assert ca.heartbeat(group, gen, ma) == NONE
    assert ca.commit(group, gen, ma, topic, {0: 7, 1: 9}) == {(topic, 0): NONE, (topic, 1): NONE}

    # The static instance restarts (empty member id): it takes its slot without a rebalance, and the
    # old incarnation is fenced everywhere.
    cb2 = GroupConnection(b.port)
    b2 = cb2.join(group, instance_id="inst-b", session_ms=10000, rebalance_ms=3000)
    assert b2["error"] == NONE and b2["generation"] == gen and b2["member_id"] != mb
    assert cb2.sync(group, gen, b2["member_id"], instance_id="inst-b") == {"error": NONE, "assignment": b"B"}
    assert cb.heartbeat(group, gen, mb, "inst-b") == FENCED_INSTANCE_ID
    assert cb.commit(group, gen, mb, topic, {0: 1}, instance_id="inst-b") == {(topic, 0): FENCED_INSTANCE_ID}
    assert cb.sync(group, gen, mb, instance_id="inst-b")["error"] == FENCED_INSTANCE_ID
    fenced_leave = cb.leave(group, [(mb, "inst-b")])
    assert [m["error"] for m in fenced_leave["members"]] == [FENCED_INSTANCE_ID]
    assert ca.heartbeat(group, gen, ma) == NONE  # still no rebalance
    view = describe_group(b.port, group)
    assert view["state"] == "Stable" and sorted(m["member_id"] for m in view["all"]) == sorted([ma, b2["member_id"]])
    assert ca.fetch_offsets(group, topic, [0, 1])["partitions"] == {(topic, 0): (7, NONE), (topic, 1): (9, NONE)}
    # Both leave; the group empties.
    done = ca.leave(group, [(ma, None), ("", "inst-b")])
    assert [m["error"] for m in done["members"]] == [NONE, NONE]
    assert describe_group(b.port, group)["state"] == "Empty"
    for c in (ca, cb, cb2):
        c.close()
    assert_groups_work_promptly(b)


@pytest.mark.timeout(60)
def test_static_leader_restarted_with_join_group_v5_is_answered_as_a_follower(b):
    """KIP-345/KIP-814 as Kafka answers a static leader that restarts (empty member id) into a stable
    group: the generation stays; before JoinGroup v9 (no SkipAssignment) the new incarnation gets no
    member list and the previous leader id, so it does not compute an assignment the stable group
    would never distribute; its SyncGroup returns its stored assignment."""
    group = unique("static-leader")
    cl, cf = GroupConnection(b.port), GroupConnection(b.port)
    lead = cl.join(group, instance_id="leader", session_ms=10000, rebalance_ms=3000)
    assert lead["error"] == NONE and lead["leader"] == lead["member_id"]
    cf.send(group_wire.JOIN_GROUP, group_wire.join_group_body(group, instance_id="follower", session_ms=10000,
                                                               rebalance_ms=3000))
    wait_until(lambda: cl.heartbeat(group, lead["generation"], lead["member_id"], "leader") == REBALANCE_IN_PROGRESS,
               10, "the follower's join to start a rebalance")
    lead = cl.join(group, member_id=lead["member_id"], instance_id="leader", session_ms=10000, rebalance_ms=3000)
    fol = group_wire.parse_join_group(cf.recv(10)[1])
    gen, leader_id = lead["generation"], lead["member_id"]
    assert fol["generation"] == gen and fol["leader"] == leader_id and len(lead["members"]) == 2
    cf.send(group_wire.SYNC_GROUP, group_wire.sync_group_body(group, gen, fol["member_id"], "follower"))
    assert cl.sync(group, gen, leader_id, instance_id="leader",
                   assignments={leader_id: b"L", fol["member_id"]: b"F"})["error"] == NONE
    assert group_wire.parse_sync_group(cf.recv(10)[1])["assignment"] == b"F"

    cl2 = GroupConnection(b.port)
    again = cl2.join(group, instance_id="leader", session_ms=10000, rebalance_ms=3000)
    assert again["error"] == NONE and again["generation"] == gen and again["member_id"] != leader_id
    assert again["leader"] == leader_id and again["members"] == [], again
    assert cl2.sync(group, gen, again["member_id"], instance_id="leader") == {"error": NONE, "assignment": b"L"}
    assert cf.heartbeat(group, gen, fol["member_id"], "follower") == NONE  # no rebalance
    assert cl.heartbeat(group, gen, leader_id, "leader") == FENCED_INSTANCE_ID
    for c in (cl, cf, cl2):
        c.close()


@pytest.mark.timeout(90)
def test_group_metadata_record_over_a_mebibyte_is_refused_with_kafkas_error_and_the_broker_restarts(b):
    """Two members with 700 KiB subscriptions each: the group metadata record the leader's SyncGroup
    writes is ~1.4 MiB, over __consumer_offsets' message size limit (Kafka's default message.max.bytes).
    As in Kafka, the SyncGroups waiting for that write get UNKNOWN_SERVER_ERROR (not a retriable
    coordinator error no retry could fix) and the group rebalances; after a restart the coordinator loads and groups work."""
    group = unique("huge-group")
    meta = consumer_subscription(["t"], user_data=b"\x03" * (700 << 10))
    c1, c2 = GroupConnection(b.port), GroupConnection(b.port)
    m1 = join_member(c1, group, protocols=[("range", meta)], session_ms=20000, rebalance_ms=5000)
    first = c2.join(group, protocols=[("range", meta)], session_ms=20000, rebalance_ms=5000)
    assert first["error"] == MEMBER_ID_REQUIRED
    c2.send(group_wire.JOIN_GROUP, group_wire.join_group_body(group, member_id=first["member_id"],
                                                               protocols=[("range", meta)], session_ms=20000,
                                                               rebalance_ms=5000))
    wait_until(lambda: c1.heartbeat(group, m1["generation"], m1["member_id"]) == REBALANCE_IN_PROGRESS, 10,
               "the second member's join to start a rebalance")
    lead = c1.join(group, member_id=m1["member_id"], protocols=[("range", meta)], session_ms=20000, rebalance_ms=5000)
    other = group_wire.parse_join_group(c2.recv(15)[1])
    assert lead["error"] == other["error"] == NONE and len(lead["members"]) == 2
    assert all(m["metadata_len"] == len(meta) for m in lead["members"])
    c2.send(group_wire.SYNC_GROUP, group_wire.sync_group_body(group, lead["generation"], other["member_id"]))
    synced = c1.sync(group, lead["generation"], lead["member_id"],
                     assignments={lead["member_id"]: b"1", other["member_id"]: b"2"})
    follower = group_wire.parse_sync_group(c2.recv(15)[1])
    # The leader's SyncGroup carries the write that fails: UNKNOWN_SERVER_ERROR. The follower's SyncGroup
    # was sent first, but on another connection: parked before the write, it gets the same error (as in
    # Kafka's resetAndPropagateAssignmentError); arriving after the failed write began the rebalance, it
    # gets REBALANCE_IN_PROGRESS, as Kafka answers then.
    assert synced["error"] == UNKNOWN_SERVER_ERROR, (synced, follower)
    assert follower["error"] in (UNKNOWN_SERVER_ERROR, REBALANCE_IN_PROGRESS), (synced, follower)
    assert describe_group(b.port, group)["state"] == "PreparingRebalance"
    assert c1.heartbeat(group, lead["generation"], lead["member_id"]) == REBALANCE_IN_PROGRESS
    for c in (c1, c2):
        c.close()
    b.restart(graceful=True)
    view = wait_until(lambda: (v := describe_group(b.port, group))["error"] == NONE and v, 20,
                      "the coordinator to answer for the group again")
    assert view["state"] in ("Empty", "Dead"), view
    assert_groups_work_promptly(b)


@pytest.mark.timeout(60)
def test_offset_commit_too_large_for_the_log_gets_unknown_server_error(fresh_broker):
    """offset.metadata.max.bytes raised to 32000 lets 40 offsets with 30 KB metadata each past the
    per-offset check, but the commit's record batch (~1.2 MB) is over __consumer_offsets' limit:
    UNKNOWN_SERVER_ERROR for every partition, as Kafka answers (COORDINATOR_NOT_AVAILABLE would make
    clients rediscover the coordinator and retry forever); nothing is stored, and a normal commit lands."""
    b = fresh_broker({"offset.metadata.max.bytes": 32000})
    topic, group = unique("big-commit"), unique("g-big-commit")
    clients.create_topic(b.bootstrap, topic, partitions=40)
    conn = GroupConnection(b.port)
    res = conn.commit(group, -1, "", topic, {p: 5 for p in range(40)}, metadata="m" * 30000)
    assert res == {(topic, p): UNKNOWN_SERVER_ERROR for p in range(40)}
    assert conn.fetch_offsets(group, topic, [0, 39])["partitions"] == {(topic, 0): (-1, NONE), (topic, 39): (-1, NONE)}
    # The per-offset limit still applies, and small commits land.
    assert conn.commit(group, -1, "", topic, {0: 5}, metadata="m" * 32001) == {(topic, 0): 12}  # OFFSET_METADATA_TOO_LARGE
    assert conn.commit(group, -1, "", topic, {0: 7, 39: 9}, metadata="ok") == {(topic, 0): NONE, (topic, 39): NONE}
    assert conn.fetch_offsets(group, topic, [0, 39])["partitions"] == {(topic, 0): (7, NONE), (topic, 39): (9, NONE)}
    conn.close()
