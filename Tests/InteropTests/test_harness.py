"""The harness's process handling, proven against tools/interop/fake_broker.py (no Runnel needed):
readiness by ApiVersions round trip, SIGTERM stop with exit 0, SIGKILL, restart on the same port
and data dir, and clear failures when a broker exits early, never answers, or ignores SIGTERM; and the
fault-injecting proxy (runnel_interop/faultproxy.py) against an echo server."""
from __future__ import annotations

import stat
import sys
import time
from pathlib import Path

import pytest

from runnel_interop import wire
from runnel_interop.broker import BrokerError, BrokerProcess

FAKE = Path(__file__).resolve().parents[2] / "tools" / "interop" / "fake_broker.py"


@pytest.fixture
def fake_bin(tmp_path):
    """An executable that runs the fake broker with this interpreter (tomllib needs 3.11+)."""
    def make(mode: str = "normal") -> str:
        p = tmp_path / f"fake-runnel-{mode}"
        p.write_text(f'#!/bin/sh\nFAKE_BROKER_MODE={mode} exec "{sys.executable}" "{FAKE}" "$@"\n')
        p.chmod(p.stat().st_mode | stat.S_IXUSR)
        return str(p)
    return make


def test_start_waits_for_api_versions_and_sigterm_stop_exits_zero(fake_bin, tmp_path):
    b = BrokerProcess(fake_bin(), tmp_path / "b")
    b.start(timeout=20)
    try:
        resp = wire.api_versions_roundtrip(b.port, version=3)
        assert resp["error_code"] == 0
        assert resp["api_versions"][18] == (0, 4)
        config = b.config_path.read_text()
        assert f'"listeners" = "PLAINTEXT://127.0.0.1:{b.port}"' in config
        assert f'"log.dirs" = "{b.data_dir}"' in config
    finally:
        assert b.stop(timeout=10) == 0
    assert b.exit_codes == [0]
    assert "SIGTERM" in b.log_path.read_text()


def test_kill_then_restart_reuses_port_and_data_dir(fake_bin, tmp_path):
    b = BrokerProcess(fake_bin(), tmp_path / "b")
    b.start(timeout=20)
    port, pid1 = b.port, b.pid
    b.kill()
    assert b.exit_codes == [-9]
    b.start(timeout=20)
    assert b.port == port and b.pid != pid1
    assert (b.data_dir / "fake-starts").read_text() == "2"
    b.restart(graceful=True, timeout=20)
    assert (b.data_dir / "fake-starts").read_text() == "3"
    assert b.stop(timeout=10) == 0
    assert b.exit_codes == [-9, 0, 0]
    assert len(b.log_paths) == 3


def test_broker_that_exits_early_fails_fast_with_its_log(fake_bin, tmp_path):
    b = BrokerProcess(fake_bin("exit-early"), tmp_path / "b")
    t0 = time.monotonic()
    with pytest.raises(BrokerError) as e:
        b.start(timeout=20)
    assert time.monotonic() - t0 < 10
    assert "exited with code 3" in str(e.value)
    assert "exiting early as asked" in str(e.value)


def test_broker_that_never_answers_times_out_and_is_killed(fake_bin, tmp_path):
    b = BrokerProcess(fake_bin("never-ready"), tmp_path / "b")
    t0 = time.monotonic()
    with pytest.raises(BrokerError) as e:
        b.start(timeout=3)
    assert 3 <= time.monotonic() - t0 < 15
    assert "not ready within 3" in str(e.value)
    assert not b.running()


def test_stop_fails_when_sigterm_is_ignored(fake_bin, tmp_path):
    b = BrokerProcess(fake_bin("ignore-term"), tmp_path / "b")
    b.start(timeout=20)
    with pytest.raises(BrokerError) as e:
        b.stop(timeout=2)
    assert "did not exit within 2" in str(e.value)
    assert not b.running()


def test_stop_fails_on_nonzero_exit(fake_bin, tmp_path):
    b = BrokerProcess(fake_bin("bad-exit"), tmp_path / "b")
    b.start(timeout=20)
    with pytest.raises(BrokerError) as e:
        b.stop(timeout=10)
    assert "exited with code 1 after SIGTERM" in str(e.value)


def test_unsupported_api_versions_version_is_parsed_in_v0_format(fake_bin, tmp_path):
    b = BrokerProcess(fake_bin(), tmp_path / "b")
    b.start(timeout=20)
    try:
        resp = wire.api_versions_roundtrip(b.port, version=99, correlation_id=1234)
        assert resp == {"correlation_id": 1234, "error_code": wire.UNSUPPORTED_VERSION,
                        "api_versions": {0: (3, 13), 1: (4, 18), 2: (1, 11), 3: (0, 13), 18: (0, 4)}}
    finally:
        b.stop(timeout=10)


def test_a_missing_prerequisite_fails_under_ci_and_skips_elsewhere(monkeypatch):
    import conftest
    monkeypatch.delenv("RUNNEL_INTEROP_REQUIRE_BROKER", raising=False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"CI=true makes this a failure\): no kcat"):
        conftest.missing_prerequisite("no kcat")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="no kcat"):
        conftest.missing_prerequisite("no kcat")


# ---- the fault-injecting proxy (runnel_interop/faultproxy.py) against an echo server ------------------

@pytest.fixture
def echo_port():
    import socket
    import threading
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                s, _ = srv.accept()
            except OSError:
                return

            def echo(s=s):
                with s:
                    while True:
                        try:
                            d = s.recv(4096)
                        except OSError:
                            return
                        if not d:
                            return
                        s.sendall(d)
            threading.Thread(target=echo, daemon=True).start()
    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1]
    stop.set()
    srv.close()


def test_fault_proxy_cut_stall_blackhole_refuse_heal_and_delay(echo_port):
    import socket
    import struct
    from runnel_interop.faultproxy import FaultProxy

    def roundtrip(s, data: bytes, timeout: float = 1.0) -> bytes:
        s.settimeout(timeout)
        s.sendall(data)
        return s.recv(100)

    with FaultProxy(echo_port, name="echo", kafka=True) as p:
        a = socket.create_connection(("127.0.0.1", p.port))
        assert roundtrip(a, b"hello") == b"hello"
        p.cut(existing="stall", new="blackhole")
        with pytest.raises(socket.timeout):
            roundtrip(a, b"x", 0.5)                      # stalled, not closed
        b = socket.create_connection(("127.0.0.1", p.port))   # a connect succeeds (blackhole) ...
        with pytest.raises(socket.timeout):
            roundtrip(b, b"y", 0.5)                      # ... and nothing answers
        p.heal()
        a.settimeout(3)
        b.settimeout(3)
        assert a.recv(100) == b"x" and b.recv(100) == b"y"   # what was sent meanwhile arrives
        p.cut(existing="close", new="refuse")
        a.settimeout(3)
        assert a.recv(100) == b""                        # closed
        with pytest.raises(OSError):
            c = socket.create_connection(("127.0.0.1", p.port))
            roundtrip(c, b"z", 2)                        # reset at once
        p.heal()
        # Delay only the connection whose first Kafka request header names client_id runnel-replica-2.
        p.delay(0.5, match=lambda cid: cid == "runnel-replica-2")
        slow = socket.create_connection(("127.0.0.1", p.port))
        cid = b"runnel-replica-2"
        header = struct.pack(">hhih", 1, 12, 7, len(cid)) + cid
        t = time.monotonic()
        assert roundtrip(slow, struct.pack(">i", len(header)) + header, 5)[:4] == struct.pack(">i", len(header))
        assert time.monotonic() - t >= 0.9               # 0.5 s each way
        fast = socket.create_connection(("127.0.0.1", p.port))
        t = time.monotonic()
        assert roundtrip(fast, b"quick", 2) == b"quick" and time.monotonic() - t < 0.4
        assert "runnel-replica-2" in p.labels()
        for s in (a, b, slow, fast):
            s.close()
