"""Client quotas and connection limits with real clients (issue 13, item 5): quotas are cluster records
(kind `quota`) managed with AlterClientQuotas / DescribeClientQuotas through `runnel quota` and Kafka's
AdminClient; a producer whose client id is limited to 1 MiB/s is held to it by throttling
(`throttle_time_ms`, the connection muted) while an unlimited producer on the same broker keeps its
throughput; librdkafka and the Java client honour the throttle without errors; a consumer's fetch
quota throttles too; a connection flood from one address is cut at `max.connections.per.ip` (and its
override) while another address still connects; the audit counters appear in /metrics."""
from __future__ import annotations

import json
import socket
import struct
import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaError, Producer

import cli_support as cli
import conftest
from conftest import unique
from runnel_interop import clients, metrics, wire
from runnel_interop.quotas import assert_throttled_in_metrics, quota, quota_broker

pytestmark = [pytest.mark.needs_broker]

MiB = 1024 * 1024
# Kafka measures a quota over quota.window.num windows; a greedy client is served in bursts of up to
# (window.num - 1) windows' allowance that repeat about every window.num windows. Two one-second windows
# keep the bursts small beside a 12 s measurement; the default is Kafka's 11 (bursts of 10 s' worth).
WINDOW_NUM = 2
MEASURE_S = 12.0
VALUE = b"q" * 1000


@pytest.fixture(scope="module")
def qbroker(runnel_bin, tmp_path_factory):
    yield from quota_broker(runnel_bin, tmp_path_factory.mktemp("quota-broker"), WINDOW_NUM)


def quota_rows(runnel_bin, broker, *args) -> dict:
    rows = cli.json_out(runnel_bin, "quota", "list", *args, brokers=broker.bootstrap)
    out: dict = {}
    for row in rows:
        out.setdefault(row["entity"], {})[row["key"]] = float(row["value"])
    return out


def java_admin(java, broker, *ops):
    return java.run("admin", {"bootstrap": broker.bootstrap, "ops": list(ops)})["results"]


def test_quota_cli_and_java_admin_round_trip(runnel_bin, qbroker, java):
    user = unique("alice")
    quota(runnel_bin, qbroker, "set", "--user", user, "--producer-byte-rate", "1048576", "--consumer-byte-rate", "2097152")
    quota(runnel_bin, qbroker, "set", "--user", user, "--client", "app", "--add-config", "producer_byte_rate=524288")
    quota(runnel_bin, qbroker, "set", "--ip", "10.1.2.3", "--connection-creation-rate", "7")
    rows = quota_rows(runnel_bin, qbroker)
    assert rows[f"user={user}"] == {"producer_byte_rate": 1048576, "consumer_byte_rate": 2097152}, rows
    assert rows[f"user={user}, client-id=app"] == {"producer_byte_rate": 524288}, rows
    assert rows["ip=10.1.2.3"] == {"connection_creation_rate": 7}, rows
    # Stored as cluster records of kind `quota`, keyed like Kafka's old config paths.
    stored = json.loads((qbroker.data_dir / "runnel-metadata.json").read_text())["records"]["quota"]
    assert json.loads(stored[f"users/{user}/clients/app"]["value"]) == {"producer_byte_rate": 524288}, stored
    # Filters: exact user (non-strict also matches user+client), strict leaves it out.
    assert set(quota_rows(runnel_bin, qbroker, "--user", user)) == {f"user={user}", f"user={user}, client-id=app"}
    assert set(quota_rows(runnel_bin, qbroker, "--user", user, "--strict")) == {f"user={user}"}

    # Kafka's AdminClient sees the same entities and alters them (a null name is the <default> entity).
    [described] = java_admin(java, qbroker, {"op": "describeClientQuotas"})
    assert described["ok"], described
    entities = {tuple(sorted((k, v) for k, v in e["entity"].items())): e["values"] for e in described["result"]}
    assert entities[(("user", user),)] == {"consumer_byte_rate": 2097152.0, "producer_byte_rate": 1048576.0}
    assert entities[(("client-id", "app"), ("user", user))] == {"producer_byte_rate": 524288.0}
    [altered] = java_admin(java, qbroker, {"op": "alterClientQuotas", "entity": {"user": None},
                                           "ops": {"producer_byte_rate": 4096}})
    assert altered["ok"], altered
    assert quota_rows(runnel_bin, qbroker, "--user-default")["user=<default>"] == {"producer_byte_rate": 4096}
    # Kafka's validation: a fractional byte rate, a key an IP entity does not take, a user with an IP.
    [fraction, wrong_key] = java_admin(
        java, qbroker,
        {"op": "alterClientQuotas", "entity": {"user": user}, "ops": {"producer_byte_rate": 1.5}},
        {"op": "alterClientQuotas", "entity": {"ip": "10.1.2.3"}, "ops": {"producer_byte_rate": 100}})
    assert fraction["error"] == "InvalidRequestException" and "fractional" in fraction["message"], fraction
    assert wrong_key["error"] == "InvalidRequestException" and "Invalid configuration key" in wrong_key["message"], wrong_key
    res = cli.run(runnel_bin, "quota", "set", "--user", user, "--ip", "10.1.2.3", "--producer-byte-rate", "5",
                  brokers=qbroker.bootstrap)
    assert res.returncode == 1 and "INVALID_REQUEST" in res.stderr, res.stderr

    # Removing keys, then whole entities.
    quota(runnel_bin, qbroker, "remove", "--user", user, "--delete-config", "consumer_byte_rate")
    assert quota_rows(runnel_bin, qbroker, "--user", user, "--strict")[f"user={user}"] == {"producer_byte_rate": 1048576}
    for entity in (["--user", user], ["--user", user, "--client", "app"], ["--user-default"], ["--ip", "10.1.2.3"]):
        quota(runnel_bin, qbroker, "remove", *entity)
    rows = quota_rows(runnel_bin, qbroker)
    assert not [e for e in rows if user in e or e in ("user=<default>", "ip=10.1.2.3")], rows


class Throughput:
    """A librdkafka producer sending 1000-byte values as fast as the broker lets it, counting acked
    bytes by ack time and the throttle times the client reports (throttle_cb)."""

    def __init__(self, bootstrap: str, topic: str, client_id: str):
        self.topic = topic
        self.acked: list[tuple[float, int]] = []
        self.errors: list[str] = []
        self.throttles: list[int] = []
        self.producer = Producer({
            "bootstrap.servers": bootstrap, "client.id": client_id, "linger.ms": 5, "batch.size": 65536,
            "acks": "all", "queue.buffering.max.kbytes": 8192, "throttle_cb": self._throttled,
        })

    def _throttled(self, event):
        self.throttles.append(int(event.throttle_time * 1000))

    def _delivered(self, err, msg):
        if err is not None:
            if err.code() != KafkaError._PURGE_QUEUE:  # what run() purged when its time was up
                self.errors.append(str(err))
        else:
            self.acked.append((time.monotonic(), len(msg.value())))

    def run(self, seconds: float) -> tuple[float, float]:
        """Produces for `seconds`; returns (start, end) on the monotonic clock."""
        start = time.monotonic()
        end = start + seconds
        while time.monotonic() < end:
            try:
                self.producer.produce(self.topic, VALUE, on_delivery=self._delivered)
            except BufferError:
                self.producer.poll(0.01)
                continue
            self.producer.poll(0)
        self.producer.purge(in_queue=True, in_flight=False)
        self.producer.flush(60)
        self.producer = None  # destroyed: no reconnection attempts after the test
        return start, end

    def rate(self, start: float, end: float) -> float:
        """Bytes per second acked within [start, end]."""
        return sum(n for t, n in self.acked if start <= t <= end) / (end - start)

    def slope(self, start: float, end: float) -> float:
        """Bytes per second as the least-squares slope of the cumulative acked bytes over [start, end]:
        a throttled client is served in bursts (Kafka's windowed rate lets a window's allowance through
        at once), and the slope weighs every ack instead of the two ends a burst may straddle."""
        points, total = [], 0
        for t, n in self.acked:
            if start <= t <= end:
                total += n
                points.append((t, total))
        assert len(points) > 10, f"only {len(points)} acks in the measured span"
        mt = sum(t for t, _ in points) / len(points)
        mb = sum(b for _, b in points) / len(points)
        return sum((t - mt) * (b - mb) for t, b in points) / sum((t - mt) ** 2 for t, _ in points)


def test_limited_producer_held_to_quota_while_unlimited_keeps_throughput(runnel_bin, qbroker):
    topic = unique("quota-produce")
    clients.create_topic(qbroker.bootstrap, topic, partitions=1)
    limited_id, free_id = unique("limited"), unique("free")

    # Baseline: the unlimited producer alone.
    baseline = Throughput(qbroker.bootstrap, topic, free_id)
    b_start, b_end = baseline.run(3.0)
    baseline_rate = baseline.rate(b_start, b_end)
    assert baseline_rate > 8 * MiB, f"baseline only {baseline_rate / MiB:.2f} MiB/s: too slow to tell quotas apart"

    quota(runnel_bin, qbroker, "set", "--client", limited_id, "--producer-byte-rate", str(MiB))
    limited = Throughput(qbroker.bootstrap, topic, limited_id)
    free = Throughput(qbroker.bootstrap, topic, free_id)
    window: dict = {}
    runner = threading.Thread(target=lambda: window.update(limited=limited.run(MEASURE_S)))
    runner.start()
    time.sleep(3.0)  # pacing the second producer into the middle of the measured span, not synchronization
    f_start, f_end = free.run(3.0)
    runner.join(MEASURE_S + 90)
    assert not runner.is_alive()
    l_start, l_end = window["limited"]
    limited_rate = limited.slope(l_start, l_end)
    free_rate = free.rate(f_start, f_end)
    print(f"baseline {baseline_rate / MiB:.2f} MiB/s, limited {limited_rate / MiB:.3f} MiB/s, "
          f"unlimited beside it {free_rate / MiB:.2f} MiB/s, throttles seen by librdkafka {len(limited.throttles)}")
    assert not limited.errors and not free.errors and not baseline.errors, (limited.errors[:3], free.errors[:3])
    assert abs(limited_rate - MiB) <= 0.10 * MiB, f"limited producer at {limited_rate / MiB:.3f} MiB/s"
    assert limited.throttles and max(limited.throttles) > 0, "librdkafka saw no throttle_time_ms"
    assert not free.throttles, f"the unlimited producer was throttled: {free.throttles[:5]}"
    # The unlimited producer keeps its throughput: it is not held anywhere near the quota. Measured here:
    # 0.6-1.3x its baseline on a quiet machine, 0.36x once in CI with the other worker's test on the same 2
    # cores during the 3 s window (the baseline was taken at another moment), so the bound is absolute: 4x the
    # limited client's quota, and at least a fifth of the baseline.
    assert free_rate >= max(4 * MiB, 0.2 * baseline_rate), \
        f"unlimited producer fell to {free_rate / MiB:.2f} of {baseline_rate / MiB:.2f} MiB/s"

    assert_throttled_in_metrics(qbroker, "produce")
    quota(runnel_bin, qbroker, "remove", "--client", limited_id)


def test_java_producer_honours_throttle(runnel_bin, qbroker, java):
    topic = unique("quota-java")
    clients.create_topic(qbroker.bootstrap, topic, partitions=1)
    client_id = unique("java-limited")
    quota(runnel_bin, qbroker, "set", "--client", client_id, "--producer-byte-rate", str(512 * 1024))
    # 8 MiB at 512 KiB/s: beyond the first window's allowance, so the producer must be throttled.
    count = 8 * 1024
    r = java.run("produce", {"bootstrap": qbroker.bootstrap, "topic": topic, "count": count, "prefix": "jq",
                             "valueSize": 1000, "clientId": client_id, "lingerMs": 5}, timeout=180)
    print(f"java: {count} records in {r['durationMs']} ms, throttle max {r['config']['produceThrottleTimeMaxMs']}")
    assert r["acked"] == count and r["failed"] == 0, (r["acked"], r["failed"], r["errors"])
    assert r["config"]["produceThrottleTimeMaxMs"] > 0, r["config"]
    # ~8.6 MB of requests at 512 KiB/s is ~16 s; one window's allowance (0.5 MiB) may go at full speed.
    assert 12_000 <= r["durationMs"] <= 40_000, r["durationMs"]
    quota(runnel_bin, qbroker, "remove", "--client", client_id)


def test_fetch_quota_throttles_consumer(runnel_bin, qbroker):
    topic = unique("quota-fetch")
    clients.create_topic(qbroker.bootstrap, topic, partitions=1)
    p = Producer({"bootstrap.servers": qbroker.bootstrap, "linger.ms": 5})
    for _ in range(6000):
        p.produce(topic, VALUE)
        p.poll(0)
    p.flush(60)
    client_id = unique("slow-consumer")
    quota(runnel_bin, qbroker, "set", "--client", client_id, "--consumer-byte-rate", str(MiB))
    throttles: list[float] = []
    c = Consumer({"bootstrap.servers": qbroker.bootstrap, "group.id": unique("g"), "client.id": client_id,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "throttle_cb": lambda e: throttles.append(e.throttle_time)})
    c.subscribe([topic])
    got = 0
    deadline = time.monotonic() + 60
    start = None
    while got < 6000 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        start = start or time.monotonic()
        got += 1
    elapsed = time.monotonic() - (start or time.monotonic())
    print(f"fetched 6000 records in {elapsed:.1f}s, throttles {throttles[:10]}")
    c.close()
    assert got == 6000, got
    assert throttles and max(throttles) > 0, "librdkafka saw no fetch throttle"
    # ~5.8 MiB at 1 MiB/s: about 5 s at the quota (a throttled fetch comes back empty, so a little more).
    assert 4.0 <= elapsed <= 40, elapsed
    assert metrics.scrape(qbroker).total("runnel_quota_throttle_time_ms_total", type="fetch") > 0
    quota(runnel_bin, qbroker, "remove", "--client", client_id)


def api_versions_answered(sock: socket.socket, timeout: float = 5.0) -> bool:
    """Sends ApiVersions v0; True when a response arrives, False when the broker closed the socket."""
    sock.settimeout(timeout)
    try:
        sock.sendall(wire.api_versions_request(0, 1))
        head = sock.recv(4)
        return len(head) == 4 and struct.unpack(">i", head)[0] > 0
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        return False


def connect_from(source: str, port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def test_connection_flood_cut_per_ip_while_other_addresses_connect(fresh_broker):
    b = fresh_broker({"max.connections.per.ip": 5, "max.connections.per.ip.overrides": "127.0.0.3:8",
                      **metrics.metrics_configs()})
    # The flood comes from 127.0.0.4: the harness's own connections (readiness checks) use 127.0.0.1.
    flood = [connect_from("127.0.0.4", b.port) for _ in range(20)]
    try:
        answered = [api_versions_answered(s) for s in flood]
        assert sum(answered) == 5, (sum(answered), answered)
        # Another address is not affected by the flood.
        other = connect_from("127.0.0.2", b.port)
        assert api_versions_answered(other)
        other.close()
        # The override raises the limit for its address.
        overridden = [connect_from("127.0.0.3", b.port) for _ in range(12)]
        assert sum(api_versions_answered(s) for s in overridden) == 8
        for s in overridden:
            s.close()
    finally:
        for s in flood:
            s.close()
    assert metrics.scrape(b).total("runnel_connections_rejected_total") >= 15 + 4


def test_audit_counters_for_authorization_denials(fresh_broker, runnel_bin):
    b = fresh_broker({"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                      **metrics.metrics_configs()})
    topic = unique("audit")
    # An anonymous client without ACLs may not create topics: a denial on the cluster/topic.
    res = cli.run(runnel_bin, "topic", "create", topic, brokers=b.bootstrap)
    assert res.returncode != 0
    samples = metrics.scrape(b)
    assert samples.total("runnel_authorization_denials_total", resource_type="Topic", operation="Create") >= 1, \
        samples.all("runnel_authorization_denials_total")


def test_audit_counters_for_authentications(runnel_bin, tmp_path):
    from runnel_interop.security import SecureBroker, librdkafka_props, make_pki
    pki = make_pki(tmp_path / "pki")
    sb = SecureBroker(runnel_bin, tmp_path / "broker", pki, extra=metrics.metrics_configs())
    conftest._active.append(sb.process)
    sb.process.start()
    try:
        good = Producer({"bootstrap.servers": sb.bootstrap("SASL_PLAINTEXT"),
                         **librdkafka_props("SASL_PLAINTEXT", pki, "PLAIN", "alice", "alice-secret")})
        assert good.list_topics(timeout=30).brokers
        del good
        errors: list = []
        bad = Producer({"bootstrap.servers": sb.bootstrap("SASL_PLAINTEXT"), "error_cb": errors.append,
                        **librdkafka_props("SASL_PLAINTEXT", pki, "PLAIN", "alice", "wrong")})
        deadline = time.monotonic() + 30
        while not errors and time.monotonic() < deadline:
            bad.poll(0.2)
        del bad
        assert errors, "the wrong password was not refused"
        samples = metrics.scrape(sb.process)
        assert samples.total("runnel_authentications_total", result="success", mechanism="PLAIN",
                             listener="SASL_PLAINTEXT") >= 1, samples.all("runnel_authentications_total")
        assert samples.total("runnel_authentications_total", result="failure", mechanism="PLAIN",
                             listener="SASL_PLAINTEXT") >= 1, samples.all("runnel_authentications_total")
    finally:
        if sb.process in conftest._active:
            conftest._active.remove(sb.process)
        sb.process.stop()


def test_quotas_are_cluster_records_every_broker_enforces(runnel_bin, tmp_path_factory):
    from conftest import running_cluster
    with running_cluster(runnel_bin, tmp_path_factory.mktemp("quota-cluster"), nodes=2) as c:
        nodes = [f"127.0.0.1:{p}" for p in c.ports]
        client_id = unique("cluster-limited")
        cli.ok(runnel_bin, "quota", "set", "--client", client_id, "--producer-byte-rate", str(256 * 1024), brokers=nodes[0])
        deadline = time.monotonic() + 30
        while True:  # the other broker's image has it (it lives in etcd)
            rows = cli.json_out(runnel_bin, "quota", "list", "--client", client_id, brokers=nodes[1])
            if rows:
                break
            assert time.monotonic() < deadline, "quota not visible through the second broker"
            time.sleep(0.1)
        assert rows == [{"entity": f"client-id={client_id}", "key": "producer_byte_rate", "value": "262144"}], rows
        # A partition led by each broker: both throttle the client (each broker measures its own share, as Kafka).
        topic = unique("quota-cluster")
        cli.ok(runnel_bin, "topic", "create", topic, "-p", "2", "-r", "1", brokers=",".join(nodes))
        producer = Throughput(",".join(nodes), topic, client_id)
        producer.run(4.0)
        assert not producer.errors, producer.errors[:3]
        assert producer.throttles, "no broker throttled the client"


def test_connection_creation_rates_delay_broker_wide_and_close_per_address(fresh_broker, runnel_bin):
    b = fresh_broker({"max.connection.creation.rate": 5, "quota.window.num": 2})
    # Broker-wide: over 5 per second a connection waits before it is read, but is served.
    start = time.monotonic()
    socks = [connect_from("127.0.0.5", b.port) for _ in range(15)]
    answered_at = []
    for s in socks:
        assert api_versions_answered(s, timeout=30)
        answered_at.append(time.monotonic() - start)
        s.close()
    assert answered_at[-1] >= 1.0, answered_at  # 15 connections at 5/s cannot all be served at once
    # Per address (an IP entity's connection_creation_rate): connections over it are closed.
    cli.ok(runnel_bin, "quota", "set", "--ip", "127.0.0.6", "--connection-creation-rate", "1", brokers=b.bootstrap)
    time.sleep(2.5)  # let the broker-wide window above expire (pacing, not synchronization)
    results = []
    for _ in range(6):
        s = connect_from("127.0.0.6", b.port)
        results.append(api_versions_answered(s, timeout=30))
        s.close()
    assert results[0] and not all(results), results
    other = connect_from("127.0.0.7", b.port)
    assert api_versions_answered(other, timeout=30)
    other.close()
