"""tools/capture/capture_proxy.py against a tiny fake upstream (tools/interop/fake_broker.py):
every client request frame is forwarded unchanged and recorded, size prefix stripped, as
<client>-<ApiKeyName>-v<version>-<n>.bin; responses (with --responses) as ...-<n>.response.bin.
Frames split across reads and several frames in one read are both handled."""
from __future__ import annotations

import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runnel_interop import wire
from runnel_interop.broker import BrokerProcess

ROOT = Path(__file__).resolve().parents[2]
FAKE = ROOT / "tools" / "interop" / "fake_broker.py"
PROXY = ROOT / "tools" / "capture" / "capture_proxy.py"


@pytest.fixture
def upstream(tmp_path):
    exe = tmp_path / "fake-runnel"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    b = BrokerProcess(str(exe), tmp_path / "upstream")
    b.start(timeout=20)
    yield b
    b.stop(timeout=10)


@pytest.fixture
def proxy(upstream, tmp_path):
    procs = []

    def start(client: str, responses: bool = False) -> tuple[int, Path]:
        out = tmp_path / f"captures-{client}"
        cmd = [sys.executable, str(PROXY), "--upstream", upstream.bootstrap, "--out", str(out),
               "--client", client, "--listen-port", "0"] + (["--responses"] if responses else [])
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(p)
        line = p.stdout.readline()  # bounded by pytest-timeout; the proxy prints it at once
        assert line.startswith("LISTENING "), f"proxy said {line!r}: {p.stderr.read() if p.poll() is not None else ''}"
        return int(line.split()[1]), out

    yield start
    for p in procs:
        p.terminate()
        assert p.wait(10) == 0


def wait_files(folder: Path, names: set[str], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        have = {f.name for f in folder.glob("*.bin")} if folder.exists() else set()
        if names <= have:
            return
        time.sleep(0.02)
    have = sorted(f.name for f in folder.glob("*.bin")) if folder.exists() else []
    raise AssertionError(f"captures missing: {sorted(names - set(have))}; have {have}")


def exchange(port: int, frames: list[bytes], chunk: int | None = None) -> list[bytes]:
    """Sends frames (all in one write, or `chunk` bytes at a time) and reads one response each."""
    deadline = time.monotonic() + 10
    with wire.connect(port) as s:
        data = b"".join(frames)
        if chunk is None:
            s.sendall(data)
        else:
            for i in range(0, len(data), chunk):
                s.sendall(data[i:i + chunk])
        out = []
        for _ in frames:
            payload = wire.read_frame(s, deadline)
            assert payload is not None, "proxy closed the connection"
            out.append(payload)
        return out


def test_requests_are_forwarded_and_recorded_by_api_and_version(proxy, upstream):
    port, out = proxy("kcat", responses=True)
    records = wire.record_batch([(b"k", b"v", [("h", b"x")])], base_timestamp=1_700_000_000_000)
    frames = [wire.api_versions_request(3, 11), wire.metadata_request_v1(12, ["t"]),
              wire.produce_request_v8(13, "t", 0, records)]
    via_proxy = exchange(port, frames)                 # pipelined: three frames in one write
    direct = exchange(upstream.port, frames)
    assert via_proxy == direct                         # forwarded unchanged both ways
    assert [wire.Reader(p).i32() for p in via_proxy] == [11, 12, 13]

    again = [wire.api_versions_request(3, 21), wire.produce_request_v8(22, "t", 0, records)]
    exchange(port, again, chunk=3)                     # frames split across many small reads

    expected = {
        "kcat-ApiVersions-v3-1.bin": frames[0][4:], "kcat-Metadata-v1-1.bin": frames[1][4:],
        "kcat-Produce-v8-1.bin": frames[2][4:], "kcat-ApiVersions-v3-2.bin": again[0][4:],
        "kcat-Produce-v8-2.bin": again[1][4:],
    }
    responses = {"kcat-ApiVersions-v3-1.response.bin": via_proxy[0],
                 "kcat-Metadata-v1-1.response.bin": via_proxy[1],
                 "kcat-Produce-v8-1.response.bin": via_proxy[2]}
    later = {"kcat-ApiVersions-v3-2.response.bin", "kcat-Produce-v8-2.response.bin"}
    wait_files(out, set(expected) | set(responses) | later)
    for name, payload in {**expected, **responses}.items():
        assert (out / name).read_bytes() == payload, name
    assert sorted(f.name for f in out.glob("*.bin")) == sorted(set(expected) | set(responses) | later)


def test_auto_client_name_comes_from_client_id(proxy):
    port, out = proxy("auto")
    frame = wire.api_versions_request(0, 5, client_id="rdkafka/odd name")
    named = wire.api_versions_request(3, 6, client_id="kafka-python")
    exchange(port, [frame, named])
    wait_files(out, {"rdkafka_odd_name-ApiVersions-v0-1.bin", "kafka-python-ApiVersions-v3-1.bin"})
    assert (out / "rdkafka_odd_name-ApiVersions-v0-1.bin").read_bytes() == frame[4:]
    assert (out / "kafka-python-ApiVersions-v3-1.bin").read_bytes() == named[4:]
    assert not list(out.glob("*.response.bin"))        # responses only with --responses
