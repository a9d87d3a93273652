"""Transaction support for the interop tests (KIP-98): raw transactional requests (FindCoordinator for a
transactional id, InitProducerId, AddPartitionsToTxn, EndTxn, Produce with a transactional id), the raw
log of a partition with every transaction's outcome read from its control records, the checks that a
read_committed view holds exactly the committed data and a read_uncommitted view everything, and a
process wrapper that follows a program's stderr lines."""
from __future__ import annotations

import struct
import subprocess
import threading
import time
from dataclasses import dataclass

import crc32c

from . import wire
from .wire import Reader, connect, frame, i8, i16, i32, i64, nbytes, read_frame, request_header, string

# Kafka error codes the transaction tests assert on.
NONE = 0
INVALID_REQUEST = 42
INVALID_PRODUCER_EPOCH = 47
INVALID_TXN_STATE = 48
INVALID_TRANSACTION_TIMEOUT = 50
CONCURRENT_TRANSACTIONS = 51
TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53
PRODUCER_FENCED = 90
TRANSACTION_ABORTABLE = 121
RETRIABLE = {14, 15, 16, 51}  # COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, CONCURRENT_TRANSACTIONS

FIND_COORDINATOR, INIT_PRODUCER_ID, ADD_PARTITIONS_TO_TXN, END_TXN, PRODUCE = 10, 22, 24, 26, 0

# Control record types (the key of a control record: version int16, type int16).
ABORT_MARKER, COMMIT_MARKER = 0, 1


class TxnConnection:
    """One socket for raw transactional requests in their non-flexible versions."""

    def __init__(self, port: int, client_id: str = "runnel-interop-txn", timeout: float = 10.0):
        self.sock = connect(port, timeout=timeout)
        self.client_id = client_id
        self.next_id = 1

    def call(self, api_key: int, version: int, body: bytes, timeout: float = 15.0) -> Reader:
        cid = self.next_id
        self.next_id += 1
        self.sock.sendall(frame(request_header(api_key, version, cid, self.client_id, False) + body))
        payload = read_frame(self.sock, time.monotonic() + timeout)
        if payload is None:
            raise ConnectionError(f"connection closed while waiting for {wire.api_name(api_key)} v{version}")
        r = Reader(payload)
        got = r.i32()
        assert got == cid, f"answer for correlation id {got}, expected {cid}"
        return r

    def close(self) -> None:
        self.sock.close()

    # ---- requests ----------------------------------------------------------------------------------

    def find_coordinator(self, transactional_id: str) -> dict:
        """FindCoordinator v1, key type 1 (transaction)."""
        r = self.call(FIND_COORDINATOR, 1, string(transactional_id) + i8(1))
        r.i32()
        out = {"error": r.i16()}
        r.string()
        out.update(node_id=r.i32(), host=r.string(), port=r.i32())
        return out

    def init_producer_id(self, transactional_id: str | None, timeout_ms: int = 60000, version: int = 1) -> dict:
        """InitProducerId v0/v1: {error, producer_id, producer_epoch}."""
        assert version in (0, 1)
        r = self.call(INIT_PRODUCER_ID, version, string(transactional_id) + i32(timeout_ms))
        r.i32()
        return {"error": r.i16(), "producer_id": r.i64(), "producer_epoch": r.i16()}

    def init_until_ready(self, transactional_id: str, timeout_ms: int = 60000, deadline_s: float = 30) -> dict:
        """InitProducerId, repeated while the coordinator answers a retriable error."""
        deadline = time.monotonic() + deadline_s
        while True:
            res = self.init_producer_id(transactional_id, timeout_ms)
            if res["error"] not in RETRIABLE or time.monotonic() > deadline:
                return res
            time.sleep(0.1)

    def add_partitions(self, transactional_id: str, producer_id: int, epoch: int, topic: str,
                       partitions: list[int], version: int = 2) -> dict[int, int]:
        """AddPartitionsToTxn v0-2: partition -> error."""
        body = (string(transactional_id) + i64(producer_id) + i16(epoch) + i32(1) + string(topic)
                + i32(len(partitions)) + b"".join(i32(p) for p in partitions))
        r = self.call(ADD_PARTITIONS_TO_TXN, version, body)
        r.i32()
        out = {}
        for _ in range(r.i32()):
            r.string()
            for _ in range(r.i32()):
                p = r.i32()
                out[p] = r.i16()
        return out

    def end_txn(self, transactional_id: str, producer_id: int, epoch: int, commit: bool, version: int = 2) -> int:
        """EndTxn v0-2: the error code."""
        assert version in (0, 1, 2)
        body = string(transactional_id) + i64(producer_id) + i16(epoch) + i8(1 if commit else 0)
        r = self.call(END_TXN, version, body)
        r.i32()
        return r.i16()

    def produce(self, topic: str, partition: int, records: bytes, transactional_id: str | None) -> dict:
        """Produce v8 with a transactional id: {error, base_offset}, or {error} for a whole-request error."""
        body = (string(transactional_id) + i16(-1) + i32(10000) + i32(1) + string(topic) + i32(1)
                + i32(partition) + nbytes(records))
        r = self.call(PRODUCE, 8, body)
        out = {"topics": []}
        for _ in range(r.i32()):
            r.string()
            for _ in range(r.i32()):
                p = {"index": r.i32(), "error": r.i16(), "base_offset": r.i64()}
                r.i64()
                r.i64()
                for _ in range(r.i32()):
                    r.i32()
                    r.string()
                r.string()
                out["topics"].append(p)
        return out["topics"][0] if out["topics"] else {"error": None}


def transactional_batch(records: list[tuple[bytes | None, bytes | None, list]], producer_id: int, epoch: int,
                        base_sequence: int, base_timestamp: int | None = None) -> bytes:
    """A magic-2 batch with the transactional attribute (bit 4) set, CRC recomputed."""
    ts = base_timestamp if base_timestamp is not None else int(time.time() * 1000)
    plain = wire.record_batch(records, ts, producer_id=producer_id, producer_epoch=epoch, base_sequence=base_sequence)
    # attributes sit after baseOffset(8) length(4) leaderEpoch(4) magic(1) crc(4)
    attrs_at = 21
    body = bytearray(plain)
    attrs = struct.unpack(">h", body[attrs_at:attrs_at + 2])[0] | 0x10
    body[attrs_at:attrs_at + 2] = struct.pack(">h", attrs)
    body[17:21] = struct.pack(">I", crc32c.crc32c(bytes(body[21:])))
    return bytes(body)


# ---- the raw log and transaction outcomes -------------------------------------------------------

@dataclass
class Batch:
    base_offset: int
    last_offset: int
    producer_id: int
    producer_epoch: int
    transactional: bool
    control: bool
    marker: int | None  # ABORT_MARKER / COMMIT_MARKER for a control batch
    records_count: int


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = raw = 0
    while True:
        b = data[pos]
        pos += 1
        raw |= (b & 0x7F) << shift
        if not b & 0x80:
            return (raw >> 1) ^ -(raw & 1), pos
        shift += 7


def _control_type(batch_bytes: bytes) -> int | None:
    """The type of the first control record of an (uncompressed) control batch."""
    pos = 61
    if len(batch_bytes) <= pos:
        return None
    _, pos = _varint(batch_bytes, pos)        # record length
    pos += 1                                   # attributes
    _, pos = _varint(batch_bytes, pos)        # timestamp delta
    _, pos = _varint(batch_bytes, pos)        # offset delta
    key_len, pos = _varint(batch_bytes, pos)
    if key_len < 4:
        return None
    return struct.unpack(">hh", batch_bytes[pos:pos + 4])[1]


def _fetch_v4(port: int, topic: str, partition: int, offset: int, corr: int, sock, deadline: float) -> dict:
    sock.sendall(wire.fetch_request_v4(corr, topic, partition, offset))
    payload = read_frame(sock, deadline)
    if payload is None:
        raise ConnectionError("broker closed the connection during Fetch")
    return wire.parse_fetch_response_v4(payload)


def read_log(port: int, topic: str, partition: int = 0, timeout: float = 60) -> tuple[list[Batch], int]:
    """Every batch of a partition from its start to the high watermark (read_uncommitted Fetch v4),
    control batches with their marker type; and the high watermark."""
    deadline = time.monotonic() + timeout
    out: list[Batch] = []
    offset, corr = 0, 5000
    with connect(port) as s:
        while True:
            corr += 1
            resp = _fetch_v4(port, topic, partition, offset, corr, s, deadline)
            if resp["error_code"] == 1:  # OFFSET_OUT_OF_RANGE below the log start: not expected here
                raise AssertionError(f"Fetch {topic}-{partition}@{offset}: OFFSET_OUT_OF_RANGE")
            if resp["error_code"] != NONE:
                raise AssertionError(f"Fetch {topic}-{partition}@{offset}: error {resp['error_code']}")
            data = resp["records"]
            pos, progressed = 0, False
            while pos + 61 <= len(data):
                base_offset, length = struct.unpack(">qi", data[pos:pos + 12])
                if pos + 12 + length > len(data):
                    break
                raw = data[pos:pos + 12 + length]
                (attributes, last_delta) = struct.unpack(">hi", raw[21:27])
                producer_id, producer_epoch = struct.unpack(">qh", raw[43:53])
                count = struct.unpack(">i", raw[57:61])[0]
                control = bool(attributes & 32)
                last = base_offset + last_delta
                if last >= offset:
                    out.append(Batch(base_offset, last, producer_id, producer_epoch, bool(attributes & 16), control,
                                     _control_type(raw) if control else None, count))
                    offset = last + 1
                    progressed = True
                pos += 12 + length
            if offset >= resp["high_watermark"]:
                return out, resp["high_watermark"]
            if not progressed and time.monotonic() > deadline:
                raise TimeoutError(f"Fetch made no progress at offset {offset}")


@dataclass
class TxnOutcome:
    producer_id: int
    first_offset: int
    data_batches: list[Batch]
    marker: int | None  # None: still open


def transactions(batches: list[Batch]) -> list[TxnOutcome]:
    """Each transaction in a partition's log (per producer, from its first data batch to its marker)."""
    open_: dict[int, TxnOutcome] = {}
    done: list[TxnOutcome] = []
    for b in batches:
        if b.control:
            t = open_.pop(b.producer_id, None)
            if t is not None:
                t.marker = b.marker
                done.append(t)
        elif b.transactional:
            t = open_.setdefault(b.producer_id, TxnOutcome(b.producer_id, b.base_offset, [], None))
            t.data_batches.append(b)
    return sorted(done + list(open_.values()), key=lambda t: t.first_offset)


def data_offsets(batch: Batch) -> range:
    return range(batch.base_offset, batch.last_offset + 1)


def classify(batches: list[Batch]) -> dict[str, set[int]]:
    """Offsets of data records by fate: "plain" (not transactional), "committed", "aborted", "open"."""
    out = {"plain": set(), "committed": set(), "aborted": set(), "open": set()}
    for b in batches:
        if not b.control and not b.transactional:
            out["plain"].update(data_offsets(b))
    for t in transactions(batches):
        fate = "open" if t.marker is None else "committed" if t.marker == COMMIT_MARKER else "aborted"
        for b in t.data_batches:
            out[fate].update(data_offsets(b))
    return out


def control_offsets(batches: list[Batch]) -> set[int]:
    return {o for b in batches if b.control for o in data_offsets(b)}


def check_views(port: int, topic: str, partition: int, committed_view: list[dict],
                uncommitted_view: list[dict] | None = None) -> dict[str, set[int]]:
    """Compares a read_committed view (records {p, o, ...}) of one partition with the raw log: it holds
    exactly the plain and committed data records below the first open transaction, never an aborted or
    control record; a read_uncommitted view holds every data record and no control record. Returns the
    classification."""
    batches, _ = read_log(port, topic, partition)
    fate = classify(batches)
    controls = control_offsets(batches)
    lso = min(fate["open"], default=None)
    c = [r["o"] for r in committed_view if r["p"] == partition]
    assert len(c) == len(set(c)), f"{topic}-{partition}: read_committed delivered an offset twice"
    c_set = set(c)
    assert not c_set & fate["aborted"], (
        f"{topic}-{partition}: read_committed delivered aborted records, e.g. {sorted(c_set & fate['aborted'])[:5]}")
    assert not c_set & controls, f"{topic}-{partition}: control records delivered as data: {sorted(c_set & controls)[:5]}"
    assert not c_set & fate["open"], f"{topic}-{partition}: records of an open transaction delivered: {sorted(c_set & fate['open'])[:5]}"
    want = {o for o in fate["plain"] | fate["committed"] if lso is None or o < lso}
    assert c_set == want, (f"{topic}-{partition}: read_committed view differs from the committed log: "
                           f"missing {sorted(want - c_set)[:5]}, extra {sorted(c_set - want)[:5]}")
    if uncommitted_view is not None:
        u = {r["o"] for r in uncommitted_view if r["p"] == partition}
        everything = fate["plain"] | fate["committed"] | fate["aborted"] | fate["open"]
        assert not u & controls, f"{topic}-{partition}: read_uncommitted delivered control records {sorted(u & controls)[:5]}"
        assert u == everything, (f"{topic}-{partition}: read_uncommitted view differs from the log: "
                                 f"missing {sorted(everything - u)[:5]}, extra {sorted(u - everything)[:5]}")
    return fate


def list_offsets_v2(port: int, topic: str, partition: int, isolation: int, timestamp: int = -1) -> int:
    """ListOffsets v2 (isolation level 1 = read_committed: latest is the last stable offset)."""
    body = (i32(-1) + i8(isolation) + i32(1) + string(topic) + i32(1) + i32(partition) + i64(timestamp))
    c = TxnConnection(port)
    try:
        r = c.call(2, 2, body)
    finally:
        c.close()
    r.i32()
    r.i32()
    r.string()
    r.i32()
    r.i32()
    err = r.i16()
    r.i64()
    off = r.i64()
    assert err == NONE, f"ListOffsets {topic}-{partition}: error {err}"
    return off


# ---- a program followed by its stderr lines ----------------------------------------------------------

class LineProcess:
    """A child process whose stderr lines are collected as they arrive, so a test can wait for a line."""

    def __init__(self, cmd: list[str], name: str):
        self.name = name
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.stdout = ""
        self._cond = threading.Condition()
        self._t_err = threading.Thread(target=self._read_err, daemon=True)
        self._t_out = threading.Thread(target=self._read_out, daemon=True)
        self._t_err.start()
        self._t_out.start()

    def _read_err(self) -> None:
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def _read_out(self) -> None:
        self.stdout = self.proc.stdout.read()

    def wait_line(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if line.startswith(prefix):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._t_err.is_alive()):
                    raise AssertionError(f"{self.name}: no line starting {prefix!r} (exit {self.proc.poll()})\n"
                                         + "\n".join(self.lines[-40:]) + "\n" + self.stdout[-2000:])
                self._cond.wait(min(left, 0.5))

    def last_value(self, prefix: str, default: int = 0) -> int:
        """The integer after the last line starting with `prefix` (e.g. "COMMITTED total=")."""
        with self._cond:
            for line in reversed(self.lines):
                if line.startswith(prefix):
                    return int(line[len(prefix):].split()[0])
        return default

    def finish(self, timeout: float) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} did not finish within {timeout}s\n" + "\n".join(self.lines[-40:])) from None
        self._t_out.join(10)
        self._t_err.join(10)
        return code

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.lines[-n:])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


# ---- record content ------------------------------------------------------------------------------

def verify_indices(got: list[dict], prefix: str, expected, client: str | None, value_size: int = 100,
                   extra_headers: bool = False) -> None:
    """Records (dicts {p, o, k, v, h}) are exactly the scheme's records `expected` (each once, in any
    offsets: transactions leave gaps for markers and aborted records), with the scheme's values and
    headers (`client` None: any client header; `extra_headers`: more headers may follow)."""
    from collections import Counter
    from . import records
    seen = Counter(records.index_of(prefix, r["k"]) for r in got)
    want = set(expected)
    dupes = sorted(i for i, n in seen.items() if n > 1)
    assert not dupes, f"{len(dupes)} records delivered more than once, e.g. {dupes[:5]}"
    missing = sorted(want - set(seen))
    extra = sorted(set(seen) - want)
    assert not missing and not extra, (f"{len(got)} records: missing {len(missing)} e.g. {missing[:5]}, "
                                       f"unexpected {len(extra)} e.g. {extra[:5]}")
    for r in got:
        i = records.index_of(prefix, r["k"])
        assert r["v"] == records.value(prefix, i, value_size), f"offset {r['o']}: value of record {i} differs"
        h = [tuple(x) for x in r["h"]]
        assert h[:1] == [("idx", str(i))], f"offset {r['o']}: headers {h}"
        if client is not None:
            assert h[1:2] == [("client", client)], f"offset {r['o']}: headers {h}"
        if not extra_headers:
            assert len(h) == 2, f"offset {r['o']}: headers {h}"


def java_read(java, bootstrap: str, topic: str, out_path, isolation: str, partitions=None,
              timeout_ms: int = 60000) -> list[dict]:
    """Every record of `topic` (or `partitions`) up to the end offsets (the last stable offset under
    read_committed) with the Java consumer in `isolation`; asserts it did not time out."""
    from . import records
    args = {"bootstrap": bootstrap, "topic": topic, "out": str(out_path), "isolation": isolation,
            "timeoutMs": timeout_ms}
    if partitions is not None:
        args["partitions"] = list(partitions)
    res = java.run("consume", args, timeout=timeout_ms / 1000 + 60)
    assert not res["timedOut"], f"Java {isolation} consumer did not reach the end offsets {res.get('endOffsets')}"
    return records.read_jsonl(out_path)


def confluent_txn_producer(bootstrap: str, tid: str, **extra):
    """A confluent-kafka transactional producer, init_transactions() done."""
    from confluent_kafka import Producer
    conf = {"bootstrap.servers": bootstrap, "transactional.id": tid, "transaction.timeout.ms": 20000,
            "message.timeout.ms": 20000, "linger.ms": 5, "reconnect.backoff.max.ms": 500, **extra}
    # librdkafka requires socket.timeout.ms <= transaction.timeout.ms + 100.
    conf.setdefault("socket.timeout.ms", min(10000, int(conf["transaction.timeout.ms"])))
    conf["message.timeout.ms"] = min(int(conf["message.timeout.ms"]), int(conf["transaction.timeout.ms"]))
    p = Producer(conf)
    p.init_transactions(60)
    return p


def await_stable(port: int, topic: str, partitions=(0,), timeout: float = 30) -> int:
    """Waits until no transaction is open in the partitions: the last stable offset (ListOffsets
    read_committed) reaches the high watermark. Needed after a commit or abort returns: Kafka answers
    EndTxn once the decision is logged and writes the markers afterwards. Returns the polls taken."""
    deadline = time.monotonic() + timeout
    polls = 0
    while True:
        polls += 1
        try:
            lagging = [p for p in partitions
                       if list_offsets_v2(port, topic, p, isolation=1) != list_offsets_v2(port, topic, p, isolation=0)]
        except (OSError, ConnectionError, TimeoutError):
            lagging = list(partitions)
        if not lagging:
            return polls
        if time.monotonic() > deadline:
            raise AssertionError(f"{topic}: last stable offset of partitions {lagging} still below the high "
                                 f"watermark after {timeout}s (a transaction stays open)")
        time.sleep(0.05)  # poll interval, bounded by the deadline above
