"""A group member that keeps a position from before an alias swap is caught (docs/kappa.md "Running
consumers", decision 0016 amendment 2): kafka-python 3.0.12 drops a SyncGroup answer that arrives after its
poll timed out and rejoins, so it can miss the generation whose assignment leaves the moved partitions out
and be assigned them "again" with the position it learned in the old target. The broker hands a member
assigned the moved partitions afresh its partitions one by one as it reads their committed offsets
(OffsetFetch); a fetch of one whose offset it did not read is answered without records, and its member has
the moved partitions left out once more. Driven on the wire (JoinGroup / SyncGroup / Heartbeat /
OffsetFetch / Fetch) so the client's misstep happens every time."""
from __future__ import annotations

import time

import pytest

import cli_support as cli
from conftest import unique
from runnel_interop import clients
from runnel_interop.group_members import wait_until
from runnel_interop.group_wire import (MEMBER_ID_REQUIRED, NONE, REBALANCE_IN_PROGRESS, GroupConnection,
                                       consumer_subscription)
from runnel_interop.wire import frame, i8, i16, i32, i64, nbytes, parse_fetch_response_v4, read_frame, request_header, string

pytestmark = pytest.mark.needs_broker

CLIENT = "kept-position-member"


def assignment(topic: str, partitions: list[int]) -> bytes:
    """ConsumerProtocolAssignment v0."""
    topics = [string(topic) + i32(len(partitions)) + b"".join(i32(p) for p in partitions)] if partitions else []
    return i16(0) + i32(len(topics)) + b"".join(topics) + nbytes(b"")


class Member:
    """One raw consumer-group member (its own client id, as a real client's connections share one)."""

    def __init__(self, port: int, group: str, alias: str):
        self.group, self.alias = group, alias
        self.coordinator = GroupConnection(port, client_id=CLIENT)
        self.fetcher = GroupConnection(port, client_id=CLIENT)
        self.member_id, self.generation = "", -1

    def join_and_sync(self, partitions: list[int]) -> bytes:
        """Joins (the only member, so the leader) and syncs with `partitions` of the alias; returns the
        assignment the broker answered."""
        protocols = [("range", consumer_subscription([self.alias]))]
        joined = self.coordinator.join(self.group, member_id=self.member_id, protocols=protocols)
        if joined["error"] == MEMBER_ID_REQUIRED:
            self.member_id = joined["member_id"]
            joined = self.coordinator.join(self.group, member_id=self.member_id, protocols=protocols)
        assert joined["error"] == NONE, joined
        self.member_id, self.generation = joined["member_id"], joined["generation"]
        synced = self.coordinator.sync(self.group, self.generation, self.member_id,
                                       assignments={self.member_id: assignment(self.alias, partitions)})
        assert synced["error"] == NONE, synced
        return synced["assignment"]

    def fetch(self, offset: int) -> dict:
        """Fetch v4 of the alias's partition 0 by name at `offset`."""
        body = (i32(-1) + i32(50) + i32(1) + i32(1 << 20) + i8(0) + i32(1) + string(self.alias)
                + i32(1) + i32(0) + i64(offset) + i32(1 << 20))
        cid = self.fetcher.next_id
        self.fetcher.next_id += 1
        self.fetcher.sock.sendall(frame(request_header(1, 4, cid, CLIENT, False) + body))
        payload = read_frame(self.fetcher.sock, time.monotonic() + 15)
        assert payload is not None, "the fetch connection closed"
        answer = parse_fetch_response_v4(payload)
        assert answer["correlation_id"] == cid and answer["error_code"] == NONE, answer
        return answer

    def heartbeat(self) -> int:
        return self.coordinator.heartbeat(self.group, self.generation, self.member_id)

    def close(self) -> None:
        self.coordinator.close()
        self.fetcher.close()


def test_a_member_fetching_at_a_kept_position_has_the_moved_partitions_left_out_once_more(broker, runnel_bin):
    b = broker.bootstrap
    port = int(b.rsplit(":", 1)[1])
    v1, v2, alias, group = unique("kp-v1"), unique("kp-v2"), unique("kp-serving"), unique("kp-group")
    for topic in (v1, v2):
        clients.create_topic(b, topic, partitions=1)
    base = int(time.time() * 1000) - 600_000
    # Event i has timestamp base + 10 i in both targets; v2 starts at event 5 (v2 offset k is event k + 5).
    assert not clients.confluent_produce(b, v1, "e", range(10), ts_base=base, ts_step=10)["errors"]
    assert not clients.confluent_produce(b, v2, "e", range(5, 10), ts_base=base, ts_step=10)["errors"]
    cli.ok(runnel_bin, "alias", "create", alias, "--to", v1, brokers=b)

    m = Member(port, group, alias)
    try:
        assert m.join_and_sync([0]) == assignment(alias, [0])
        assert len(m.fetch(0)["records"]) > 0
        # It consumed v1 up to offset 7 and committed 8: the position it keeps is 8.
        assert m.coordinator.commit(group, m.generation, m.member_id, alias, {0: 8}) == {(alias, 0): NONE}
        swapped = cli.json_out(runnel_bin, "alias", "swap", alias, "--to", v2, "--expect", v1,
                               "--translate-offsets", "--group", group, brokers=b)
        # The last record consumed (v1 offset 7, event 7) is v2 offset 2.
        assert swapped["offsets"] == {group: [{"topic": v2, "partition": 0, "offset": 2}]}, swapped
        assert m.heartbeat() == REBALANCE_IN_PROGRESS
        # The generation after the fence leaves the moved partition out; the member drops that answer (as
        # kafka-python may) and rejoins: the next generation assigns the partition again.
        assert m.join_and_sync([0]) == assignment(alias, [])
        assert m.heartbeat() == REBALANCE_IN_PROGRESS
        assert m.join_and_sync([0]) == assignment(alias, [0])
        # Without reading the committed offset it fetches at the kept position: held, no records...
        held = m.fetch(8)
        assert held["records"] == b"" and held["high_watermark"] == 5, held
        # ...and its member is sent into one more rebalance that leaves the partition out.
        wait_until(lambda: m.heartbeat() == REBALANCE_IN_PROGRESS, 10, "the rebalance after the kept position")
        assert m.coordinator.commit(group, m.generation, m.member_id, alias, {0: 8}) == {(alias, 0): REBALANCE_IN_PROGRESS}
        assert any("leave its assignment once more" in line and group in line
                   for line in broker.log_path.read_text(errors="replace").splitlines())
        assert m.join_and_sync([0]) == assignment(alias, [])
        assert m.heartbeat() == REBALANCE_IN_PROGRESS
        assert m.join_and_sync([0]) == assignment(alias, [0])
        # This time it reads the committed offset (the translated one) and fetches v2 from there.
        offsets = m.coordinator.fetch_offsets(group, alias, [0])
        assert offsets["error"] == NONE and offsets["partitions"][(alias, 0)] == (2, NONE), offsets
        answer = m.fetch(2)
        assert answer["records"] and answer["high_watermark"] == 5, answer
        assert m.heartbeat() == NONE
    finally:
        m.close()
