#!/usr/bin/env python3
"""A minimal Fetch consumer for measuring what the broker serves, not what a client library can parse.

It speaks Fetch v4 on one connection, keeps one request in flight, receives each response into a
preallocated buffer (recv_into, no per-record work), walks only the record-batch headers to learn the
next offset per partition, and stops once COUNT records arrived. librdkafka's consumer spends about a
CPU-second per GB on per-message work; on a 2-core machine that, not the broker, bounds its rate.

    raw_fetch.py --bootstrap 127.0.0.1:9092 --topic t --partitions 6 --count 200000 --value-size 1024

Prints one JSON object: records, batch_bytes, seconds, MBps (records × value size / seconds).
"""
import argparse
import json
import socket
import struct
import sys
import time


def request(correlation: int, topic: bytes, offsets: dict[int, int], max_bytes: int, partition_max: int) -> bytes:
    body = struct.pack(">hhih", 1, 4, correlation, 3) + b"raw"
    body += struct.pack(">iiiib", -1, 500, 1, max_bytes, 0)
    body += struct.pack(">ih", 1, len(topic)) + topic + struct.pack(">i", len(offsets))
    for partition, offset in offsets.items():
        body += struct.pack(">iqi", partition, offset, partition_max)
    return struct.pack(">i", len(body)) + body


def recv_exact(sock: socket.socket, view: memoryview, n: int):
    got = 0
    while got < n:
        r = sock.recv_into(view[got:n], n - got)
        if r == 0:
            raise ConnectionError("broker closed the connection")
        got += r


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--value-size", type=int, default=1024)
    parser.add_argument("--max-bytes", type=int, default=52_428_800)
    parser.add_argument("--partition-max-bytes", type=int, default=10_485_760)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()

    host, port = args.bootstrap.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    topic = args.topic.encode()
    offsets = {p: 0 for p in range(args.partitions)}
    buf = bytearray(args.max_bytes + (1 << 20))
    view = memoryview(buf)
    records = batch_bytes = 0
    correlation = 0
    start = time.perf_counter()
    deadline = start + args.timeout
    while records < args.count:
        if time.perf_counter() > deadline:
            print(f"raw_fetch: {records} of {args.count} records before the deadline", file=sys.stderr)
            return 1
        correlation += 1
        sock.sendall(request(correlation, topic, offsets, args.max_bytes, args.partition_max_bytes))
        recv_exact(sock, view, 4)
        (size,) = struct.unpack_from(">i", buf, 0)
        if size > len(buf):
            buf = bytearray(size)
            view = memoryview(buf)
        recv_exact(sock, view, size)
        pos = 8  # correlation id, throttle time
        (topics,) = struct.unpack_from(">i", buf, pos)
        pos += 4
        for _ in range(topics):
            (name_len,) = struct.unpack_from(">h", buf, pos)
            pos += 2 + name_len
            (parts,) = struct.unpack_from(">i", buf, pos)
            pos += 4
            for _ in range(parts):
                partition, error = struct.unpack_from(">ih", buf, pos)
                pos += 6 + 16
                (aborted,) = struct.unpack_from(">i", buf, pos)
                pos += 4 + max(aborted, 0) * 16
                (length,) = struct.unpack_from(">i", buf, pos)
                pos += 4
                end = pos + max(length, 0)
                if error != 0:
                    print(f"raw_fetch: partition {partition} error code {error}", file=sys.stderr)
                    return 1
                batch = pos
                while batch + 61 <= end:
                    base, blen = struct.unpack_from(">qi", buf, batch)
                    if batch + 12 + blen > end:
                        break  # a partial batch at the end of the response
                    (last_delta,) = struct.unpack_from(">i", buf, batch + 23)
                    (count,) = struct.unpack_from(">i", buf, batch + 57)
                    records += count
                    batch_bytes += 12 + blen
                    offsets[partition] = base + last_delta + 1
                    batch += 12 + blen
                pos = end
    seconds = time.perf_counter() - start
    print(json.dumps({"mode": "raw_fetch", "records": records, "batch_bytes": batch_bytes, "seconds": seconds,
                      "MBps": records * args.value_size / seconds / 1e6}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
