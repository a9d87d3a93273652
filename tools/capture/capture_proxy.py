#!/usr/bin/env python3
"""Capture proxy for golden bytes: a TCP proxy between a Kafka client and an upstream broker that
forwards every byte unchanged and records each client request frame (size prefix stripped) to
    <out>/<client>-<ApiKeyName>-v<version>-<n>.bin
where n counts from 1 per (client, API, version). With --responses it also records the matching
response frame as ...-<n>.response.bin (responses are matched to requests by correlation id).

    capture_proxy.py --upstream 127.0.0.1:9092 --out Tests/KafkaProtocolTests/Fixtures/captured \
                     --client kcat [--listen-port 19092] [--responses]

It prints "LISTENING <port>" on stdout once it accepts connections (--listen-port 0 picks a free
port). --client auto names files after each connection's client_id (sanitized). Clients learn
broker addresses from Metadata, so start the upstream broker with advertised.listeners pointing
at the proxy (e.g. --override advertised.listeners=PLAINTEXT://127.0.0.1:19092), or later
connections bypass the proxy. Stops on SIGTERM/SIGINT. Needs only the Python standard library.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import struct
import sys
import threading

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
MAX_FRAME = 256 << 20  # larger frames are forwarded but not recorded


def api_name(key: int) -> str:
    return API_NAMES.get(key, f"ApiKey{key}")


def sanitize(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "unknown"


class Recorder:
    """Names and writes captured frames; thread-safe counters per (client, API, version)."""

    def __init__(self, out_dir: str, client: str, responses: bool):
        self.out_dir, self.client, self.responses = out_dir, client, responses
        self.counts: dict[tuple[str, str, int], int] = {}
        self.lock = threading.Lock()
        os.makedirs(out_dir, exist_ok=True)

    def client_name(self, payload: bytes) -> str:
        if self.client != "auto":
            return self.client
        # request header v1+: api_key, api_version, correlation_id, client_id (int16-length string)
        if len(payload) >= 10:
            n = struct.unpack(">h", payload[8:10])[0]
            if 0 <= n <= len(payload) - 10:
                return sanitize(payload[10:10 + n].decode(errors="replace"))
        return "unknown"

    def name_request(self, payload: bytes) -> str | None:
        """The file stem for a request frame (counts it); None for a frame too short for a header."""
        if len(payload) < 8:
            return None
        key, version = struct.unpack(">hh", payload[:4])
        client = self.client_name(payload)
        with self.lock:
            ident = (client, api_name(key), version)
            n = self.counts.get(ident, 0) + 1
            self.counts[ident] = n
        return f"{client}-{api_name(key)}-v{version}-{n}"

    def request(self, stem: str, payload: bytes) -> None:
        self._write(stem + ".bin", payload)

    def response(self, stem: str, payload: bytes) -> None:
        if self.responses:
            self._write(stem + ".response.bin", payload)

    def _write(self, name: str, payload: bytes) -> None:
        path = os.path.join(self.out_dir, name)
        tmp = path + ".part"
        with open(tmp, "wb") as f:
            f.write(payload)
        os.replace(tmp, path)


class FrameSplitter:
    """Accumulates a byte stream and yields complete size-prefixed frames' payloads."""

    def __init__(self):
        self.buf = bytearray()
        self.skip = 0  # bytes of an oversized frame still to pass without recording
        self.broken = False

    def feed(self, data: bytes):
        if self.broken:
            return
        self.buf += data
        while True:
            if self.skip:
                n = min(self.skip, len(self.buf))
                del self.buf[:n]
                self.skip -= n
                if self.skip:
                    return
            if len(self.buf) < 4:
                return
            size = struct.unpack(">i", self.buf[:4])[0]
            if size < 0:
                self.broken = True  # not Kafka framing any more; keep forwarding, stop recording
                return
            if size > MAX_FRAME:
                del self.buf[:4]
                self.skip = size
                continue
            if len(self.buf) < 4 + size:
                return
            payload = bytes(self.buf[4:4 + size])
            del self.buf[:4 + size]
            yield payload


def pump(src: socket.socket, dst: socket.socket, prepare, commit) -> None:
    """Forwards src to dst. Each complete frame is `prepare`d before its bytes are forwarded (so a
    request is registered before its response can come back) and `commit`ted (written) after."""
    splitter = FrameSplitter()
    try:
        while True:
            data = src.recv(1 << 16)
            if not data:
                break
            staged = [(prepare(payload), payload) for payload in splitter.feed(data)]
            dst.sendall(data)  # bytes leave unchanged; file writes happen after forwarding
            for tag, payload in staged:
                commit(tag, payload)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle(client_sock: socket.socket, upstream: tuple[str, int], rec: Recorder) -> None:
    try:
        up = socket.create_connection(upstream, timeout=10)
    except OSError as e:
        print(f"capture_proxy: upstream {upstream} unreachable: {e}", file=sys.stderr, flush=True)
        client_sock.close()
        return
    up.settimeout(None)
    for s in (client_sock, up):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pending: dict[int, str] = {}
    lock = threading.Lock()

    def prepare_request(payload: bytes) -> str | None:
        stem = rec.name_request(payload)
        if stem is not None:
            with lock:
                pending[struct.unpack(">i", payload[4:8])[0]] = stem
        return stem

    def commit_request(stem: str | None, payload: bytes) -> None:
        if stem is not None:
            rec.request(stem, payload)

    def prepare_response(payload: bytes) -> str | None:
        if len(payload) < 4:
            return None
        with lock:
            return pending.pop(struct.unpack(">i", payload[:4])[0], None)

    def commit_response(stem: str | None, payload: bytes) -> None:
        if stem is not None:
            rec.response(stem, payload)

    t = threading.Thread(target=pump, args=(up, client_sock, prepare_response, commit_response),
                         daemon=True)
    t.start()
    pump(client_sock, up, prepare_request, commit_request)
    t.join(10)
    client_sock.close()
    up.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--upstream", required=True, help="host:port of the broker")
    ap.add_argument("--out", required=True, help="fixtures folder to write captures into")
    ap.add_argument("--client", required=True, help="client name in file names, or 'auto' (client_id)")
    ap.add_argument("--listen-host", default="127.0.0.1")
    ap.add_argument("--listen-port", type=int, default=0)
    ap.add_argument("--responses", action="store_true", help="also record response frames")
    a = ap.parse_args(argv)
    host, _, port = a.upstream.rpartition(":")
    upstream = (host or "127.0.0.1", int(port))
    rec = Recorder(a.out, a.client if a.client == "auto" else sanitize(a.client), a.responses)

    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((a.listen_host, a.listen_port))
    srv.listen(128)
    srv.settimeout(0.2)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"LISTENING {srv.getsockname()[1]}", flush=True)
    while not stop.is_set():
        try:
            conn, _ = srv.accept()
        except (socket.timeout, InterruptedError):
            continue
        threading.Thread(target=handle, args=(conn, upstream, rec), daemon=True).start()
    srv.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
