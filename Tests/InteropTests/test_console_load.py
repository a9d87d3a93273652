"""The console under load (issue 14: "100 concurrent page loads during a produce benchmark ... nothing
crashes"; decision 0015): 100 HTTP clients load console pages and /metrics at the same time, at least
three times each and until the produce ends, while confluent-kafka produces with acks=all. Every answer is a page (200) or the bounded
queue's refusal (503 with Retry-After), the produce delivers every record, the broker keeps running and
its log end offsets count exactly what was produced. The endpoint's own thread is checked to run under
SCHED_IDLE (Linux), as the kernel reports it in /proc. Meanwhile a separate process probes /health and
/ready as an orchestrator would (a new connection each time): they answer at normal priority, never
behind the pages (decision 0019), so their p99 stays under PROBE_P99_BOUND_S (on the SCHED_IDLE thread,
behind the pages, it was 0.3-2 s on a 2-core machine) and /ready says ready throughout."""
from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer

from conftest import unique
from runnel_interop import clients, metrics

pytestmark = pytest.mark.needs_broker

LOADERS = 100
LOADS_EACH = 3
RECORDS = 200_000
SCHED_IDLE = 5
# The probes' p99 during the load: generous for a loaded 2-core CI machine, well under what the idle
# thread gave (decision 0019 has the numbers).
PROBE_P99_BOUND_S = 0.25

# Probes /health and /ready in turn, a new connection each (as kubelet does), every 2 ms until a line
# arrives on stdin; prints [path, status, body, started (time.monotonic, system-wide on Linux), seconds].
PROBER = r"""
import http.client, json, select, sys, time
host, port, deadline = sys.argv[1], int(sys.argv[2]), time.monotonic() + float(sys.argv[3])
samples = []
while time.monotonic() < deadline and not select.select([sys.stdin], [], [], 0.002)[0]:
    for path in ("/health", "/ready"):
        began = time.monotonic()
        conn = http.client.HTTPConnection(host, port, timeout=10)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            samples.append([path, resp.status, resp.read().decode(), began, time.monotonic() - began])
        except Exception as e:
            samples.append([path, 0, f"{type(e).__name__}: {e}", began, time.monotonic() - began])
        finally:
            conn.close()
json.dump(samples, sys.stdout)
"""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def probe_summary(probes: list, began: float) -> str:
    seconds = [p[4] for p in probes] or [float("inf")]
    slowest = sorted(probes, key=lambda p: -p[4])[:4]
    return (f"{len(probes)} probes, p50 {percentile(seconds, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(seconds, 0.99) * 1000:.1f} ms, max {max(seconds) * 1000:.1f} ms; slowest at "
            + ", ".join(f"+{p[3] - began:.2f} s: {p[4] * 1000:.0f} ms" for p in slowest))


@pytest.fixture(scope="module")
def loaded_broker(runnel_bin, tmp_path_factory):
    from runnel_interop.broker import BrokerProcess
    b = BrokerProcess(runnel_bin, tmp_path_factory.mktemp("console-load"), configs=metrics.metrics_configs())
    b.start()
    yield b
    b.stop()


def thread_policies(pid: int) -> dict[str, int]:
    """Thread name -> scheduling policy (field 41 of /proc/<pid>/task/<tid>/stat)."""
    policies = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        stat = (task / "stat").read_text()
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        policies[f"{name}/{task.name}"] = int(fields[38])  # field 41 counted from 1, minus pid and comm
    return policies


def test_the_endpoint_thread_runs_under_sched_idle(loaded_broker):
    status, _, _ = metrics.get(loaded_broker, "/health")
    assert status == 200
    policies = thread_policies(loaded_broker.pid)
    idle = [name for name, policy in policies.items() if policy == SCHED_IDLE]
    assert len(idle) == 1 and idle[0].startswith("NIO-ELT"), policies
    assert sum(1 for policy in policies.values() if policy == 0) >= 2  # the Kafka side keeps SCHED_OTHER


def test_100_concurrent_page_loads_during_a_produce(loaded_broker):
    b = loaded_broker
    host, port = b.configs["metrics.listener"].split(":")
    pages_topic, topic = unique("load-pages"), unique("load-produce")
    clients.create_topic(b.bootstrap, pages_topic, partitions=3)
    clients.create_topic(b.bootstrap, topic, partitions=6)
    p = Producer({"bootstrap.servers": b.bootstrap})
    for i in range(300):
        p.produce(pages_topic, key=f"k{i}".encode(), value=b'{"n": %d}' % i, partition=i % 3)
    assert p.flush(60) == 0
    paths = ["/", "/topics", f"/topic?name={pages_topic}", f"/messages?topic={pages_topic}&partition=1&format=json",
             "/groups", "/metrics"]

    answers: list[tuple[str, int, bool, int, float]] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(LOADERS + 1, timeout=60)
    produced = threading.Event()

    def load(n: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        try:
            start.wait()
            k, give_up = 0, time.monotonic() + 150
            # At least LOADS_EACH loads, and the console stays loaded for the whole produce.
            while k < LOADS_EACH or (not produced.is_set() and time.monotonic() < give_up):
                path = paths[(n + k) % len(paths)]
                conn.request("GET", path)
                resp = conn.getresponse()
                body = resp.read()
                with lock:
                    answers.append((path, resp.status, resp.getheader("Retry-After") is not None, len(body),
                                    time.monotonic()))
                k += 1
        except Exception as e:  # noqa: BLE001 - every failure is reported by the assertion below
            with lock:
                failures.append(f"loader {n}: {type(e).__name__}: {e}")
        finally:
            conn.close()

    delivered, errors = [0], []

    def on_delivery(err, _msg):
        if err is not None:
            errors.append(str(err))
        else:
            delivered[0] += 1

    threads = [threading.Thread(target=load, args=(n,), daemon=True) for n in range(LOADERS)]
    for t in threads:
        t.start()
    # Its own session, as an orchestrator's probes come from another process group (and autogroup).
    prober = subprocess.Popen([sys.executable, "-c", PROBER, host, port, "300"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    producer = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 5,
                         "queue.buffering.max.messages": 200_000})
    value = b"x" * 512
    start.wait()
    began = time.monotonic()
    for i in range(RECORDS):
        while True:
            try:
                producer.produce(topic, value=value, partition=i % 6, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    try:
        assert producer.flush(120) == 0
    finally:
        produced.set()
    produced_at = time.monotonic()
    for t in threads:
        t.join(max(1.0, 180 - (time.monotonic() - began)))
    try:
        probes_out, _ = prober.communicate("stop\n", timeout=60)
    finally:
        prober.kill()

    assert not [t for t in threads if t.is_alive()], "page loaders still waiting for answers"
    assert not failures, failures[:5]
    assert errors == [] and delivered[0] == RECORDS
    assert len(answers) >= LOADERS * LOADS_EACH
    bad = [a for a in answers if not (a[1] == 200 and a[3] > 0) and not (a[1] == 503 and a[2])]
    assert not bad, bad[:5]
    assert sum(1 for a in answers if a[1] == 200) >= LOADERS  # most are served, not all refused
    during = sum(1 for a in answers if a[4] < produced_at)
    assert during > 0, "no page was answered while the produce ran: the test did not load the console during it"
    print(f"{during} of {len(answers)} answers while producing for {produced_at - began:.2f} s")
    assert b.running
    # The probes during the produce and the page loads: prompt, and /ready said ready (it is) every time.
    probes = [p for p in json.loads(probes_out) if began <= p[3] <= produced_at]
    for path, body in (("/health", "ok\n"), ("/ready", "ready\n")):
        answered = [p for p in probes if p[0] == path]
        wrong = [p for p in answered if (p[1], p[2]) != (200, body)]
        assert not wrong, wrong[:5]
        print(f"{path}: {probe_summary(answered, began)}")
    # One p99 over both (they take the same path): ~200 samples make it a percentile, not the maximum.
    p99 = percentile([p[4] for p in probes] or [float("inf")], 0.99)
    print(f"both: {probe_summary(probes, began)}")
    assert p99 <= PROBE_P99_BOUND_S, f"probes' p99 {p99:.3f} s under the console load: {probe_summary(probes, began)}"
    for path in ("/health", "/ready"):
        assert sum(1 for p in probes if p[0] == path) >= 20, f"few {path} probes answered during the load"
    # The broker is whole: its log end offsets count exactly what was produced.
    samples = metrics.scrape(b)
    ends = [samples.value("runnel_partition_log_end_offset", topic=topic, partition=str(i)) for i in range(6)]
    assert ends == [len(range(i, RECORDS, 6)) for i in range(6)]
    status, _, _ = metrics.get(b, "/ready")
    assert status == 200


def test_ready_turns_503_at_shutdown_at_once_while_the_console_is_loaded(runnel_bin, tmp_path):
    """/ready says what the broker is: 200 while it serves, 503 from the moment SIGTERM starts the shutdown
    (docs/operations.md "Shutdown"), /health 200 until the endpoint closes — promptly, though 100 loaders
    keep the console busy. A consumer's parked fetch (fetch.wait.max.ms 10 s) keeps the drain, and so the
    endpoint, open for seconds after SIGTERM."""
    from confluent_kafka import Consumer
    from runnel_interop.broker import BrokerProcess
    b = BrokerProcess(runnel_bin, tmp_path, configs=metrics.metrics_configs())
    b.start()
    host, port = b.configs["metrics.listener"].split(":")
    stop_loading = threading.Event()
    threads: list[threading.Thread] = []
    consumer = None
    try:
        topic = unique("shutdown-ready")
        clients.create_topic(b.bootstrap, topic, partitions=1)
        consumer = Consumer({"bootstrap.servers": b.bootstrap, "group.id": unique("g"), "fetch.wait.max.ms": 10_000,
                             "auto.offset.reset": "earliest"})
        consumer.subscribe([topic])
        consumer.poll(3)  # joined and fetching: a fetch is parked on the empty partition

        def get(path: str) -> tuple[object, str, float]:
            began = time.monotonic()
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                return resp.status, resp.read().decode(), time.monotonic() - began
            except OSError as e:
                return type(e).__name__, "", time.monotonic() - began
            finally:
                conn.close()

        def load(n: int) -> None:  # the console's load; its answers are not this test's subject
            give_up = time.monotonic() + 120
            while not stop_loading.is_set() and time.monotonic() < give_up:
                get(["/", "/topics", "/metrics", f"/messages?topic={topic}"][n % 4])

        threads = [threading.Thread(target=load, args=(n,), daemon=True) for n in range(LOADERS)]
        for t in threads:
            t.start()
        assert get("/ready")[:2] == (200, "ready\n")
        signalled = time.monotonic()
        b.proc.send_signal(15)  # SIGTERM
        answers = []
        while time.monotonic() - signalled < 30:
            ready, health = get("/ready"), get("/health")
            answers.append((round(time.monotonic() - signalled, 3), ready, health))
            if not isinstance(ready[0], int) or ready[0] == 503:
                break
        first = answers[-1]
        assert first[1][:2] == (503, "not ready\n"), answers[-5:]
        assert first[0] <= 2.0, f"/ready turned 503 only {first[0]} s after SIGTERM"
        assert first[2][:2] == (200, "ok\n"), answers[-5:]  # the process still runs
        assert all(a[1][2] <= 1.0 and a[2][2] <= 1.0 for a in answers), answers
        print(f"/ready 503 after {first[0]} s ({len(answers)} probe pairs)")
    finally:
        stop_loading.set()
        for t in threads:
            t.join(15)
        if consumer is not None:
            consumer.close()
        b.stop()
