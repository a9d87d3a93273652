"""/metrics after a produce/consume run with real clients (issue 14 item 1): the Prometheus text parses,
and its values match what the test did — log end offsets are the records produced per partition, the
topic's bytes in are within 1% of what the producer sent, group lag is exactly the unconsumed count,
a live group shows its member — and every metric family served is documented in docs/operations.md."""
from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as CkTopicPartition

import cli_support as cli
from conftest import unique
from runnel_interop import clients, metrics

pytestmark = pytest.mark.needs_broker

ROOT = Path(__file__).resolve().parents[2]
PRODUCED = {0: 50, 1: 70, 2: 80}   # records per partition
CONSUMED = {0: 50, 1: 20, 2: 0}    # records the group consumes (and commits) per partition
VALUE_SIZE = 8000


def produce(bootstrap: str, topic: str) -> int:
    """Produces PRODUCED records to each partition; returns the key + value bytes handed to the client."""
    p = Producer({"bootstrap.servers": bootstrap, "compression.type": "none", "linger.ms": 20,
                  "batch.size": 1 << 20, "acks": "all", "socket.timeout.ms": 10000})
    failures: list = []
    sent = 0
    for partition, count in PRODUCED.items():
        for i in range(count):
            key = f"k-{partition}-{i}".encode()
            value = (f"v-{partition}-{i}-".encode() * VALUE_SIZE)[:VALUE_SIZE]
            sent += len(key) + len(value)
            p.produce(topic, key=key, value=value, partition=partition,
                      on_delivery=lambda err, msg: failures.append(err) if err else None)
        p.poll(0)
    assert p.flush(60) == 0
    assert not failures, failures
    return sent


def consume_and_commit(bootstrap: str, topic: str, group: str) -> int:
    """Reads CONSUMED records of each partition as a member of `group` (assigned partitions) and
    commits the position after them; returns the value bytes read."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "fetch.wait.max.ms": 100, "socket.timeout.ms": 10000})
    read = 0
    try:
        wanted = {p: n for p, n in CONSUMED.items() if n > 0}
        c.assign([CkTopicPartition(topic, p, 0) for p in wanted])
        got = {p: 0 for p in wanted}
        deadline = time.monotonic() + 60
        while any(got[p] < wanted[p] for p in wanted):
            assert time.monotonic() < deadline, f"consumed only {got}"
            for m in c.consume(num_messages=500, timeout=0.5):
                assert not m.error(), m.error()
                p = m.partition()
                if got[p] < wanted[p] and m.offset() == got[p]:
                    got[p] += 1
                    read += len(m.value())
                    if got[p] == wanted[p]:
                        c.pause([CkTopicPartition(topic, p)])
        c.commit(offsets=[CkTopicPartition(topic, p, n) for p, n in CONSUMED.items()], asynchronous=False)
    finally:
        c.close()
    return read


def documented_metrics() -> set[str]:
    text = (ROOT / "docs" / "operations.md").read_text()
    return set(re.findall(r"^\| `(runnel_[a-z0-9_]+)", text, flags=re.M))


def family_of(sample: str, types: dict[str, str]) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        if sample.endswith(suffix) and types.get(sample[: -len(suffix)]) == "histogram":
            return sample[: -len(suffix)]
    return sample


def test_metrics_match_a_produce_consume_run(runnel_bin, fresh_broker):
    b = fresh_broker(metrics.metrics_configs())
    topic = unique("metrics-run")
    group = unique("metrics-group")
    clients.create_topic(b.bootstrap, topic, partitions=3)
    sent = produce(b.bootstrap, topic)
    read = consume_and_commit(b.bootstrap, topic, group)

    s = metrics.scrape(b)
    for p, n in PRODUCED.items():
        assert s.value("runnel_partition_log_end_offset", topic=topic, partition=p) == n
        assert s.value("runnel_partition_high_watermark", topic=topic, partition=p) == n
        assert s.value("runnel_partition_log_start_offset", topic=topic, partition=p) == 0
        assert s.value("runnel_partition_segments", topic=topic, partition=p) >= 1
        assert s.value("runnel_partition_size_bytes", topic=topic, partition=p) >= n * VALUE_SIZE
        assert s.value("runnel_group_lag", group=group, topic=topic, partition=p) == PRODUCED[p] - CONSUMED[p]
    bytes_in = s.value("runnel_topic_bytes_in_total", topic=topic)
    assert sent <= bytes_in <= sent * 1.01, (sent, bytes_in)
    assert s.value("runnel_network_bytes_in_total") >= bytes_in
    assert s.value("runnel_topic_bytes_out_total", topic=topic) >= read
    assert s.value("runnel_group_members", group=group) == 0
    assert s.value("runnel_group_state", group=group, state="Empty") == 1
    assert s.value("runnel_group_coordinator_groups", state="Empty") >= 1
    assert s.total("runnel_requests_total", api="Produce") >= 1
    assert s.value("runnel_request_latency_seconds_count", api="Fetch") >= 1
    assert s.total("runnel_storage_sync_seconds_count") >= 1
    assert s.total("runnel_storage_group_commit_requests_sum") >= 3
    assert s.value("runnel_connections") is not None

    # a live member: a subscribed consumer shows up as a Stable group with one member
    live_group = unique("metrics-live")
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": live_group, "auto.offset.reset": "earliest",
                  "session.timeout.ms": 10000, "socket.timeout.ms": 10000})
    try:
        c.subscribe([topic])
        deadline = time.monotonic() + 60
        while not c.assignment():
            assert time.monotonic() < deadline, "no assignment"
            c.poll(0.2)
        members = None
        while members != 1:
            assert time.monotonic() < deadline, f"members={members}"
            s = metrics.scrape(b)
            members = s.value("runnel_group_members", group=live_group)
            c.poll(0.1)
        assert s.value("runnel_group_state", group=live_group, state="Stable") == 1
    finally:
        c.close()

    # an error code answered is counted by API and error name
    unknown = unique("metrics-missing")
    res = cli.run(runnel_bin, "topic", "describe", unknown, brokers=b.bootstrap)  # Metadata without auto-creation
    assert res.returncode == 1, res.stderr
    s = metrics.scrape(b)
    assert s.total("runnel_errors_total", api="Metadata", error="UNKNOWN_TOPIC_OR_PARTITION") >= 1

    # every family served is documented
    documented = documented_metrics()
    served = {family_of(name, s.types) for name in s.samples}
    assert served - documented == set(), f"undocumented metrics: {sorted(served - documented)}"


def test_label_values_are_escaped(runnel_bin, fresh_broker):
    b = fresh_broker(metrics.metrics_configs())
    # A group id may hold any character: quotes, backslashes and newlines must not break the format.
    topic = unique("metrics-esc")
    clients.create_topic(b.bootstrap, topic, partitions=1)
    group = 'g"quoted\\back\nline'
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        c.commit(offsets=[CkTopicPartition(topic, 0, 0)], asynchronous=False)
    finally:
        c.close()
    s = metrics.scrape(b)  # every line must parse
    assert s.value("runnel_group_lag", group=group, topic=topic, partition=0) == 0


def test_a_deleted_topic_leaves_metrics(runnel_bin, fresh_broker):
    b = fresh_broker(metrics.metrics_configs())
    topic, kept = unique("metrics-gone"), unique("metrics-kept")
    for t in (topic, kept):
        clients.create_topic(b.bootstrap, t, partitions=2)
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all"})
    for t in (topic, kept):
        for i in range(10):
            p.produce(t, value=b"x" * 100, partition=i % 2)
    assert p.flush(30) == 0
    s = metrics.scrape(b)
    assert s.value("runnel_topic_bytes_in_total", topic=topic) > 0
    assert s.value("runnel_partition_log_end_offset", topic=topic, partition=1) == 5

    res = cli.run(runnel_bin, "topic", "delete", topic, brokers=b.bootstrap)
    assert res.returncode == 0, res.stderr
    deadline = time.monotonic() + 30
    while True:
        s = metrics.scrape(b)
        left = [name for name, rows in s.samples.items() for labels, _ in rows if labels.get("topic") == topic]
        if not left:
            break
        assert time.monotonic() < deadline, f"series of the deleted topic still served: {sorted(set(left))}"
        time.sleep(0.2)  # poll interval, bounded by the deadline
    assert s.value("runnel_topic_bytes_in_total", topic=kept) > 0
    assert s.value("runnel_partition_log_end_offset", topic=kept, partition=0) == 5


def _read_http_response(sock) -> tuple[str, dict, bytes]:
    """One HTTP response from `sock` with a Content-Length body: (status line, headers, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before the response's head: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the body"
        body += chunk
    return lines[0], headers, body[:length]


def test_http10_keep_alive_is_confirmed_and_honoured(runnel_bin, fresh_broker):
    """An HTTP/1.0 client asking for keep-alive (ApacheBench -k, old proxies) waits for the close unless the
    answer says `Connection: keep-alive`; a plain HTTP/1.0 request gets its answer and a close."""
    b = fresh_broker(metrics.metrics_configs())
    host, port = b.configs["metrics.listener"].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        for _ in range(2):  # the second request on the same connection proves it stayed open
            s.sendall(b"GET /health HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
            status, headers, body = _read_http_response(s)
            assert status.startswith("HTTP/1.0 200"), status
            assert headers.get("connection", "").lower() == "keep-alive", headers
            assert body == b"ok\n"
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
        status, headers, body = _read_http_response(s)
        assert status.startswith("HTTP/1.0 200") and headers.get("connection", "").lower() == "close", headers
        assert s.recv(1) == b"", "the server did not close after an HTTP/1.0 answer without keep-alive"
