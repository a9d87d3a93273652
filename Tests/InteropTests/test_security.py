"""Security with real clients (issue 13): one broker with PLAINTEXT, SSL, MTLS (SSL with required
client certificates), SASL_PLAINTEXT and SASL_SSL listeners at once. kcat, confluent-kafka,
kafka-python and the Java client produce and consume over SSL and SASL (PLAIN); wrong passwords
and unknown users fail with an authentication error and read nothing; plaintext spoken to the TLS
port and TLS spoken to the plaintext port are closed within a bound while the broker keeps
serving; requests before SASL authentication close the connection; each listener's Metadata
names that listener's port."""
from __future__ import annotations

import json
import socket
import ssl
import struct
import subprocess
import time

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka import TopicPartition as CkTopicPartition
from confluent_kafka.admin import AdminClient

import conftest
from conftest import unique
from runnel_interop import clients, records, wire
from runnel_interop.broker import BrokerProcess, free_port
from runnel_interop.java import JavaError
from runnel_interop.security import (SecureBroker, closed_within, java_props, kafka_python_props, kcat_args,
                                     librdkafka_props, make_pki, serve_secure_broker, tls_socket)
from runnel_interop.security import JAAS_PLAIN

pytestmark = [pytest.mark.needs_broker]

COUNT = 40


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def secure(runnel_bin, tmp_path_factory, pki):
    yield from serve_secure_broker(runnel_bin, tmp_path_factory.mktemp("secure-broker"), pki, conftest._active)


def topic_with(secure, prefix: str) -> str:
    topic = unique(prefix)
    clients.create_topic(secure.process.bootstrap, topic)
    return topic


def assert_records(got: list[dict], prefix: str, n: int) -> None:
    assert sorted(r["k"] for r in got) == [records.key(prefix, i) for i in range(n)]
    assert all(r["v"] == records.value(prefix, int(r["k"].rsplit("-", 1)[1]), 100) for r in got)


# ---- listeners ------------------------------------------------------------------------------------

def test_each_listener_advertises_its_own_port(secure, pki):
    """Metadata on a listener names the brokers' endpoints of that listener (clients reconnect there)."""
    md = wire.metadata(secure.ports["PLAINTEXT"])
    assert list(md["brokers"].values()) == [("127.0.0.1", secure.ports["PLAINTEXT"])]
    for listener in ["SSL", "SASL_SSL"]:
        props = librdkafka_props("SSL", pki) if listener == "SSL" else librdkafka_props(
            "SASL_SSL", pki, "PLAIN", "alice", "alice-secret")
        admin = AdminClient({"bootstrap.servers": secure.bootstrap(listener), **props})
        brokers = admin.list_topics(timeout=20).brokers
        assert [(b.host, b.port) for b in brokers.values()] == [("127.0.0.1", secure.ports[listener])]


# ---- TLS ----------------------------------------------------------------------------------------------

def test_ssl_confluent_kcat_kafka_python_java_produce_and_consume(secure, pki, java, kcat_bin, tmp_path):
    bootstrap = secure.bootstrap("SSL")
    topic = topic_with(secure, "ssl")
    rd = librdkafka_props("SSL", pki)
    # confluent-kafka
    prefix = unique("ck")
    res = clients.confluent_produce(bootstrap, topic, prefix, range(COUNT), config=rd)
    assert len(res["acks"]) == COUNT and not res["errors"]
    got = [r for r in clients.confluent_consume(bootstrap, topic, config=rd) if r["k"].startswith(prefix)]
    assert_records(got, prefix, COUNT)
    # kcat (librdkafka's CLI)
    kprefix = unique("kc")
    lines = "".join(f"{records.key(kprefix, i)}\t{records.value(kprefix, i, 100)}\n" for i in range(COUNT))
    base = clients.kcat_base(kcat_bin, bootstrap) + kcat_args(rd)
    res = subprocess.run(base + ["-P", "-t", topic, "-p", "0", "-K", "\t"], input=lines, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    res = subprocess.run(base + ["-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-J", "-q"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    kgot = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert sorted(j["key"] for j in kgot if j["key"].startswith(kprefix)) == [records.key(kprefix, i) for i in range(COUNT)]
    # kafka-python
    kp = kafka_python_props("SSL", pki)
    pprefix = unique("kp")
    res = clients.kafka_python_produce(bootstrap, topic, pprefix, range(COUNT), config=kp)
    assert len(res["acks"]) == COUNT and not res["errors"]
    got = [r for r in clients.kafka_python_consume(bootstrap, topic, config=kp) if r["k"].startswith(pprefix)]
    assert_records(got, pprefix, COUNT)
    # Java
    jprefix = unique("jv")
    jp = java_props("SSL", pki)
    result = java.run("produce", {"bootstrap": bootstrap, "topic": topic, "count": COUNT, "prefix": jprefix,
                                  "partition": 0, "props": jp})
    assert result["acked"] == COUNT, result
    out = tmp_path / "java-ssl.jsonl"
    total = 4 * COUNT
    result = java.run("consume", {"bootstrap": bootstrap, "topic": topic, "out": str(out), "expected": total,
                                  "props": jp})
    assert result["count"] == total
    keys = sorted(json.loads(line)["k"] for line in out.read_text().splitlines())
    assert [k for k in keys if k.startswith(jprefix)] == [records.key(jprefix, i) for i in range(COUNT)]


def test_ssl_fetch_of_large_batches_reads_file_slices(secure, pki):
    """Over TLS a Fetch's log slices are read and encrypted (no sendfile): 4 MB across many batches,
    byte for byte."""
    bootstrap = secure.bootstrap("SSL")
    topic = topic_with(secure, "ssl-big")
    rd = librdkafka_props("SSL", pki)
    prefix = unique("big")
    n = 400
    res = clients.confluent_produce(bootstrap, topic, prefix, range(n), value_size=10_000, config=rd,
                                    compression="none")
    assert len(res["acks"]) == n
    got = clients.confluent_consume(bootstrap, topic, config={**rd, "fetch.max.bytes": 8 << 20})
    assert sorted(r["k"] for r in got) == [records.key(prefix, i) for i in range(n)]
    assert all(r["v"] == records.value(prefix, int(r["k"].rsplit("-", 1)[1]), 10_000) for r in got)


def _dribbled_produce(secure, pki, listener: str, pieces: list[int], pause: float, tail: int = 0) -> tuple[dict, float]:
    """Sends one ~600 KB Produce v8 request cut into `pieces` (sizes of the bytes on the wire; then
    all but the last `tail` bytes, then those), pausing after each piece; returns the response and how long it took after
    the last byte. Over TLS the request is encrypted first (ssl.SSLObject) and the ciphertext is cut,
    so TLS records arrive split across reads."""
    topic = topic_with(secure, f"dribble-{listener.lower()}")
    batch = wire.record_batch([(b"k", bytes(range(256)) * 2400, [])], base_timestamp=int(time.time() * 1000))
    request = wire.produce_request_v8(7, topic, 0, batch, acks=-1)
    raw = socket.create_connection(("127.0.0.1", secure.ports[listener]), timeout=5)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        if listener == "SSL":
            ctx = ssl.create_default_context(cafile=str(pki.ca))
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            tls = ctx.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    raw.sendall(outgoing.read())
                    incoming.write(raw.recv(65536))
            raw.sendall(outgoing.read())
            tls.write(request)
            wire_bytes = outgoing.read()
        else:
            tls, wire_bytes = None, request
        start = 0
        for size in [*pieces, len(wire_bytes) - tail - sum(pieces)]:
            raw.sendall(wire_bytes[start:start + size])
            start += size
            time.sleep(pause)
        raw.sendall(wire_bytes[start:])
        sent = time.monotonic()
        if tls is None:
            payload = wire.read_frame(raw, sent + 10)
        else:
            plain = b""
            while len(plain) < 4 or len(plain) < 4 + struct.unpack(">i", plain[:4])[0]:
                try:
                    plain += tls.read(65536)
                except ssl.SSLWantReadError:
                    raw.settimeout(max(0.01, sent + 10 - time.monotonic()))
                    data = raw.recv(65536)
                    assert data, "the broker closed the connection instead of answering"
                    incoming.write(data)
            payload = plain[4:]
        assert payload is not None, "the broker closed the connection instead of answering"
        return wire.parse_produce_response_v8(payload)["topics"][0]["partitions"][0], time.monotonic() - sent
    finally:
        raw.close()


@pytest.mark.parametrize("listener", ["PLAINTEXT", "SSL"])
def test_a_large_request_dribbled_in_odd_pieces_is_answered_once_complete(secure, pki, listener):
    """The broker asks the kernel to wake it only once most of a large request's missing bytes are
    there (SO_RCVLOWAT). Bytes cut at odd sizes — over TLS, records split across reads, and the end
    arriving alone after a pause — must still complete the request at once, never wait for bytes
    that are not coming."""
    # 100 KB, then a piece of 33,333 bytes, then 8 KB pieces, then the rest.
    pieces = [100_000, 33_333] + [8_192] * 20
    result, after = _dribbled_produce(secure, pki, listener, pieces, pause=0.02)
    assert result["error_code"] == 0, result
    assert after < 5, f"answered {after:.1f} s after the last byte"
    # 200 KB, then all of the request but its last 17 bytes, a pause long enough for the broker to go
    # back to sleep, then the end.
    result, after = _dribbled_produce(secure, pki, listener, [200_000], pause=0.3, tail=17)
    assert result["error_code"] == 0, result
    assert after < 5, f"answered {after:.1f} s after the last byte"


def test_mtls_requires_a_trusted_client_certificate(secure, pki, java):
    bootstrap = secure.bootstrap("MTLS")
    topic = topic_with(secure, "mtls")
    with_cert = librdkafka_props("SSL", pki, client_cert=True)
    prefix = unique("m")
    res = clients.confluent_produce(bootstrap, topic, prefix, range(10), config=with_cert)
    assert len(res["acks"]) == 10
    result = java.run("produce", {"bootstrap": bootstrap, "topic": topic, "count": 5, "prefix": unique("mj"),
                                  "partition": 0, "props": java_props("SSL", pki, client_cert=True)})
    assert result["acked"] == 5
    # Without a certificate, and with one from an untrusted CA, the handshake fails.
    for cert in (None, (pki.rogue_cert, pki.rogue_key)):
        s = socket.create_connection(("127.0.0.1", secure.ports["MTLS"]), timeout=5)
        ctx = ssl.create_default_context(cafile=str(pki.ca))
        if cert:
            ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
            t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
            # TLS 1.3: the server's verdict on the client certificate arrives after the handshake.
            t.sendall((wire.api_versions_request(0, 1)))
            if not t.recv(4):
                raise ConnectionResetError("closed")
        s.close()
    log = secure.process.log_path.read_text(errors="replace")
    assert "TLS failed" in log


def test_plaintext_to_tls_port_and_tls_to_plaintext_port_are_closed(secure, pki):
    # A Kafka request in plaintext to the TLS listener.
    s = socket.create_connection(("127.0.0.1", secure.ports["SSL"]), timeout=5)
    s.sendall((wire.api_versions_request(0, 1)))
    assert closed_within(s, 10) < 10
    s.close()
    # A TLS ClientHello to the plaintext listener (its first bytes read as a huge size prefix).
    raw = socket.create_connection(("127.0.0.1", secure.ports["PLAINTEXT"]), timeout=5)
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    with pytest.raises((ssl.SSLError, ConnectionResetError, OSError)):
        ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    raw.close()
    # The broker still serves both listeners.
    assert wire.api_versions_roundtrip(secure.ports["PLAINTEXT"])["error_code"] == 0
    t = tls_socket(secure.ports["SSL"], pki)
    t.sendall((wire.api_versions_request(0, 7)))
    frame = wire.read_frame(t, time.monotonic() + 10)
    assert frame is not None and struct.unpack(">i", frame[:4])[0] == 7
    t.close()


def test_stalled_tls_handshake_does_not_block_others(secure, pki):
    """A client that opens the TLS port and says nothing holds one connection, not the listener."""
    stalled = [socket.create_connection(("127.0.0.1", secure.ports["SSL"]), timeout=5) for _ in range(20)]
    try:
        t = tls_socket(secure.ports["SSL"], pki)
        t.sendall((wire.api_versions_request(0, 9)))
        frame = wire.read_frame(t, time.monotonic() + 10)
        assert frame is not None and struct.unpack(">i", frame[:4])[0] == 9
        t.close()
    finally:
        for s in stalled:
            s.close()


# ---- SASL PLAIN -------------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_sasl_plain_all_clients(secure, pki, java, kcat_bin, tmp_path, protocol):
    bootstrap = secure.bootstrap(protocol)
    topic = topic_with(secure, protocol.lower().replace("_", "-"))
    creds = ("PLAIN", "alice", "alice-secret")
    rd = librdkafka_props(protocol, pki, *creds)
    prefix = unique("ck")
    res = clients.confluent_produce(bootstrap, topic, prefix, range(COUNT), config=rd)
    assert len(res["acks"]) == COUNT and not res["errors"]
    base = clients.kcat_base(kcat_bin, bootstrap) + kcat_args(rd)
    res = subprocess.run(base + ["-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-J", "-q"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    assert len([line for line in res.stdout.splitlines() if line.startswith("{")]) == COUNT
    kp = kafka_python_props(protocol, pki, *creds)
    got = clients.kafka_python_consume(bootstrap, topic, config=kp)
    assert_records(got, prefix, COUNT)
    jp = java_props(protocol, pki, *creds)
    jprefix = unique("jv")
    result = java.run("produce", {"bootstrap": bootstrap, "topic": topic, "count": COUNT, "prefix": jprefix,
                                  "partition": 0, "props": jp})
    assert result["acked"] == COUNT, result
    out = tmp_path / "java-sasl.jsonl"
    result = java.run("consume", {"bootstrap": bootstrap, "topic": topic, "out": str(out),
                                  "expected": 2 * COUNT, "props": jp})
    assert result["count"] == 2 * COUNT


@pytest.mark.parametrize("user,password", [("alice", "wrong"), ("nobody", "alice-secret")])
def test_sasl_plain_bad_credentials_fail_and_read_nothing(secure, pki, java, kcat_bin, user, password):
    bootstrap = secure.bootstrap("SASL_PLAINTEXT")
    topic = topic_with(secure, "sasl-bad")
    good = librdkafka_props("SASL_PLAINTEXT", pki, "PLAIN", "alice", "alice-secret")
    clients.confluent_produce(bootstrap, topic, unique("secret"), range(5), config=good)
    bad = librdkafka_props("SASL_PLAINTEXT", pki, "PLAIN", user, password)
    # confluent-kafka: an authentication error, no records.
    errors: list = []
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("g"), "auto.offset.reset": "earliest",
                  "error_cb": errors.append, **bad})
    try:
        c.assign([CkTopicPartition(topic, 0, 0)])
        deadline = time.monotonic() + 15
        got = []
        while time.monotonic() < deadline and not any(e.code() == KafkaError._AUTHENTICATION for e in errors):
            for m in c.consume(num_messages=100, timeout=0.5):
                if m.error():
                    errors.append(m.error())
                else:
                    got.append(m)
    finally:
        c.close()
    assert not got
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors
    # kcat
    # librdkafka retries a failed authentication until the metadata timeout: 5 s holds many attempts.
    res = subprocess.run(clients.kcat_base(kcat_bin, bootstrap) + kcat_args(bad) + ["-L", "-m", "5"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode != 0 and "Authentication failed" in res.stderr, res.stderr[-2000:]
    # kafka-python
    from kafka.errors import KafkaError as KPError
    # kafka-python 3.0.12 retries a failed authentication until its bootstrap timeout (30 s by default),
    # then raises KafkaTimeoutError ("Unable to bootstrap"): 5 s holds many attempts.
    with pytest.raises(KPError):
        clients.kafka_python_consume(bootstrap, topic, timeout=15,
                                     config={**kafka_python_props("SASL_PLAINTEXT", pki, "PLAIN", user, password),
                                             "bootstrap_timeout_ms": 5000})
    # Java
    try:
        # The secure fixture sets no failed-authentication delay; with one, the failures above from this
        # address grow it to its 5 s cap (FailedAuthenticationDelay), so the request timeout stays above that.
        result = java.run("produce", {"bootstrap": bootstrap, "topic": topic, "count": 1, "prefix": unique("x"),
                                      "partition": 0, "maxBlockMs": 20000, "deliveryTimeoutMs": 20000,
                                      "requestTimeoutMs": 12000,
                                      "props": java_props("SASL_PLAINTEXT", pki, "PLAIN", user, password)})
        assert result["acked"] == 0 and "SaslAuthenticationException" in json.dumps(result), result
    except JavaError as e:
        assert "SaslAuthenticationException" in str(e) or "Authentication failed" in str(e)
    # The failure is logged with the client's address.
    log = secure.process.log_path.read_text(errors="replace")
    assert "authentication failed" in log and "client=" in log


def sasl_frame(api_key: int, version: int, correlation: int, body: bytes) -> bytes:
    return wire.frame(wire.request_header(api_key, version, correlation, "sec-test", version >= 2) + body)


def test_requests_before_sasl_authentication_close_the_connection(secure):
    port = secure.ports["SASL_PLAINTEXT"]
    # ApiVersions is allowed before authentication.
    assert wire.api_versions_roundtrip(port)["error_code"] == 0
    # Metadata is not: the connection closes.
    s = wire.connect(port)
    s.sendall((wire.metadata_request_v1(3)))
    assert closed_within(s, 10) < 10
    s.close()
    # An unknown mechanism: UNSUPPORTED_SASL_MECHANISM with the enabled list, then close.
    s = wire.connect(port)
    s.sendall(sasl_frame(17, 1, 4, wire.string("GSSAPI")))
    frame = wire.read_frame(s, time.monotonic() + 10)
    r = wire.Reader(frame)
    assert r.i32() == 4 and r.i16() == 33
    assert [r.string() for _ in range(r.i32())] == ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
    assert closed_within(s, 10) < 10
    s.close()
    # A wrong PLAIN password: SASL_AUTHENTICATION_FAILED with a message, then close.
    s = wire.connect(port)
    s.sendall(sasl_frame(17, 1, 5, wire.string("PLAIN")))
    r = wire.Reader(wire.read_frame(s, time.monotonic() + 10))
    assert r.i32() == 5 and r.i16() == 0
    s.sendall(sasl_frame(36, 1, 6, wire.nbytes(b"\0alice\0nope")))
    r = wire.Reader(wire.read_frame(s, time.monotonic() + 10))
    assert r.i32() == 6 and r.i16() == 58
    assert "Invalid username or password" in r.string()
    assert closed_within(s, 10) < 10
    s.close()
    # A right one: authenticated, then Metadata works on the same connection.
    s = wire.connect(port)
    s.sendall(sasl_frame(17, 1, 7, wire.string("PLAIN")))
    wire.read_frame(s, time.monotonic() + 10)
    s.sendall(sasl_frame(36, 1, 8, wire.nbytes(b"\0alice\0alice-secret")))
    r = wire.Reader(wire.read_frame(s, time.monotonic() + 10))
    assert r.i32() == 8 and r.i16() == 0
    s.sendall((wire.metadata_request_v1(9)))
    frame = wire.read_frame(s, time.monotonic() + 10)
    assert frame is not None and struct.unpack(">i", frame[:4])[0] == 9
    s.close()


def test_sasl_handshake_v0_then_bare_tokens(secure):
    """SaslHandshake v0: the PLAIN token follows as a bare size-prefixed frame, not a Kafka request;
    a wrong one closes the connection without an answer (Kafka's v0 behaviour)."""
    port = secure.ports["SASL_PLAINTEXT"]
    s = wire.connect(port)
    s.sendall(sasl_frame(17, 0, 1, wire.string("PLAIN")))
    r = wire.Reader(wire.read_frame(s, time.monotonic() + 10))
    assert r.i32() == 1 and r.i16() == 0
    s.sendall(wire.frame(b"\0alice\0alice-secret"))
    assert wire.read_frame(s, time.monotonic() + 10) == b""  # PLAIN's empty final token
    s.sendall(wire.metadata_request_v1(2))
    frame = wire.read_frame(s, time.monotonic() + 10)
    assert frame is not None and struct.unpack(">i", frame[:4])[0] == 2
    s.close()
    s = wire.connect(port)
    s.sendall(sasl_frame(17, 0, 1, wire.string("PLAIN")))
    wire.read_frame(s, time.monotonic() + 10)
    s.sendall(wire.frame(b"\0alice\0not-the-password"))
    assert closed_within(s, 10) < 10
    s.close()


def test_huge_token_before_authentication_closes_the_connection(secure):
    """Before authentication a SASL listener reads at most sasl.server.max.receive.size (512 KiB)."""
    port = secure.ports["SASL_PLAINTEXT"]
    s = wire.connect(port)
    s.sendall(sasl_frame(17, 1, 1, wire.string("PLAIN")))
    wire.read_frame(s, time.monotonic() + 10)
    try:
        s.sendall(sasl_frame(36, 1, 2, wire.nbytes(b"\0alice\0" + b"x" * (1 << 20))))
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed while we were still sending
    assert closed_within(s, 10) < 10
    s.close()
    assert "request too large" in secure.process.log_path.read_text(errors="replace")
    assert wire.api_versions_roundtrip(port)["error_code"] == 0  # others are still served


def test_repeated_failures_from_one_address_wait_longer(runnel_bin, tmp_path):
    """connection.failed.authentication.delay.ms=100 doubles per failure from one address: ~0.1, 0.2, 0.4, 0.8 s."""
    plain, sasl = free_port(), free_port()
    b = BrokerProcess(runnel_bin, tmp_path / "delay-broker", port=plain, configs={
        "listeners": f"PLAINTEXT://127.0.0.1:{plain},SASL_PLAINTEXT://127.0.0.1:{sasl}",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS_PLAIN,
        "connection.failed.authentication.delay.ms": 100,
    })
    conftest._active.append(b)
    b.start()
    try:
        waits = []
        for attempt in range(4):
            s = wire.connect(sasl)
            s.sendall(sasl_frame(17, 1, 1, wire.string("PLAIN")))
            wire.read_frame(s, time.monotonic() + 10)
            started = time.monotonic()
            s.sendall(sasl_frame(36, 1, 2, wire.nbytes(b"\0alice\0wrong")))
            r = wire.Reader(wire.read_frame(s, time.monotonic() + 10))
            waits.append(time.monotonic() - started)
            assert r.i32() == 2 and r.i16() == 58
            s.close()
        for n, wait in enumerate(waits):
            assert wait >= 0.1 * 2 ** n * 0.9, waits
        assert waits[3] < 5, waits
        # A right password is not delayed.
        s = wire.connect(sasl)
        s.sendall(sasl_frame(17, 1, 1, wire.string("PLAIN")))
        wire.read_frame(s, time.monotonic() + 10)
        started = time.monotonic()
        s.sendall(sasl_frame(36, 1, 2, wire.nbytes(b"\0alice\0alice-secret")))
        r = wire.Reader(wire.read_frame(s, time.monotonic() + 10))
        assert r.i32() == 2 and r.i16() == 0 and time.monotonic() - started < 0.5
        s.close()
    finally:
        conftest._active.remove(b)
        b.stop()


def test_renewed_certificate_is_used_without_a_restart(runnel_bin, tmp_path):
    from runnel_interop.security import reissue_broker_keystore
    pki = make_pki(tmp_path / "pki")
    plain, ssl_port = free_port(), free_port()
    b = BrokerProcess(runnel_bin, tmp_path / "reload-broker", port=plain, configs={
        "listeners": f"PLAINTEXT://127.0.0.1:{plain},SSL://127.0.0.1:{ssl_port}",
        "ssl.keystore.location": str(pki.broker_keystore),
        "ssl.reload.check.interval.ms": 200,
    })
    conftest._active.append(b)
    b.start()

    def served_subject() -> str:
        t = tls_socket(ssl_port, pki)
        try:
            return dict(x[0] for x in t.getpeercert()["subject"])["commonName"]
        finally:
            t.close()
    try:
        assert served_subject() == "localhost"
        kept = tls_socket(ssl_port, pki)  # a connection open across the reload keeps working
        reissue_broker_keystore(pki, "renewed.example")
        deadline = time.monotonic() + 15
        while served_subject() != "renewed.example":
            assert time.monotonic() < deadline, "the renewed certificate was not picked up"
            time.sleep(0.1)  # poll interval, bounded by the deadline
        kept.sendall(wire.api_versions_request(0, 5))
        frame = wire.read_frame(kept, time.monotonic() + 10)
        assert frame is not None and struct.unpack(">i", frame[:4])[0] == 5
        kept.close()
        # A broken file keeps the previous certificate.
        pki.broker_keystore.write_text("not a PEM file\n")
        deadline = time.monotonic() + 10
        while "cannot be used; keeping the previous one" not in b.log_path.read_text(errors="replace"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert served_subject() == "renewed.example"
    finally:
        conftest._active.remove(b)
        b.stop()
