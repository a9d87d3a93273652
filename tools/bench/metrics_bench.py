#!/usr/bin/env python3
"""How long a /metrics scrape and the console's pages take on a loaded broker (issue 14: "/metrics with
1,000 partitions and 100 groups renders in <= 50 ms"; "a console page over a topic of 1,000 partitions
renders server-side in <= 100 ms").

Starts a release broker with `metrics.listener`, creates TOPICS x PARTITIONS partitions (default
10 x 100 = 1,000, plus the 100 partitions of __consumer_offsets and __transaction_state), writes one
record to each, and commits offsets for GROUPS groups (default 100) on PARTITIONS_PER_GROUP partitions
each (so 1,000 lag series). Then it times SCRAPES GETs of /metrics over one keep-alive loopback
connection (the time includes HTTP and the transfer, an upper bound of the render time) and checks
the answer holds a log-end-offset series per partition and a lag series per committed partition.
With --console-topic-partitions N (default 1000) it also creates one topic of N partitions and times
the console's pages over it (/topic, /messages, /topics, /groups, /), each after one warm-up load.

    swift build -c release --product runnel
    .venv/bin/python tools/bench/metrics_bench.py --runnel .build/release/runnel --json /tmp/metrics.json

Exit code 1 when the median scrape is over --target-ms (default 50).
"""
import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as CkTopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


def scrape(conn: http.client.HTTPConnection) -> bytes:
    conn.request("GET", "/metrics")
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"/metrics answered {resp.status}")
    return body


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runnel", required=True)
    ap.add_argument("--topics", type=int, default=10)
    ap.add_argument("--partitions", type=int, default=100)
    ap.add_argument("--groups", type=int, default=100)
    ap.add_argument("--partitions-per-group", type=int, default=10)
    ap.add_argument("--scrapes", type=int, default=50)
    ap.add_argument("--target-ms", type=float, default=50)
    ap.add_argument("--console-topic-partitions", type=int, default=1000)
    ap.add_argument("--console-target-ms", type=float, default=100)
    ap.add_argument("--json")
    args = ap.parse_args()

    port, metrics_port = free_port(), free_port()
    bootstrap = f"127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="runnel-metrics-bench-") as workdir:
        log = open(os.path.join(workdir, "broker.log"), "w")
        proc = subprocess.Popen(
            [args.runnel, "broker", "--override", f"listeners=PLAINTEXT://127.0.0.1:{port}",
             "--override", f"log.dirs={workdir}/data", "--override", f"metrics.listener=127.0.0.1:{metrics_port}"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            def ready() -> bool:
                try:
                    c = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=2)
                    c.request("GET", "/ready")
                    return c.getresponse().status == 200
                except OSError:
                    return False
            wait_until(ready, 60, "the broker")
            admin = AdminClient({"bootstrap.servers": bootstrap})
            topics = [f"bench-{t}" for t in range(args.topics)]
            for future in admin.create_topics([NewTopic(t, num_partitions=args.partitions, replication_factor=1)
                                               for t in topics], operation_timeout=60).values():
                future.result(120)

            producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
            for topic in topics:
                for p in range(args.partitions):
                    producer.produce(topic, value=b"x" * 100, partition=p)
                producer.poll(0)
            if producer.flush(120) != 0:
                raise RuntimeError("records not delivered")
            del producer, admin  # no reconnect attempts once the broker stops

            started = time.monotonic()
            for g in range(args.groups):
                consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-group-{g}",
                                     "enable.auto.commit": False})
                topic = topics[g % len(topics)]
                consumer.commit(offsets=[CkTopicPartition(topic, p, 0) for p in range(args.partitions_per_group)],
                                asynchronous=False)
                consumer.close()
            commit_s = time.monotonic() - started

            conn = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=30)
            for _ in range(3):
                body = scrape(conn)  # warm up
            text = body.decode()
            leo = text.count("\nrunnel_partition_log_end_offset{")
            lag = text.count("\nrunnel_group_lag{")
            expected_partitions = args.topics * args.partitions
            expected_lag = args.groups * args.partitions_per_group
            if leo < expected_partitions or lag != expected_lag:
                raise RuntimeError(f"scrape holds {leo} log-end-offset and {lag} lag series, "
                                   f"expected >= {expected_partitions} and {expected_lag}")
            times = []
            for _ in range(args.scrapes):
                t0 = time.perf_counter()
                body = scrape(conn)
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()

            console = {}
            if args.console_topic_partitions > 0:
                big = "bench-console"
                admin = AdminClient({"bootstrap.servers": bootstrap})
                admin.create_topics([NewTopic(big, num_partitions=args.console_topic_partitions,
                                              replication_factor=1)], operation_timeout=120)[big].result(300)
                del admin
                pages = {"topic": f"/topic?name={big}", "messages": f"/messages?topic={big}&partition=0",
                         "topics": "/topics", "groups": "/groups", "cluster": "/"}
                for name, path in pages.items():
                    page_times = []
                    for attempt in range(6):
                        t0 = time.perf_counter()
                        conn.request("GET", path)
                        resp = conn.getresponse()
                        page = resp.read()
                        if resp.status != 200:
                            raise RuntimeError(f"{path} answered {resp.status}")
                        if attempt > 0:
                            page_times.append((time.perf_counter() - t0) * 1000)
                    console[name] = {"ms_median": round(statistics.median(page_times), 2),
                                     "ms_max": round(max(page_times), 2), "bytes": len(page)}
            result = {
                "partitions": leo, "groups": args.groups, "lag_series": lag,
                "scrape_bytes": len(body), "sample_lines": sum(1 for l in body.splitlines() if l and not l.startswith(b"#")),
                "scrapes": args.scrapes,
                "ms_min": round(times[0], 2), "ms_median": round(statistics.median(times), 2),
                "ms_p95": round(times[int(len(times) * 0.95) - 1], 2), "ms_max": round(times[-1], 2),
                "target_ms": args.target_ms, "setup_commit_s": round(commit_s, 1),
                "console_topic_partitions": args.console_topic_partitions, "console_pages": console,
                "console_target_ms": args.console_target_ms,
            }
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    console_ok = all(p["ms_median"] <= args.console_target_ms for p in result["console_pages"].values())
    return 0 if result["ms_median"] <= args.target_ms and console_ok else 1


if __name__ == "__main__":
    sys.exit(main())
