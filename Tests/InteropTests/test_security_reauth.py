"""SASL re-authentication (KIP-368, `connections.max.reauth.ms`): SaslAuthenticate v1+ tells the client
its session lifetime; a connection whose session ended is closed at its next request; a new
SaslHandshake + SaslAuthenticate on the same connection renews the session (same mechanism and
principal only). The Java producer re-authenticates by itself: it keeps producing across several
lifetimes, and once its SCRAM user is deleted its next re-authentication fails and it stops."""
from __future__ import annotations

import re
import time

import pytest

import cli_support as cli
import conftest
from conftest import unique
from runnel_interop import wire
from runnel_interop.security import closed_within, java_props, serve_sasl_broker

pytestmark = [pytest.mark.needs_broker]

LIFETIME_MS = 2500
USERS = {"alice": "alice-secret", "bob": "bob-secret"}


@pytest.fixture(scope="module")
def reauth_broker(runnel_bin, tmp_path_factory):
    yield from serve_sasl_broker(runnel_bin, tmp_path_factory.mktemp("reauth-broker"), conftest._active, USERS, {
        "connections.max.reauth.ms": LIFETIME_MS,
        "connection.failed.authentication.delay.ms": 10,
    })


def topic_and_scram_user(runnel_bin, b, name: str) -> tuple[str, str, str]:
    """A new 1-partition topic and SCRAM-SHA-512 user, created over the PLAINTEXT listener."""
    topic, user, password = unique(name), unique(name + "-user"), name + "-secret"
    cli.ok(runnel_bin, "topic", "create", topic, "--partitions", "1", brokers=b.bootstrap)
    cli.ok(runnel_bin, "user", "create", user, "--mechanism", "SCRAM-SHA-512", "--password", password,
           brokers=b.bootstrap)
    return topic, user, password


class Conn:
    """A raw Kafka connection speaking SaslHandshake v1 / SaslAuthenticate v1 (PLAIN) and Metadata v1."""

    def __init__(self, port: int):
        self.sock = wire.connect(port)
        self.correlation = 0

    def call(self, api: int, version: int, body: bytes) -> wire.Reader:
        self.correlation += 1
        self.sock.sendall(wire.frame(wire.request_header(api, version, self.correlation, "reauth-test", False) + body))
        r = wire.Reader(wire.read_frame(self.sock, time.monotonic() + 10))
        assert r.i32() == self.correlation
        return r

    def authenticate(self, user: str, password: str) -> tuple[int, int]:
        """(error code, session_lifetime_ms) of a PLAIN exchange."""
        r = self.call(17, 1, wire.string("PLAIN"))
        assert r.i16() == 0
        r = self.call(36, 1, wire.nbytes(f"\0{user}\0{password}".encode()))
        code = r.i16()
        r.string()   # error message
        r.take(max(r.i32(), 0))  # auth bytes
        return code, r.i64()

    def metadata_ok(self) -> bool:
        r = self.call(3, 1, wire.i32(-1))
        return r.i32() >= 1  # at least this broker

    def close(self):
        self.sock.close()


def test_session_lifetime_expiry_closes_and_reauthentication_renews(reauth_broker):
    b = reauth_broker
    # The lifetime is announced, and the session works until it ends ...
    expiring = Conn(b.sasl_port)
    assert expiring.authenticate("alice", USERS["alice"]) == (0, LIFETIME_MS)
    started = time.monotonic()
    assert expiring.metadata_ok()
    # ... re-authenticated on the same connection, a session outlives the first lifetime.
    renewed = Conn(b.sasl_port)
    assert renewed.authenticate("alice", USERS["alice"]) == (0, LIFETIME_MS)
    renew_deadline = time.monotonic() + LIFETIME_MS / 1000 * 0.6
    while time.monotonic() < renew_deadline:
        assert renewed.metadata_ok()
    assert renewed.authenticate("alice", USERS["alice"]) == (0, LIFETIME_MS)
    # Past the first lifetime: the expired connection is closed at its next request (no answer) ...
    while time.monotonic() - started < LIFETIME_MS / 1000 + 0.3:
        assert renewed.metadata_ok()  # the renewed one keeps working meanwhile (bounded by the loop's time)
    expiring.sock.sendall(wire.frame(wire.request_header(3, 1, 99, "reauth-test", False) + wire.i32(-1)))
    assert closed_within(expiring.sock, 5) < 5
    expiring.close()
    # ... while the renewed one answers.
    assert renewed.metadata_ok()
    renewed.close()
    log = b.log_path.read_text(errors="replace")
    assert "closing connection: SASL session expired" in log and "re-authenticated" in log


def test_reauthentication_cannot_change_principal(reauth_broker):
    b = reauth_broker
    c = Conn(b.sasl_port)
    assert c.authenticate("alice", USERS["alice"]) == (0, LIFETIME_MS)
    code, _ = c.authenticate("bob", USERS["bob"])
    assert code == 58  # SASL_AUTHENTICATION_FAILED
    assert closed_within(c.sock, 5) < 5
    c.close()
    assert "re-authentication as another principal" in b.log_path.read_text(errors="replace")


def test_java_producer_keeps_producing_across_reauthentications(runnel_bin, reauth_broker, java):
    b = reauth_broker
    topic, user, password = topic_and_scram_user(runnel_bin, b, "reauth")
    props = java_props("SASL_PLAINTEXT", None, "SCRAM-SHA-512", user, password)
    # Six lifetimes of sending: on a loaded machine a renewal point can fall in a pause between sends.
    seconds = 6 * LIFETIME_MS / 1000
    count = 60
    r = java.run("produce", {"bootstrap": f"127.0.0.1:{b.sasl_port}", "topic": topic, "count": count,
                             "ratePerSec": int(count / seconds), "prefix": unique("p"), "partition": 0,
                             "deliveryTimeoutMs": 10000, "requestTimeoutMs": 5000, "props": props}, timeout=90)
    assert r["acked"] == count and r["failed"] == 0, r
    log = b.log_path.read_text(errors="replace")
    reauths = [line for line in log.splitlines() if "re-authenticated" in line and f"User:{user}" in line]
    # At least three renewals of one session over six lifetimes (the client renews at 85-95% of each).
    clients = {m.group(1) for line in reauths if (m := re.search(r"client=(\S+)", line))}
    assert len(reauths) >= 3 and clients, reauths
    assert not any("SASL session expired" in line and f"User:{user}" in line for line in log.splitlines())


def test_deleted_scram_user_stops_at_the_next_reauthentication(runnel_bin, reauth_broker, java):
    b = reauth_broker
    topic, user, password = topic_and_scram_user(runnel_bin, b, "revoked")
    producer = java.start("produce", {
        # Once refused, each send waits up to maxBlockMs for metadata that never comes: keep both small.
        "bootstrap": f"127.0.0.1:{b.sasl_port}", "topic": topic, "count": 60, "ratePerSec": 10,
        "prefix": unique("p"), "partition": 0, "progressEvery": 5, "deliveryTimeoutMs": 4000,
        "requestTimeoutMs": 3000, "maxBlockMs": 1000, "closeTimeoutMs": 3000,
        "props": java_props("SASL_PLAINTEXT", None, "SCRAM-SHA-512", user, password)})
    try:
        producer.wait_acked(10, timeout=30)
        cli.ok(runnel_bin, "user", "delete", user, "--mechanism", "SCRAM-SHA-512", brokers=b.bootstrap)
        acked_at_deletion = producer.acked
        r = producer.result(timeout=150)
    finally:
        producer.kill()
    # Records sent after the session ended are refused: the producer's re-authentication failed.
    assert r["acked"] < 60 and r["failed"] > 0, r
    assert set(r["errors"]) <= {"SaslAuthenticationException", "AuthenticationException", "TimeoutException"}, r
    log = b.log_path.read_text(errors="replace")
    # A connection that had authenticated as the user failed its renewal (a re-authentication).
    def connections(event: str) -> set[str]:
        return {m.group(1) for line in log.splitlines() if f" {event} " in line and user in line
                and (m := re.search(r"connection=(\S+)", line))}
    assert connections("authenticated") & connections("authentication failed"), (r, log[-3000:])
    log = b.log_path.read_text(errors="replace")
    assert "authentication failed" in log and user in log
    # At most one lifetime's worth (10 records/s, plus slack for progress reporting) after the deletion.
    assert r["acked"] <= acked_at_deletion + 5 + 10 * LIFETIME_MS / 1000, (acked_at_deletion, r)
