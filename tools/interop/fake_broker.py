#!/usr/bin/env python3
"""A stand-in for `runnel broker`, used only to test the interop harness and the capture proxy
before the real broker exists. Invoked exactly like it: `fake_broker.py broker --config FILE`.
It reads the TOML config (Kafka names: "listeners", "log.dirs"), counts its starts in
<log.dirs>/fake-starts, listens on the listener's port, answers ApiVersions (v0-v3; unknown
versions get UNSUPPORTED_VERSION in the v0 format), answers any other request with its
correlation id and four zero bytes, and exits 0 on SIGTERM.
FAKE_BROKER_MODE changes that for the harness's failure tests:
  exit-early   exit 3 at once        ignore-term  ignore SIGTERM
  bad-exit     exit 1 on SIGTERM     never-ready  accept connections but never answer
"""
import os
import signal
import socket
import struct
import sys
import threading
import tomllib
from pathlib import Path

MODE = os.environ.get("FAKE_BROKER_MODE", "normal")
APIS = [(0, 3, 13), (1, 4, 18), (2, 1, 11), (3, 0, 13), (18, 0, 4)]


def uvarint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | 0x80 if v else b)
        if not v:
            return bytes(out)


def api_versions_body(version):
    if version > 4:  # unknown to us: v0 format with UNSUPPORTED_VERSION (35)
        return struct.pack(">hi", 35, len(APIS)) + b"".join(struct.pack(">hhh", *a) for a in APIS)
    if version >= 3:
        body = struct.pack(">h", 0) + uvarint(len(APIS) + 1)
        body += b"".join(struct.pack(">hhh", *a) + b"\x00" for a in APIS)
        return body + struct.pack(">i", 0) + b"\x00"
    body = struct.pack(">hi", 0, len(APIS)) + b"".join(struct.pack(">hhh", *a) for a in APIS)
    return body + (struct.pack(">i", 0) if version >= 1 else b"")


def recv_exact(conn, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def serve(conn):
    with conn:
        while True:
            head = recv_exact(conn, 4)
            if head is None:
                return
            size = struct.unpack(">i", head)[0]
            if size < 8 or size > 100 << 20:
                return  # close on nonsense sizes, as a broker should
            payload = recv_exact(conn, size)
            if payload is None:
                return
            if MODE == "never-ready":
                continue
            key, version, corr = struct.unpack(">hhi", payload[:8])
            body = api_versions_body(version) if key == 18 else b"\x00\x00\x00\x00"
            resp = struct.pack(">i", corr) + body
            conn.sendall(struct.pack(">i", len(resp)) + resp)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "broker" and sys.argv[2] == "--help":
        print("usage: fake_broker.py broker --config FILE")
        return 0
    if len(sys.argv) < 4 or sys.argv[1] != "broker" or sys.argv[2] != "--config":
        print("usage: fake_broker.py broker --config FILE", file=sys.stderr)
        return 64
    if MODE == "exit-early":
        print("fake broker: exiting early as asked", flush=True)
        return 3
    cfg = tomllib.loads(Path(sys.argv[3]).read_text())
    port = int(cfg["listeners"].rsplit(":", 1)[1])
    data = Path(cfg["log.dirs"])
    data.mkdir(parents=True, exist_ok=True)
    starts = data / "fake-starts"
    n = int(starts.read_text()) + 1 if starts.exists() else 1
    starts.write_text(str(n))

    stop = threading.Event()
    if MODE == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(64)
    srv.settimeout(0.1)
    print(f"fake broker: start {n} listening on {port}, data {data}", flush=True)
    while not stop.is_set():
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
    srv.close()
    print("fake broker: SIGTERM, shutting down", flush=True)
    return 1 if MODE == "bad-exit" else 0


if __name__ == "__main__":
    sys.exit(main())
