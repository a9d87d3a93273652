#!/usr/bin/env python3
"""End-to-end throughput of a Runnel broker, as ratios to this machine's own limits measured in the
same run: single-stream loopback TCP (iperf3) and sequential write with an fdatasync per MiB (fio).

A third-party client drives the broker: librdkafka through confluent-kafka. 1 KiB records, acks=all,
the broker's durable default. Reports the median of several rounds (the machine is noisy).

    .venv/bin/python tools/bench/e2e_bench.py --runnel .build-release/release/runnel --rounds 3
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def iperf3_loopback_bytes_per_s(seconds: int = 3) -> float:
    port = free_port()
    server = subprocess.Popen(["iperf3", "-s", "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        # Retry the client until the server listens (a probe connection would count as a test).
        deadline = time.time() + 10
        while True:
            out = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds), "-J"],
                                 capture_output=True, text=True, timeout=seconds + 20)
            result = json.loads(out.stdout or "{}")
            if "sum_received" in result.get("end", {}):
                return result["end"]["sum_received"]["bits_per_second"] / 8
            if time.time() > deadline:
                raise RuntimeError(f"iperf3 failed: {out.stdout[-500:]} {out.stderr[-500:]}")
            time.sleep(0.2)
    finally:
        server.kill()
        server.wait()


def fio_seq_write_fdatasync_bytes_per_s(directory: str, size_mb: int = 512) -> float:
    out = subprocess.run(
        ["fio", "--name=seqwrite", f"--directory={directory}", "--rw=write", "--bs=1M", f"--size={size_mb}M",
         "--fdatasync=1", "--ioengine=psync", "--output-format=json"],
        capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout)["jobs"][0]["write"]["bw_bytes"]


class Broker:
    def __init__(self, binary: str, workdir: str):
        self.port = free_port()
        self.log = open(os.path.join(workdir, "broker.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "broker", "--override", f"listeners=PLAINTEXT://127.0.0.1:{self.port}",
             "--override", f"log.dirs={workdir}/data", "--override", "metrics.listener=",
             "--log-level", "warning"], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("broker did not start")

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)
        self.log.close()


def create_topic(bootstrap: str, name: str, partitions: int):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        future.result(timeout=30)


def produce(bootstrap: str, topic: str, count: int, value_size: int, rate: float | None = None):
    """Returns (bytes/s, records/s, latencies in ms)."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
                         "batch.size": 1_000_000, "queue.buffering.max.messages": 1_000_000,
                         "queue.buffering.max.kbytes": 1_048_576, "enable.idempotence": True})
    value = os.urandom(value_size // 2).hex().encode()[:value_size]
    latencies = []
    errors = []

    def delivered(err, msg, sent=None):
        if err is not None:
            errors.append(err)

    start = time.perf_counter()
    for i in range(count):
        sent = time.perf_counter()
        if rate:
            target = start + i / rate
            while time.perf_counter() < target:
                producer.poll(0)
            sent = time.perf_counter()
        while True:
            try:
                producer.produce(topic, value, on_delivery=lambda err, msg, sent=sent: (
                    errors.append(err) if err else latencies.append((time.perf_counter() - sent) * 1000)))
                break
            except BufferError:
                producer.poll(0.01)
        if i % 1000 == 0:
            producer.poll(0)
    producer.flush(120)
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} delivery errors, first: {errors[0]}")
    return count * value_size / elapsed, count / elapsed, latencies


def consume(bootstrap: str, topic: str, partitions: int, count: int, value_size: int):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench", "enable.auto.commit": False,
                         "fetch.max.bytes": 52_428_800, "max.partition.fetch.bytes": 10_485_760})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    got = 0
    start = time.perf_counter()
    deadline = time.time() + 300
    while got < count and time.time() < deadline:
        for message in consumer.consume(num_messages=10000, timeout=1.0):
            if message.error() is None:
                got += 1
    elapsed = time.perf_counter() - start
    consumer.close()
    if got < count:
        raise RuntimeError(f"consumed {got} of {count}")
    return count * value_size / elapsed


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runnel", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--value-size", type=int, default=1024)
    parser.add_argument("--json", help="write results here")
    args = parser.parse_args()

    results = {"rounds": args.rounds, "records": args.records, "value_size": args.value_size}
    with tempfile.TemporaryDirectory(prefix="runnel-bench-", dir=os.environ.get("BENCH_DIR", "/tmp")) as work:
        loopback = [iperf3_loopback_bytes_per_s() for _ in range(args.rounds)]
        disk = [fio_seq_write_fdatasync_bytes_per_s(work) for _ in range(args.rounds)]
        results["loopback_tcp_MBps"] = statistics.median(loopback) / 1e6
        results["disk_seq_write_fdatasync_per_MiB_MBps"] = statistics.median(disk) / 1e6
        limit = min(results["loopback_tcp_MBps"], results["disk_seq_write_fdatasync_per_MiB_MBps"])

        for partitions in (1, 6):
            produced, consumed, p99s, rss = [], [], [], []
            for round_index in range(args.rounds):
                broker_dir = tempfile.mkdtemp(dir=work)
                broker = Broker(args.runnel, broker_dir)
                try:
                    idle_rss = broker.rss_bytes()
                    topic = f"bench-{partitions}-{round_index}"
                    create_topic(broker.bootstrap, topic, partitions)
                    bps, rps, _ = produce(broker.bootstrap, topic, args.records, args.value_size)
                    produced.append(bps)
                    consumed.append(consume(broker.bootstrap, topic, partitions, args.records, args.value_size))
                    # Latency at half the measured maximum rate.
                    latency_topic = topic + "-latency"
                    create_topic(broker.bootstrap, latency_topic, partitions)
                    _, _, latencies = produce(broker.bootstrap, latency_topic, min(args.records, 50_000),
                                              args.value_size, rate=rps / 2)
                    p99s.append(percentile(latencies, 0.99))
                    rss.append((idle_rss, broker.rss_bytes()))
                finally:
                    broker.stop()
            key = f"partitions_{partitions}"
            results[key] = {
                "produce_MBps": statistics.median(produced) / 1e6,
                "produce_ratio_to_min_loopback_disk": statistics.median(produced) / 1e6 / limit,
                "consume_MBps": statistics.median(consumed) / 1e6,
                "consume_ratio_to_loopback": statistics.median(consumed) / 1e6 / results["loopback_tcp_MBps"],
                "produce_p99_ms_at_half_rate": statistics.median(p99s),
                "rss_idle_MB": statistics.median(r[0] for r in rss) / 1e6,
                "rss_after_load_MB": statistics.median(r[1] for r in rss) / 1e6,
            }
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
