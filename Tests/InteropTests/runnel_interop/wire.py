"""Raw Kafka wire encoding for the interop tests: just enough to probe a broker (ApiVersions),
to send deliberately malformed frames, and to produce a hand-built (possibly corrupt) record batch.
Encodings follow the protocol guide in shared/kafka-protocol/README.md; integers are big-endian."""
from __future__ import annotations

import socket
import struct
import time

import crc32c as _crc32c

# Kafka error codes the tests assert on.
NONE = 0
CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
LEADER_NOT_AVAILABLE = 5
NOT_LEADER_OR_FOLLOWER = 6
REQUEST_TIMED_OUT = 7
NOT_ENOUGH_REPLICAS = 19
NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20
FENCED_LEADER_EPOCH = 74
UNSUPPORTED_VERSION = 35
INVALID_REQUEST = 42

API_NAMES = {
    0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit", 9: "OffsetFetch",
    10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat", 13: "LeaveGroup", 14: "SyncGroup",
    15: "DescribeGroups", 16: "ListGroups", 17: "SaslHandshake", 18: "ApiVersions",
    19: "CreateTopics", 20: "DeleteTopics", 21: "DeleteRecords", 22: "InitProducerId",
    23: "OffsetForLeaderEpoch", 24: "AddPartitionsToTxn", 25: "AddOffsetsToTxn", 26: "EndTxn",
    27: "WriteTxnMarkers", 28: "TxnOffsetCommit", 29: "DescribeAcls", 30: "CreateAcls",
    31: "DeleteAcls", 32: "DescribeConfigs", 33: "AlterConfigs", 34: "AlterReplicaLogDirs",
    35: "DescribeLogDirs", 36: "SaslAuthenticate", 37: "CreatePartitions",
    38: "CreateDelegationToken", 39: "RenewDelegationToken", 40: "ExpireDelegationToken",
    41: "DescribeDelegationToken", 42: "DeleteGroups", 43: "ElectLeaders",
    44: "IncrementalAlterConfigs", 45: "AlterPartitionReassignments",
    46: "ListPartitionReassignments", 47: "OffsetDelete", 48: "DescribeClientQuotas",
    49: "AlterClientQuotas", 50: "DescribeUserScramCredentials", 51: "AlterUserScramCredentials",
    55: "DescribeQuorum", 57: "UpdateFeatures", 60: "DescribeCluster", 61: "DescribeProducers",
    64: "UnregisterBroker", 65: "DescribeTransactions", 66: "ListTransactions",
    68: "ConsumerGroupHeartbeat", 69: "ConsumerGroupDescribe", 71: "GetTelemetrySubscriptions",
    72: "PushTelemetry", 74: "ListConfigResources", 75: "DescribeTopicPartitions",
    76: "ShareGroupHeartbeat", 77: "ShareGroupDescribe", 78: "ShareFetch", 79: "ShareAcknowledge",
    88: "StreamsGroupHeartbeat", 89: "StreamsGroupDescribe",
}

# First version of each API that uses the flexible (compact + tagged fields) encoding, for the
# APIs whose request header version the capture tool and the tests need to know.
FLEXIBLE_FROM = {0: 9, 1: 12, 2: 6, 3: 9, 8: 8, 9: 6, 10: 3, 11: 6, 12: 4, 13: 4, 14: 4, 15: 5,
                 16: 3, 18: 3, 19: 5, 20: 4, 21: 2, 22: 2, 23: 4, 32: 4, 33: 2, 35: 2, 37: 2,
                 42: 2, 44: 1, 60: 0, 61: 0, 75: 0}

# Version ranges Kafka 4.3's schemas allow (shared/kafka-protocol/README.md); a broker may
# advertise a sub-range, never versions outside it.
KAFKA_43_VERSIONS = {
    0: (3, 13), 1: (4, 18), 2: (1, 11), 3: (0, 13), 8: (2, 10), 9: (1, 10),
    10: (0, 6), 11: (0, 9), 12: (0, 4), 13: (0, 5), 14: (0, 5), 15: (0, 6),
    16: (0, 5), 17: (0, 1), 18: (0, 4), 19: (2, 7), 20: (1, 6), 21: (0, 2),
    22: (0, 6), 23: (2, 4), 24: (0, 5), 25: (0, 4), 26: (0, 5), 27: (1, 2),
    28: (0, 5), 29: (1, 3), 30: (1, 3), 31: (1, 3), 32: (1, 4), 33: (0, 2),
    34: (1, 2), 35: (1, 5), 36: (0, 2), 37: (0, 3), 38: (1, 3), 39: (1, 2),
    40: (1, 2), 41: (1, 3), 42: (0, 2), 43: (0, 2), 44: (0, 1), 45: (0, 1),
    46: (0, 0), 47: (0, 0), 48: (0, 1), 49: (0, 1), 50: (0, 0), 51: (0, 0),
    52: (0, 2), 53: (0, 1), 54: (0, 1), 55: (0, 2), 56: (2, 3), 57: (0, 2),
    58: (0, 0), 59: (0, 1), 60: (0, 2), 61: (0, 0), 62: (0, 4), 63: (0, 2),
    64: (0, 0), 65: (0, 0), 66: (0, 2), 67: (0, 0), 68: (0, 1), 69: (0, 1),
    70: (0, 0), 71: (0, 0), 72: (0, 0), 73: (0, 0), 74: (0, 1), 75: (0, 0),
    76: (1, 1), 77: (1, 1), 78: (1, 2), 79: (1, 2), 80: (0, 1), 81: (0, 0),
    82: (0, 0), 83: (0, 0), 84: (0, 0), 85: (0, 1), 86: (0, 0), 87: (0, 1),
    88: (0, 0), 89: (0, 0), 90: (0, 1), 91: (0, 0), 92: (0, 0),
}


def api_name(key: int) -> str:
    return API_NAMES.get(key, f"ApiKey{key}")


# ---- primitives -------------------------------------------------------------------------------

def i8(v: int) -> bytes: return struct.pack(">b", v)
def i16(v: int) -> bytes: return struct.pack(">h", v)
def i32(v: int) -> bytes: return struct.pack(">i", v)
def i64(v: int) -> bytes: return struct.pack(">q", v)
def u32(v: int) -> bytes: return struct.pack(">I", v)


def uvarint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint(v: int) -> bytes:
    """Zig-zag signed varint (record fields)."""
    return uvarint((v << 1) ^ (v >> 63))


def string(s: str | None) -> bytes:
    if s is None:
        return i16(-1)
    b = s.encode()
    return i16(len(b)) + b


def compact_string(s: str | None) -> bytes:
    if s is None:
        return uvarint(0)
    b = s.encode()
    return uvarint(len(b) + 1) + b


def nbytes(b: bytes | None) -> bytes:
    if b is None:
        return i32(-1)
    return i32(len(b)) + b


def frame(payload: bytes) -> bytes:
    return i32(len(payload)) + payload


class Reader:
    """Bounds-checked big-endian reader over a response body."""

    def __init__(self, data: bytes, pos: int = 0):
        self.data, self.pos = data, pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(f"short read: need {n} at {self.pos} of {len(self.data)}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def i8(self): return struct.unpack(">b", self.take(1))[0]
    def i16(self): return struct.unpack(">h", self.take(2))[0]
    def i32(self): return struct.unpack(">i", self.take(4))[0]
    def i64(self): return struct.unpack(">q", self.take(8))[0]

    def uvarint(self) -> int:
        shift = result = 0
        while True:
            b = self.take(1)[0]
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise ValueError("varint too long")

    def string(self) -> str | None:
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def compact_string(self) -> str | None:
        n = self.uvarint()
        return None if n == 0 else self.take(n - 1).decode()

    def skip_tags(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())

    def remaining(self) -> int:
        return len(self.data) - self.pos


# ---- request headers and requests ---------------------------------------------------------------

def request_header(api_key: int, version: int, correlation_id: int, client_id: str | None,
                   flexible: bool) -> bytes:
    """Request header v1 (non-flexible) or v2 (flexible: adds an empty tagged-field section)."""
    h = i16(api_key) + i16(version) + i32(correlation_id) + string(client_id)
    return h + (uvarint(0) if flexible else b"")


def api_versions_request(version: int, correlation_id: int, client_id: str = "runnel-interop") -> bytes:
    """A framed ApiVersions request; v3+ carries client software name and version."""
    flexible = version >= 3
    body = b""
    if flexible:
        body = compact_string("runnel-interop") + compact_string("1.0") + uvarint(0)
    return frame(request_header(18, version, correlation_id, client_id, flexible) + body)


def parse_api_versions_response(payload: bytes, version: int) -> dict:
    """Parses an ApiVersions response (header v0 always). An UNSUPPORTED_VERSION answer is in the
    v0 body format whatever version was asked for, as Kafka does."""
    r = Reader(payload)
    corr = r.i32()
    error = r.i16()
    apis = {}
    if version >= 3 and error != UNSUPPORTED_VERSION:
        for _ in range(r.uvarint() - 1):
            key, lo, hi = r.i16(), r.i16(), r.i16()
            r.skip_tags()
            apis[key] = (lo, hi)
    else:
        for _ in range(r.i32()):
            key, lo, hi = r.i16(), r.i16(), r.i16()
            apis[key] = (lo, hi)
    return {"correlation_id": corr, "error_code": error, "api_versions": apis}


def metadata_request_v1(correlation_id: int, topics: list[str] | None = None) -> bytes:
    body = i32(-1) if topics is None else i32(len(topics)) + b"".join(string(t) for t in topics)
    return frame(request_header(3, 1, correlation_id, "runnel-interop", False) + body)


def metadata_request_v7(correlation_id: int, topics: list[str] | None = None) -> bytes:
    body = i32(-1) if topics is None else i32(len(topics)) + b"".join(string(t) for t in topics)
    return frame(request_header(3, 7, correlation_id, "runnel-interop", False) + body + i8(0))


def parse_metadata_v7(payload: bytes) -> dict:
    """{brokers: {id: (host, port)}, controller_id, topics: {name: {error_code, partitions: {index:
    {error_code, leader, leader_epoch, replicas, isr, offline}}}}}"""
    r = Reader(payload)
    out = {"correlation_id": r.i32(), "throttle_time_ms": r.i32(), "brokers": {}, "topics": {}}
    for _ in range(r.i32()):
        node, host, port = r.i32(), r.string(), r.i32()
        r.string()  # rack
        out["brokers"][node] = (host, port)
    out["cluster_id"] = r.string()
    out["controller_id"] = r.i32()

    def ints() -> list[int]:
        return [r.i32() for _ in range(max(0, r.i32()))]
    for _ in range(r.i32()):
        err, name = r.i16(), r.string()
        r.i8()  # is_internal
        parts = {}
        for _ in range(r.i32()):
            perr, index, leader, epoch = r.i16(), r.i32(), r.i32(), r.i32()
            parts[index] = {"error_code": perr, "leader": leader, "leader_epoch": epoch,
                            "replicas": ints(), "isr": ints(), "offline": ints()}
        out["topics"][name] = {"error_code": err, "partitions": parts}
    return out


def metadata(port: int, topics: list[str] | None = None, timeout: float = 5.0) -> dict:
    """One Metadata v7 round trip against the broker on `port` (raises on any failure)."""
    deadline = time.monotonic() + timeout
    with connect(port, timeout) as s:
        s.sendall(metadata_request_v7(11, topics))
        payload = read_frame(s, deadline)
        if payload is None:
            raise ConnectionError("broker closed the connection instead of answering Metadata")
        return parse_metadata_v7(payload)


def find_coordinator(port: int, key: str, key_type: int = 0, timeout: float = 5.0) -> dict:
    """FindCoordinator v1 (key_type 0 = group, 1 = transaction): {error_code, error_message, node_id, host, port}."""
    deadline = time.monotonic() + timeout
    with connect(port, timeout) as s:
        s.sendall(frame(request_header(10, 1, 31, "runnel-interop", False) + string(key) + i8(key_type)))
        payload = read_frame(s, deadline)
        if payload is None:
            raise ConnectionError("broker closed the connection instead of answering FindCoordinator")
        r = Reader(payload)
        r.i32()  # correlation id
        r.i32()  # throttle
        return {"error_code": r.i16(), "error_message": r.string(), "node_id": r.i32(), "host": r.string(),
                "port": r.i32()}


def java_string_hash(s: str) -> int:
    """Java's String.hashCode (Kafka maps a group / transactional id to an internal partition with it)."""
    h = 0
    units = s.encode("utf-16-be")
    for (unit,) in struct.iter_unpack(">H", units):  # over UTF-16 code units, as Java does
        h = (31 * h + unit) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def coordinator_partition(key: str, partitions: int = 50) -> int:
    """Kafka's Utils.abs(key.hashCode()) % partitions (Utils.abs maps MIN_VALUE to 0)."""
    h = java_string_hash(key)
    return (0 if h == -(1 << 31) else abs(h)) % partitions


def produce(port: int, topic: str, partition: int, records: bytes, acks: int = -1,
            timeout_ms: int = 10000, timeout: float | None = None) -> dict:
    """One Produce v8 round trip: the partition's result {error_code, base_offset, error_message, ...}."""
    deadline = time.monotonic() + (timeout if timeout is not None else timeout_ms / 1000 + 10)
    with connect(port, 5.0) as s:
        s.sendall(produce_request_v8(21, topic, partition, records, acks=acks, timeout_ms=timeout_ms))
        payload = read_frame(s, deadline)
        if payload is None:
            raise ConnectionError("broker closed the connection instead of answering Produce")
        return parse_produce_response_v8(payload)["topics"][0]["partitions"][0]


def produce_request_v8(correlation_id: int, topic: str, partition: int, records: bytes,
                       acks: int = -1, timeout_ms: int = 10000) -> bytes:
    """Produce v8 (the newest non-flexible version): one topic, one partition."""
    body = (string(None) + i16(acks) + i32(timeout_ms) + i32(1) + string(topic) + i32(1)
            + i32(partition) + nbytes(records))
    return frame(request_header(0, 8, correlation_id, "runnel-interop", False) + body)


def parse_produce_response_v8(payload: bytes) -> dict:
    r = Reader(payload)
    out = {"correlation_id": r.i32(), "topics": []}
    for _ in range(r.i32()):
        topic = {"name": r.string(), "partitions": []}
        for _ in range(r.i32()):
            p = {"index": r.i32(), "error_code": r.i16(), "base_offset": r.i64(),
                 "log_append_time_ms": r.i64(), "log_start_offset": r.i64(), "record_errors": []}
            for _ in range(r.i32()):
                p["record_errors"].append((r.i32(), r.string()))
            p["error_message"] = r.string()
            topic["partitions"].append(p)
        out["topics"].append(topic)
    out["throttle_time_ms"] = r.i32()
    return out


# ---- record batch v2 ------------------------------------------------------------------------------

def record(offset_delta: int, timestamp_delta: int, key: bytes | None, value: bytes | None,
           headers: list[tuple[str, bytes | None]] = ()) -> bytes:
    body = i8(0) + varint(timestamp_delta) + varint(offset_delta)
    body += varint(-1) if key is None else varint(len(key)) + key
    body += varint(-1) if value is None else varint(len(value)) + value
    body += varint(len(headers))
    for hk, hv in headers:
        kb = hk.encode()
        body += varint(len(kb)) + kb
        body += varint(-1) if hv is None else varint(len(hv)) + hv
    return varint(len(body)) + body


def record_batch(records: list[tuple[bytes | None, bytes | None, list]], base_timestamp: int,
                 producer_id: int = -1, producer_epoch: int = -1, base_sequence: int = -1,
                 corrupt_crc: bool = False) -> bytes:
    """An uncompressed magic-2 batch of (key, value, headers) records, timestamps base+i.
    With corrupt_crc the stored CRC-32C is off by one, everything else valid."""
    recs = b"".join(record(i, i, k, v, h) for i, (k, v, h) in enumerate(records))
    n = len(records)
    after_crc = (i16(0) + i32(n - 1) + i64(base_timestamp) + i64(base_timestamp + n - 1)
                 + i64(producer_id) + i16(producer_epoch) + i32(base_sequence) + i32(n) + recs)
    crc = _crc32c.crc32c(after_crc)
    if corrupt_crc:
        crc = (crc + 1) & 0xFFFFFFFF
    after_length = i32(0) + i8(2) + u32(crc) + after_crc  # partitionLeaderEpoch, magic, crc
    return i64(0) + i32(len(after_length)) + after_length


# ---- socket helpers ------------------------------------------------------------------------------

def connect(port: int, timeout: float = 5.0, host: str = "127.0.0.1") -> socket.socket:
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(sock: socket.socket, n: int, deadline: float) -> bytes | None:
    """n bytes, or None if the peer closed first; raises TimeoutError past the deadline."""
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no data within deadline ({len(buf)}/{n} bytes)")
        sock.settimeout(left)
        try:
            chunk = sock.recv(n - len(buf))
        except socket.timeout:
            raise TimeoutError(f"no data within deadline ({len(buf)}/{n} bytes)") from None
        except ConnectionResetError:
            return None
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def read_frame(sock: socket.socket, deadline: float, max_size: int = 64 << 20) -> bytes | None:
    """One size-prefixed frame's payload, or None if the connection was closed."""
    head = recv_exact(sock, 4, deadline)
    if head is None:
        return None
    size = struct.unpack(">i", head)[0]
    if size < 0 or size > max_size:
        raise ValueError(f"bad frame size {size}")
    return recv_exact(sock, size, deadline)


def wait_closed(sock: socket.socket, deadline: float) -> bytes:
    """Reads until the peer closes; returns whatever arrived. Raises TimeoutError if still open."""
    got = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"connection still open at deadline (received {len(got)} bytes)")
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return bytes(got)
        if not chunk:
            return bytes(got)
        got += chunk


def api_versions_roundtrip(port: int, version: int = 0, timeout: float = 5.0,
                           correlation_id: int = 7) -> dict:
    """Connects, sends ApiVersions, returns the parsed response (raises on any failure)."""
    deadline = time.monotonic() + timeout
    with connect(port, timeout) as s:
        s.sendall(api_versions_request(version, correlation_id))
        payload = read_frame(s, deadline)
        if payload is None:
            raise ConnectionError("broker closed the connection instead of answering ApiVersions")
        resp = parse_api_versions_response(payload, version)
        if resp["correlation_id"] != correlation_id:
            raise ValueError(f"correlation id {resp['correlation_id']} != {correlation_id}")
        return resp


# ---- Fetch v4 and record batch headers (to inspect what the broker stored) ------------------------

def fetch_request_v4(correlation_id: int, topic: str, partition: int, offset: int,
                     max_bytes: int = 8 << 20, max_wait_ms: int = 100) -> bytes:
    body = (i32(-1) + i32(max_wait_ms) + i32(1) + i32(max_bytes) + i8(0) + i32(1) + string(topic)
            + i32(1) + i32(partition) + i64(offset) + i32(max_bytes))
    return frame(request_header(1, 4, correlation_id, "runnel-interop", False) + body)


def parse_fetch_response_v4(payload: bytes) -> dict:
    """One topic, one partition: {error_code, high_watermark, last_stable_offset, records}."""
    r = Reader(payload)
    corr = r.i32()
    r.i32()  # throttle_time_ms
    n_topics = r.i32()
    if n_topics != 1:
        raise ValueError(f"expected 1 topic in fetch response, got {n_topics}")
    r.string()
    if r.i32() != 1:
        raise ValueError("expected 1 partition in fetch response")
    p = {"correlation_id": corr, "partition": r.i32(), "error_code": r.i16(),
         "high_watermark": r.i64(), "last_stable_offset": r.i64()}
    n_aborted = r.i32()
    for _ in range(max(0, n_aborted)):
        r.i64()
        r.i64()
    size = r.i32()
    p["records"] = b"" if size < 0 else r.take(size)
    return p


def batch_headers(data: bytes) -> list[dict]:
    """Headers of the complete record batches in `data` (a partial trailing batch is ignored)."""
    out, pos = [], 0
    while pos + 61 <= len(data):
        base_offset, length = struct.unpack(">qi", data[pos:pos + 12])
        if pos + 12 + length > len(data):
            break
        (leader_epoch, magic, crc, attributes, last_delta, base_ts, max_ts, producer_id, producer_epoch,
         base_sequence, count) = struct.unpack(">ibIhiqqqhii", data[pos + 12:pos + 61])
        out.append({"base_offset": base_offset, "length": length, "magic": magic,
                    "crc_ok": _crc32c.crc32c(data[pos + 21:pos + 12 + length]) == crc,
                    "compression": attributes & 7, "transactional": bool(attributes & 16),
                    "control": bool(attributes & 32), "last_offset_delta": last_delta,
                    "base_timestamp": base_ts, "max_timestamp": max_ts, "producer_id": producer_id,
                    "producer_epoch": producer_epoch, "base_sequence": base_sequence,
                    "records_count": count})
        pos += 12 + length
    return out


def fetch_all_batches(port: int, topic: str, partition: int = 0, timeout: float = 60) -> list[dict]:
    """Every batch header of a partition, from offset 0 to the high watermark, via raw Fetch v4."""
    deadline = time.monotonic() + timeout
    batches: list[dict] = []
    offset, corr = 0, 1000
    with connect(port) as s:
        while True:
            corr += 1
            s.sendall(fetch_request_v4(corr, topic, partition, offset))
            payload = read_frame(s, deadline)
            if payload is None:
                raise ConnectionError("broker closed the connection during Fetch")
            resp = parse_fetch_response_v4(payload)
            if resp["error_code"] != NONE:
                raise AssertionError(f"Fetch {topic}-{partition}@{offset}: error {resp['error_code']}")
            got = [b for b in batch_headers(resp["records"]) if b["base_offset"] + b["last_offset_delta"] >= offset]
            batches += got
            if got:
                offset = got[-1]["base_offset"] + got[-1]["last_offset_delta"] + 1
            if offset >= resp["high_watermark"]:
                return batches
            if not got and time.monotonic() > deadline:
                raise TimeoutError(f"Fetch made no progress at offset {offset}")
