"""Raw group-protocol requests for the bad-input group tests: JoinGroup v3/v5, SyncGroup v3,
Heartbeat v3, LeaveGroup v3, OffsetCommit v7, OffsetFetch v5 and DescribeGroups v4 (all in the
non-flexible encoding), with a connection that pipelines requests and matches answers by
correlation id. Layouts follow shared/kafka-protocol/README.md (Kafka's message schemas)."""
from __future__ import annotations

import socket
import time

from .wire import Reader, connect, frame, i16, i32, i64, nbytes, read_frame, request_header, string

# Kafka error codes the group tests assert on.
NONE = 0
UNKNOWN_SERVER_ERROR = -1
ILLEGAL_GENERATION = 22
INCONSISTENT_GROUP_PROTOCOL = 23
INVALID_GROUP_ID = 24
UNKNOWN_MEMBER_ID = 25
INVALID_SESSION_TIMEOUT = 26
REBALANCE_IN_PROGRESS = 27
MEMBER_ID_REQUIRED = 79
GROUP_MAX_SIZE_REACHED = 81
FENCED_INSTANCE_ID = 82

JOIN_GROUP, HEARTBEAT, LEAVE_GROUP, SYNC_GROUP = 11, 12, 13, 14
OFFSET_COMMIT, OFFSET_FETCH, DESCRIBE_GROUPS = 8, 9, 15


def _nstring(s: str | None) -> bytes:
    return string(s)


def _array(items: list[bytes]) -> bytes:
    return i32(len(items)) + b"".join(items)


def consumer_subscription(topics: list[str], user_data: bytes = b"") -> bytes:
    """ConsumerProtocolSubscription v0: topics and user data (the bytes a consumer joins with)."""
    return i16(0) + _array([string(t) for t in topics]) + nbytes(user_data)


def join_group_body(group: str, member_id: str = "", instance_id: str | None = None,
                    session_ms: int = 10000, rebalance_ms: int = 10000, protocol_type: str = "consumer",
                    protocols: list[tuple[str, bytes]] | None = None, version: int = 5) -> bytes:
    protocols = protocols if protocols is not None else [("range", consumer_subscription(["t"]))]
    body = string(group) + i32(session_ms)
    if version >= 1:
        body += i32(rebalance_ms)
    body += string(member_id)
    if version >= 5:
        body += _nstring(instance_id)
    body += string(protocol_type) + _array([string(n) + nbytes(m) for n, m in protocols])
    return body


def parse_join_group(r: Reader, version: int = 5) -> dict:
    if version >= 2:
        r.i32()  # throttle
    out = {"error": r.i16(), "generation": r.i32(), "protocol": r.take(max(r.i16(), 0)).decode()}
    out["leader"] = r.take(max(r.i16(), 0)).decode()
    out["member_id"] = r.take(max(r.i16(), 0)).decode()
    members = []
    for _ in range(r.i32()):
        mid = r.take(r.i16()).decode()
        iid = None
        if version >= 5:
            n = r.i16()
            iid = None if n < 0 else r.take(n).decode()
        meta_len = r.i32()
        members.append({"member_id": mid, "instance_id": iid, "metadata_len": meta_len})
        r.take(max(meta_len, 0))
    out["members"] = members
    return out


def sync_group_body(group: str, generation: int, member_id: str, instance_id: str | None = None,
                    assignments: dict[str, bytes] | None = None) -> bytes:
    items = [string(m) + nbytes(a) for m, a in (assignments or {}).items()]
    return string(group) + i32(generation) + string(member_id) + _nstring(instance_id) + _array(items)


def parse_sync_group(r: Reader) -> dict:
    r.i32()
    error = r.i16()
    n = r.i32()
    return {"error": error, "assignment": b"" if n < 0 else r.take(n)}


def heartbeat_body(group: str, generation: int, member_id: str, instance_id: str | None = None) -> bytes:
    return string(group) + i32(generation) + string(member_id) + _nstring(instance_id)


def parse_error_only(r: Reader) -> dict:
    r.i32()
    return {"error": r.i16()}


def leave_group_body(group: str, members: list[tuple[str, str | None]]) -> bytes:
    return string(group) + _array([string(m) + _nstring(i) for m, i in members])


def parse_leave_group(r: Reader) -> dict:
    r.i32()
    error = r.i16()
    members = []
    for _ in range(r.i32()):
        mid = r.take(r.i16()).decode()
        n = r.i16()
        iid = None if n < 0 else r.take(n).decode()
        members.append({"member_id": mid, "instance_id": iid, "error": r.i16()})
    return {"error": error, "members": members}


def offset_commit_body(group: str, generation: int, member_id: str, topic: str,
                       offsets: dict[int, int], instance_id: str | None = None,
                       metadata: str | None = "") -> bytes:
    parts = [i32(p) + i64(o) + i32(-1) + _nstring(metadata) for p, o in sorted(offsets.items())]
    return (string(group) + i32(generation) + string(member_id) + _nstring(instance_id)
            + _array([string(topic) + _array(parts)]))


def parse_offset_commit(r: Reader) -> dict[tuple[str, int], int]:
    r.i32()
    out = {}
    for _ in range(r.i32()):
        topic = r.take(r.i16()).decode()
        for _ in range(r.i32()):
            p = r.i32()
            out[(topic, p)] = r.i16()
    return out


def offset_fetch_body(group: str, topic: str, partitions: list[int]) -> bytes:
    return string(group) + _array([string(topic) + _array([i32(p) for p in partitions])])


def parse_offset_fetch(r: Reader) -> dict:
    r.i32()
    out = {}
    for _ in range(r.i32()):
        topic = r.take(r.i16()).decode()
        for _ in range(r.i32()):
            p, off, _epoch = r.i32(), r.i64(), r.i32()
            n = r.i16()
            if n > 0:
                r.take(n)
            out[(topic, p)] = (off, r.i16())
    return {"partitions": out, "error": r.i16()}


def describe_groups_body(groups: list[str]) -> bytes:
    return _array([string(g) for g in groups]) + b"\x00"


def parse_describe_groups(r: Reader) -> list[dict]:
    r.i32()
    out = []
    for _ in range(r.i32()):
        g = {"error": r.i16(), "group": r.take(r.i16()).decode(), "state": r.take(r.i16()).decode(),
             "protocol_type": r.take(r.i16()).decode(), "protocol": r.take(r.i16()).decode()}
        members = []
        for _ in range(r.i32()):
            mid = r.take(r.i16()).decode()
            n = r.i16()
            iid = None if n < 0 else r.take(n).decode()
            client_id = r.take(r.i16()).decode()
            host = r.take(r.i16()).decode()
            metadata = r.take(max(r.i32(), 0))
            assignment = r.take(max(r.i32(), 0))
            members.append({"member_id": mid, "instance_id": iid, "client_id": client_id, "host": host,
                            "metadata_len": len(metadata), "assignment": assignment})
        g["members"] = members
        r.i32()  # authorized operations
        out.append(g)
    return out


VERSIONS = {JOIN_GROUP: 5, SYNC_GROUP: 3, HEARTBEAT: 3, LEAVE_GROUP: 3, OFFSET_COMMIT: 7,
            OFFSET_FETCH: 5, DESCRIBE_GROUPS: 4}


class GroupConnection:
    """One socket; `send` pipelines a request and returns its correlation id, `recv` reads answers
    in order (Kafka answers a connection's requests in the order they were sent)."""

    def __init__(self, port: int, client_id: str = "runnel-interop-groups", timeout: float = 5.0):
        self.sock: socket.socket = connect(port, timeout=timeout)
        self.client_id = client_id
        self.next_id = 1
        self.outstanding: list[tuple[int, int, int]] = []  # (correlation id, api key, version)

    def send(self, api_key: int, body: bytes, version: int | None = None) -> int:
        version = VERSIONS[api_key] if version is None else version
        cid = self.next_id
        self.next_id += 1
        self.sock.sendall(frame(request_header(api_key, version, cid, self.client_id, False) + body))
        self.outstanding.append((cid, api_key, version))
        return cid

    def recv(self, timeout: float = 15.0) -> tuple[int, Reader]:
        """The next answer: (api key, reader positioned after the correlation id)."""
        cid, api_key, version = self.outstanding.pop(0)
        payload = read_frame(self.sock, time.monotonic() + timeout)
        if payload is None:
            raise ConnectionError(f"connection closed while waiting for the answer to request {cid}")
        r = Reader(payload)
        got = r.i32()
        assert got == cid, f"answer for correlation id {got}, expected {cid}"
        return api_key, r

    def call(self, api_key: int, body: bytes, timeout: float = 15.0, version: int | None = None):
        self.send(api_key, body, version)
        return self.recv(timeout)[1]

    def close(self) -> None:
        self.sock.close()

    # ---- one-call helpers -----------------------------------------------------------------------

    def join(self, group: str, timeout: float = 15.0, version: int = 5, **kw) -> dict:
        return parse_join_group(self.call(JOIN_GROUP, join_group_body(group, version=version, **kw),
                                          timeout, version), version)

    def sync(self, group: str, generation: int, member_id: str, timeout: float = 15.0, **kw) -> dict:
        return parse_sync_group(self.call(SYNC_GROUP, sync_group_body(group, generation, member_id, **kw), timeout))

    def heartbeat(self, group: str, generation: int, member_id: str, instance_id: str | None = None) -> int:
        return parse_error_only(self.call(HEARTBEAT, heartbeat_body(group, generation, member_id, instance_id)))["error"]

    def leave(self, group: str, members: list[tuple[str, str | None]]) -> dict:
        return parse_leave_group(self.call(LEAVE_GROUP, leave_group_body(group, members)))

    def commit(self, group: str, generation: int, member_id: str, topic: str, offsets: dict[int, int],
               **kw) -> dict[tuple[str, int], int]:
        return parse_offset_commit(self.call(OFFSET_COMMIT, offset_commit_body(
            group, generation, member_id, topic, offsets, **kw)))

    def fetch_offsets(self, group: str, topic: str, partitions: list[int]) -> dict:
        return parse_offset_fetch(self.call(OFFSET_FETCH, offset_fetch_body(group, topic, partitions)))

    def describe(self, group: str) -> dict:
        [g] = parse_describe_groups(self.call(DESCRIBE_GROUPS, describe_groups_body([group])))
        return g
