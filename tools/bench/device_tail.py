#!/usr/bin/env python3
"""The device's own latency at a produce pace, with no broker: the reference for issue 16's half-rate p99.

A stream of bytes arrives at --rate MB/s for --seconds. Rounds run back to back on one file: each writes
with O_DIRECT whatever has arrived since the previous round (whole 4 KiB blocks), then runs fdatasync.
A byte is durable at the end of the round that wrote it: group commit with one round in flight, without
a broker's network, parsing, copies or scheduling. (Writing while the previous fdatasync runs measured
worse on this disk: the byte then also waits for the next sync to start.) The latency of a byte is that
end minus its arrival; the figures are quantiles over the bytes (records arriving at a steady pace), so
a device stall counts for every byte it holds up.

A durable broker answering a paced producer on this disk adds to these figures its own work and the
client's (librdkafka's linger.ms, the network): its client-side p99 cannot be lower than this one.

    .venv/bin/python tools/bench/device_tail.py --rate 150 --seconds 5 --dir /var/tmp
"""
import argparse
import json
import mmap
import os
import tempfile
import time

BLOCK = 4096
MAX_WRITE = 8 << 20


def device_tail(directory: str, bytes_per_s: float, seconds: float, remove=os.unlink) -> dict:
    """Runs the paced write + fdatasync rounds in a new file under `directory` (deleted after with
    `remove`: e2e_bench passes its gentle removal, so that freeing the file does not stall the broker
    measured next) and returns the byte-weighted latency quantiles in ms, plus the writes' and fdatasyncs'
    own times."""
    fd, path = tempfile.mkstemp(dir=directory, prefix="device-tail-")
    os.close(fd)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_DIRECT)
    except OSError:
        os.unlink(path)  # no O_DIRECT here (tmpfs)
        raise
    buffer = mmap.mmap(-1, MAX_WRITE)  # page-aligned, as O_DIRECT needs
    rounds: list[tuple[float, float, float, float, float, int]] = []  # arrivals from, to; write start, end; sync end; bytes
    start = time.monotonic()
    written_until = start  # the bytes that arrived up to this time are written
    position = 0
    try:
        while True:
            now = time.monotonic()
            if now - start >= seconds:
                break
            ready = int((now - written_until) * bytes_per_s) // BLOCK * BLOCK
            if ready < BLOCK:
                time.sleep(min(0.0002, (BLOCK - ready) / bytes_per_s))
                continue
            size = min(ready, MAX_WRITE)
            began = time.monotonic()
            os.pwrite(fd, memoryview(buffer)[:size], position)
            wrote = time.monotonic()
            os.fdatasync(fd)
            synced = time.monotonic()
            position += size
            first = written_until
            written_until += size / bytes_per_s
            rounds.append((first, written_until, began, wrote, synced, size))
    finally:
        os.close(fd)
        remove(path)
    samples: list[tuple[float, int]] = []  # (latency, weight in bytes)
    for first, last, _, _, synced, size in rounds:
        pieces = max(1, size // 16384)
        for piece in range(pieces):
            samples.append((synced - (first + (last - first) * (piece + 0.5) / pieces), size // pieces))
    samples.sort()
    total = sum(weight for _, weight in samples)

    def quantile(q: float) -> float:
        running = 0
        for latency, weight in samples:
            running += weight
            if running >= q * total:
                return latency * 1000
        return float("nan")

    def own(values: list[float], q: float) -> float:
        values = sorted(values)
        return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")

    write_times = [wrote - began for _, _, began, wrote, _, _ in rounds]
    sync_times = [synced - wrote for _, _, _, wrote, synced, _ in rounds]
    return {"MBps": position / seconds / 1e6, "rounds": len(rounds),
            "latency_ms": {"p50": quantile(0.5), "p99": quantile(0.99), "p999": quantile(0.999),
                           "max": samples[-1][0] * 1000 if samples else float("nan")},
            "write_ms": {"p50": own(write_times, 0.5), "p99": own(write_times, 0.99), "max": own(write_times, 1.0)},
            "fdatasync_ms": {"p50": own(sync_times, 0.5), "p99": own(sync_times, 0.99), "max": own(sync_times, 1.0)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, required=True, help="MB/s (10^6 bytes) arriving")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--dir", default=os.environ.get("BENCH_DIR", "/var/tmp"),
                        help="a directory on the disk to measure (not tmpfs: O_DIRECT)")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    for _ in range(args.runs):
        print(json.dumps(device_tail(args.dir, args.rate * 1e6, args.seconds)))


if __name__ == "__main__":
    main()
