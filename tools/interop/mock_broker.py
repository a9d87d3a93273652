#!/usr/bin/env python3
"""A development aid, not a test subject: stands in for `runnel broker --config FILE` with
librdkafka's built-in mock cluster (confluent-kafka's `test.mock.num.brokers`), so the interop
suite's client plumbing can be exercised before Runnel's broker exists:

    RUNNEL_BIN=tools/interop/mock_broker.sh .venv/bin/python -m pytest Tests/InteropTests

The mock listens on a port of its own choosing and advertises that port in Metadata; this
process forwards the configured listener port to it, so bootstrap and readiness work, but tests
that assert the advertised port, persistence across restarts, or APIs the mock lacks fail here
by design. Exits 0 on SIGTERM.
"""
import logging
import re
import signal
import socket
import sys
import threading
import time
import tomllib
from pathlib import Path

from confluent_kafka import Producer


def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "broker" and sys.argv[2] == "--help":
        print("usage: mock_broker.py broker --config FILE")
        return 0
    if len(sys.argv) < 4 or sys.argv[1] != "broker" or sys.argv[2] != "--config":
        print("usage: mock_broker.py broker --config FILE", file=sys.stderr)
        return 64
    cfg = tomllib.loads(Path(sys.argv[3]).read_text())
    port = int(cfg["listeners"].rsplit(":", 1)[1])
    found = threading.Event()
    addr = {}

    class Grab(logging.Handler):
        def emit(self, record):
            m = re.search(r"replaced with (\S+):(\d+)", record.getMessage())
            if m:
                addr["host"], addr["port"] = m.group(1), int(m.group(2))
                found.set()

    log = logging.getLogger("mock")
    log.addHandler(Grab())
    log.setLevel(logging.INFO)
    keeper = Producer({"bootstrap.servers": "unused:1", "test.mock.num.brokers": 1}, logger=log)
    deadline = time.monotonic() + 10
    while not found.is_set() and time.monotonic() < deadline:
        keeper.poll(0.1)
    if not found.is_set():
        print("mock_broker: no mock cluster address logged", flush=True)
        return 1
    print(f"mock_broker: librdkafka mock cluster at {addr['host']}:{addr['port']}, "
          f"forwarding 127.0.0.1:{port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(64)
    srv.settimeout(0.1)
    while not stop.is_set():
        keeper.poll(0)
        try:
            c, _ = srv.accept()
        except (socket.timeout, InterruptedError):
            continue
        u = socket.create_connection((addr["host"], addr["port"]))
        threading.Thread(target=pump, args=(c, u), daemon=True).start()
        threading.Thread(target=pump, args=(u, c), daemon=True).start()
    srv.close()
    print("mock_broker: SIGTERM, exiting", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
