"""Malformed and hostile input on a raw socket. For each, the broker answers with the right error
or closes that one connection, within a bound, and keeps serving: afterwards a new connection gets
a correct ApiVersions answer, a real client (confluent-kafka) can still produce and read, and the
process is still running (and, at the end, stops cleanly on SIGTERM). A corrupt record batch (bad
CRC-32C) gets CORRUPT_MESSAGE in the Produce response and is not appended."""
from __future__ import annotations

import socket
import struct
import threading
import time

import pytest

from conftest import unique
from runnel_interop import clients, wire

pytestmark = pytest.mark.needs_broker
BOUND = 15.0  # seconds within which the broker must close or answer


@pytest.fixture
def b(fresh_broker):
    return fresh_broker()


def assert_still_serving(b, produce: bool = False) -> None:
    """The process runs, a new connection gets ApiVersions and (through confluent-kafka) Metadata
    answered; with `produce`, a topic can be created, written and read."""
    assert b.running(), f"broker process exited (code {b.proc.poll()})"
    resp = wire.api_versions_roundtrip(b.port, version=3, correlation_id=99)
    assert resp["error_code"] == 0 and 0 in resp["api_versions"]
    md = clients.confluent_admin(b.bootstrap).list_topics(timeout=15)
    assert [(x.host, x.port) for x in md.brokers.values()] == [("127.0.0.1", b.port)]
    if not produce:
        return
    t = unique("alive")
    clients.create_topic(b.bootstrap, t, partitions=1)
    res = clients.confluent_produce(b.bootstrap, t, t, range(10), timeout=60)
    assert res["acks"] == {i: (0, i) for i in range(10)}
    assert [r["o"] for r in clients.confluent_consume(b.bootstrap, t, timeout=60)] == list(range(10))


def answer_or_close(sock: socket.socket, correlation_id: int | None) -> bytes | None:
    """The broker must either close the connection or answer this request's correlation id.
    Returns the response payload, or None if it closed."""
    deadline = time.monotonic() + BOUND
    try:
        payload = wire.read_frame(sock, deadline)
    except ValueError as e:  # a frame size no broker would send
        raise AssertionError(f"garbage instead of a response or a close: {e}") from None
    except TimeoutError:
        raise AssertionError(f"broker neither answered nor closed within {BOUND}s") from None
    if payload is None:
        return None
    assert correlation_id is not None, "broker answered a frame that had no parseable header"
    assert wire.Reader(payload).i32() == correlation_id
    return payload


def send_raw(b, data: bytes) -> socket.socket:
    s = wire.connect(b.port)
    s.sendall(data)
    return s


def header(api_key: int, version: int, corr: int, client_id: str | None = "bad-input") -> bytes:
    return wire.request_header(api_key, version, corr, client_id, flexible=False)


CLOSE_ONLY = {
    "zero length frame": wire.i32(0),
    "negative length prefix": wire.i32(-1) + b"\x00" * 16,
    "frame shorter than a request header": wire.i32(6) + b"\x00\x12\x00\x00\x00\x01",
    "client id longer than the frame": wire.i32(12) + wire.i16(18) + wire.i16(0) + wire.i32(5) + wire.i16(3000) + b"xx",
}


@pytest.mark.parametrize("name", list(CLOSE_ONLY))
def test_unparseable_frames_close_the_connection(b, name):
    with send_raw(b, CLOSE_ONLY[name]) as s:
        wire.wait_closed(s, time.monotonic() + BOUND)
    assert_still_serving(b)


def test_two_gib_length_prefix_is_refused_without_allocating(b):
    before = b.rss_kib()
    with send_raw(b, struct.pack(">I", 0x7FFFFFFF) + b"\x00\x12\x00\x03" + b"\x00" * 4096) as s:
        try:
            s.sendall(b"\x00" * (1 << 20))  # keep sending: the broker must not buffer toward 2 GiB
        except OSError:
            pass
        wire.wait_closed(s, time.monotonic() + BOUND)
    grown = b.rss_kib() - before
    assert grown < 64 * 1024, f"broker RSS grew by {grown} KiB after a 2 GiB length prefix"
    assert_still_serving(b)


def test_length_prefix_above_socket_request_max_bytes_is_refused(b):
    with send_raw(b, wire.i32(200 * 1024 * 1024) + header(18, 0, 1)) as s:
        wire.wait_closed(s, time.monotonic() + BOUND)
    assert_still_serving(b)


def test_unknown_api_key(b):
    with send_raw(b, wire.frame(header(9999, 0, 31))) as s:
        answer_or_close(s, 31)
    assert_still_serving(b)


@pytest.mark.parametrize("api_key,version", [(3, 99), (0, 1), (1, 0), (0, 32767)])
def test_unsupported_version_of_a_known_api(b, api_key, version):
    """Kafka closes the connection (an UNSUPPORTED_VERSION body cannot be encoded in a version
    it does not know); an answer must at least carry the request's correlation id."""
    with send_raw(b, wire.frame(header(api_key, version, 41) + wire.i32(-1))) as s:
        answer_or_close(s, 41)
    assert_still_serving(b)


def test_truncated_bodies(b):
    cases = {
        # Metadata v1: the topics array says 5 entries and the frame ends
        "metadata array count without entries": header(3, 1, 51) + wire.i32(5),
        # Metadata v1: a topic name longer than what follows
        "metadata string longer than the frame": header(3, 1, 52) + wire.i32(1) + wire.i16(200) + b"ab",
        # Produce v8: records length larger than the frame
        "produce records longer than the frame": header(0, 8, 53) + wire.string(None) + wire.i16(-1)
            + wire.i32(1000) + wire.i32(1) + wire.string("t") + wire.i32(1) + wire.i32(0) + wire.i32(1 << 20) + b"\x00" * 10,
        # ApiVersions v3 (flexible): a compact string whose varint length runs past the end
        "flexible varint past the end": wire.request_header(18, 3, 54, "x", flexible=True) + b"\xff\xff",
    }
    for name, body in cases.items():
        corr = struct.unpack(">i", body[4:8])[0]
        with send_raw(b, wire.frame(body)) as s:
            payload = answer_or_close(s, corr)
        if payload is not None and name == "flexible varint past the end":
            assert wire.Reader(payload, 4).i16() != 0, "a broken ApiVersions request was answered with success"
    assert_still_serving(b)


def test_frame_cut_short_by_client_disconnect(b):
    s = send_raw(b, wire.i32(100) + header(18, 0, 61) + b"\x00" * 10)
    s.close()
    assert_still_serving(b)


def test_corrupt_record_batch_gets_corrupt_message_and_is_not_appended(b):
    t = unique("corrupt")
    clients.create_topic(b.bootstrap, t, partitions=1)
    recs = [(f"k{i}".encode(), f"v{i}".encode(), [("h", b"x")]) for i in range(3)]
    deadline = time.monotonic() + BOUND
    with wire.connect(b.port) as s:
        s.sendall(wire.produce_request_v8(71, t, 0, wire.record_batch(recs, 1_700_000_000_000, corrupt_crc=True)))
        bad = wire.parse_produce_response_v8(wire.read_frame(s, deadline))
        # the same connection stays usable: a valid batch is appended at offset 0
        s.sendall(wire.produce_request_v8(72, t, 0, wire.record_batch(recs, 1_700_000_000_000)))
        good = wire.parse_produce_response_v8(wire.read_frame(s, deadline))
    assert bad["correlation_id"] == 71
    [topic] = bad["topics"]
    [p] = topic["partitions"]
    assert (topic["name"], p["index"], p["error_code"], p["base_offset"]) == (t, 0, wire.CORRUPT_MESSAGE, -1)
    assert good["correlation_id"] == 72
    [gp] = good["topics"][0]["partitions"]
    assert (gp["index"], gp["error_code"], gp["base_offset"]) == (0, 0, 0)
    got = clients.confluent_consume(b.bootstrap, t, timeout=60)
    assert [(r["o"], r["k"], r["v"]) for r in got] == [(i, f"k{i}", f"v{i}") for i in range(3)]
    assert_still_serving(b, produce=True)


def test_slow_loris_connections_do_not_block_other_clients(b):
    stalled = []
    try:
        for _ in range(50):  # 50 connections stuck mid-length-prefix
            stalled.append(send_raw(b, b"\x00\x00"))
        # one client trickles a valid request a byte at a time and still gets its answer
        req = wire.api_versions_request(3, 81)
        trickle = wire.connect(b.port)
        stalled.append(trickle)
        result = {}

        def slow():
            for byte in req:
                trickle.sendall(bytes([byte]))
                time.sleep(0.02)
            payload = wire.read_frame(trickle, time.monotonic() + BOUND)
            result["resp"] = wire.parse_api_versions_response(payload, 3)

        th = threading.Thread(target=slow, daemon=True)
        th.start()
        t0 = time.monotonic()
        fast = wire.api_versions_roundtrip(b.port, version=3, correlation_id=82, timeout=5)
        assert fast["error_code"] == 0
        assert time.monotonic() - t0 < 2.0, "a normal client waited behind stalled connections"
        assert_still_serving(b, produce=True)
        th.join(BOUND + len(req) * 0.05)
        assert result["resp"]["correlation_id"] == 81 and result["resp"]["error_code"] == 0
    finally:
        for s in stalled:
            s.close()


def test_garbage_storm_then_normal_service(b):
    """200 connections of random-looking bytes, then everything still works."""
    import random
    rnd = random.Random(1234)
    for n in range(200):
        data = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 300)))
        try:
            with send_raw(b, data):
                pass
        except OSError:
            pass
    deadline = time.monotonic() + BOUND
    while True:  # the broker may still be closing some of them: poll for a working round trip
        try:
            assert_still_serving(b, produce=True)
            break
        except (OSError, ConnectionError, TimeoutError):
            assert time.monotonic() < deadline
            time.sleep(0.1)
