"""Request-time and controller-mutation quotas with real clients (issue 13, item 5).

`request_percentage` (Kafka's ClientRequestQuotaManager): the broker's handling time of each request of a
limited client counts against a percentage of one thread; over it the responses carry throttle_time_ms and
the connection is muted, so librdkafka and the Java producer report throttling and the client's request
rate falls far below an unlimited client's beside it, which is never throttled; kafka-python records the
throttle time too.

`controller_mutation_rate` (KIP-599): CreateTopics / CreatePartitions / DeleteTopics take their partitions
from a token bucket (burst = rate x quota.window.num x window). At the versions the Java AdminClient sends
(strict) a change once the bucket is below zero is answered THROTTLING_QUOTA_EXCEEDED with the time to
wait, and the AdminClient's own retry then gets it through; librdkafka's older CreateTopics version is
permissive: every topic is created and the response is throttled instead."""
from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

import cli_support as cli
from conftest import unique
from runnel_interop import clients, metrics
from runnel_interop.quotas import assert_throttled_in_metrics, quota, quota_broker

pytestmark = [pytest.mark.needs_broker]

WINDOW_NUM = 2  # burst of a mutation quota = rate x 2 s; a request quota's young window is 1 s
RUN_S = 5.0


@pytest.fixture(scope="module")
def rbroker(runnel_bin, tmp_path_factory):
    yield from quota_broker(runnel_bin, tmp_path_factory.mktemp("request-quota-broker"), WINDOW_NUM)


class RequestLoop:
    """A librdkafka producer sending one small record per Produce request (linger 0, waiting for each
    acknowledgement), counting acknowledged requests and the throttle times it reports (throttle_cb)."""

    def __init__(self, bootstrap: str, topic: str, client_id: str):
        self.topic = topic
        self.acked = 0
        self.errors: list[str] = []
        self.throttles: list[int] = []
        self.producer = Producer({"bootstrap.servers": bootstrap, "client.id": client_id, "linger.ms": 0,
                                  "acks": 1, "throttle_cb": self._throttled})

    def _throttled(self, event):
        self.throttles.append(int(event.throttle_time * 1000))

    def _delivered(self, err, _msg):
        if err is None:
            self.acked += 1
        else:
            self.errors.append(str(err))

    def run(self, seconds: float) -> float:
        """Sends for `seconds`; returns acknowledged requests per second."""
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            self.producer.produce(self.topic, b"r" * 100, on_delivery=self._delivered)
            self.producer.flush(10)
        elapsed = time.monotonic() - start
        self.producer.flush(30)
        self.producer = None
        return self.acked / elapsed


def test_request_percentage_throttles_a_busy_client_while_an_unlimited_one_runs(runnel_bin, rbroker):
    topic = unique("request-quota")
    clients.create_topic(rbroker.bootstrap, topic, partitions=1)
    limited_id, free_id = unique("busy"), unique("free")
    # 0.5 % of one thread: 5 ms of handling per second.
    quota(runnel_bin, rbroker, "set", "--client", limited_id, "--request-percentage", "0.5")
    rows = cli.json_out(runnel_bin, "quota", "list", "--client", limited_id, brokers=rbroker.bootstrap)
    assert rows == [{"entity": f"client-id={limited_id}", "key": "request_percentage", "value": "0.5"}], rows

    limited = RequestLoop(rbroker.bootstrap, topic, limited_id)
    free = RequestLoop(rbroker.bootstrap, topic, free_id)
    rates: dict = {}
    runner = threading.Thread(target=lambda: rates.update(limited=limited.run(RUN_S)))
    runner.start()
    rates["free"] = free.run(RUN_S)
    runner.join(RUN_S + 60)
    assert not runner.is_alive()
    print(f"requests/s: limited {rates['limited']:.1f}, unlimited {rates['free']:.1f}; "
          f"limited throttles {len(limited.throttles)} (max {max(limited.throttles, default=0)} ms)")
    assert not limited.errors and not free.errors, (limited.errors[:3], free.errors[:3])
    assert limited.throttles and max(limited.throttles) > 0, "librdkafka saw no throttle_time_ms"
    # Kafka bounds a request-time throttle by one quota window (quota.window.size.seconds = 1).
    assert max(limited.throttles) <= 1000, limited.throttles
    assert not free.throttles, f"the unlimited client was throttled: {free.throttles[:5]}"
    assert rates["free"] >= 50, rates  # enough requests to tell the two apart
    assert rates["limited"] * 3 <= rates["free"], rates
    assert_throttled_in_metrics(rbroker, "request")
    quota(runnel_bin, rbroker, "remove", "--client", limited_id)


def test_java_producer_reports_request_time_throttle(runnel_bin, rbroker, java):
    topic = unique("request-quota-java")
    clients.create_topic(rbroker.bootstrap, topic, partitions=1)
    client_id = unique("java-busy")
    quota(runnel_bin, rbroker, "set", "--client", client_id, "--add-config", "request_percentage=0.5")
    # batch.size 1: every record is its own batch, so the producer sends many small requests.
    r = java.run("produce", {"bootstrap": rbroker.bootstrap, "topic": topic, "count": 300, "prefix": "rq",
                             "valueSize": 100, "clientId": client_id, "lingerMs": 0, "batchSize": 1}, timeout=180)
    print(f"java: 300 records in {r['durationMs']} ms, throttle max {r['config']['produceThrottleTimeMaxMs']}")
    assert r["acked"] == 300 and r["failed"] == 0, (r["acked"], r["failed"], r["errors"])
    assert r["config"]["produceThrottleTimeMaxMs"] > 0, r["config"]
    quota(runnel_bin, rbroker, "remove", "--client", client_id)


def test_kafka_python_producer_sees_request_time_throttle(runnel_bin, rbroker):
    from kafka import KafkaProducer
    topic = unique("request-quota-kp")
    clients.create_topic(rbroker.bootstrap, topic, partitions=1)
    client_id = unique("kp-busy")
    quota(runnel_bin, rbroker, "set", "--client", client_id, "--request-percentage", "0.5")
    producer = KafkaProducer(bootstrap_servers=rbroker.bootstrap, client_id=client_id, linger_ms=0, acks=1)
    try:
        sent = 0
        start = time.monotonic()
        while time.monotonic() - start < RUN_S:
            producer.send(topic, b"k" * 100).get(timeout=30)  # one record per request
            sent += 1
        throttle_max = max((value for group in producer.metrics().values() for name, value in group.items()
                            if name == "throttle-time-max" and isinstance(value, (int, float))), default=0)
    finally:
        producer.close(timeout=10)
    print(f"kafka-python: {sent} requests in {RUN_S}s, throttle-time-max {throttle_max}")
    assert throttle_max > 0, "kafka-python recorded no throttle time"
    quota(runnel_bin, rbroker, "remove", "--client", client_id)


def throttled_admin(runnel_bin, rbroker, client_id: str, *quota_args: str) -> tuple[AdminClient, list[float]]:
    """Sets `quota_args` for `client_id`; a librdkafka admin client of that id, and the throttle times its
    throttle_cb reports (served from poll)."""
    quota(runnel_bin, rbroker, "set", "--client", client_id, *quota_args)
    throttles: list[float] = []
    admin = AdminClient({"bootstrap.servers": rbroker.bootstrap, "client.id": client_id,
                         "throttle_cb": lambda e: throttles.append(e.throttle_time)})
    return admin, throttles


def test_metadata_responses_carry_the_request_time_throttle(runnel_bin, rbroker):
    """Not only Produce: every response with throttle_time_ms carries it (here Metadata, from librdkafka)."""
    client_id = unique("md-busy")
    admin, throttles = throttled_admin(runnel_bin, rbroker, client_id, "--request-percentage", "0.5")
    start = time.monotonic()
    calls = 0
    while time.monotonic() - start < RUN_S:
        admin.list_topics(timeout=10)  # one Metadata request for all topics each
        calls += 1
        admin.poll(0)  # throttle_cb is served from poll
    deadline = time.monotonic() + 5
    while not throttles and time.monotonic() < deadline:
        admin.poll(0.1)
    print(f"metadata: {calls} calls in {RUN_S}s, throttles {len(throttles)} (max {max(throttles, default=0)})")
    assert throttles and max(throttles) > 0, "librdkafka saw no throttle_time_ms on Metadata"
    quota(runnel_bin, rbroker, "remove", "--client", client_id)


def java_admin(java, broker, client_id, *ops):
    return java.run("admin", {"bootstrap": broker.bootstrap, "clientId": client_id, "ops": list(ops)}, timeout=120)["results"]


def create_op(name: str, partitions: int, retry: bool = False) -> dict:
    return {"op": "createTopics", "topics": [{"name": name, "partitions": partitions, "replicationFactor": 1}],
            "retryOnQuotaViolation": retry}


def test_create_topics_beyond_controller_mutation_rate_is_refused_then_retried(runnel_bin, rbroker, java):
    client_id = unique("mutator")
    # 2 partitions per second; the bucket holds 2 x 2 windows x 1 s = 4.
    quota(runnel_bin, rbroker, "set", "--client", client_id, "--controller-mutation-rate", "2")
    big, small, free_topic = unique("cm-big"), unique("cm-small"), unique("cm-free")
    started = time.monotonic()
    first, exists, refused, retried = java_admin(
        java, rbroker, client_id,
        create_op(big, 10),         # a full bucket takes a large change whole: 4 - 10 = -6
        create_op(big, 1),          # validated before the quota is consulted, as in Kafka: the topic exists
        create_op(small, 1),        # below zero: THROTTLING_QUOTA_EXCEEDED, ~3 s to wait
        create_op(small, 1, True),  # Kafka's AdminClient default: retried after the throttle time
    )
    elapsed = time.monotonic() - started
    print(f"mutation quota: {refused}, retried after {elapsed:.1f}s")
    assert first["ok"] and first["result"][big]["ok"], first
    assert exists["result"][big]["error"] == "TopicExistsException", exists
    outcome = refused["result"][small]
    assert not outcome["ok"] and outcome["error"] == "ThrottlingQuotaExceededException", outcome
    assert 1000 <= outcome["throttleTimeMs"] <= 3000, outcome
    assert retried["ok"] and retried["result"][small]["ok"], retried
    assert elapsed >= 2.0, elapsed  # the retry waited for the bucket
    # Another client is not limited: 20 partitions at once.
    [unlimited] = java_admin(java, rbroker, unique("admin-free"), create_op(free_topic, 20))
    assert unlimited["result"][free_topic]["ok"], unlimited
    quota(runnel_bin, rbroker, "remove", "--client", client_id)


def test_delete_topics_and_create_partitions_count_against_the_mutation_rate(runnel_bin, rbroker, java):
    doomed, spared = unique("cm-doomed"), unique("cm-spared")
    grow, other = unique("cm-grow"), unique("cm-other")
    for name, partitions in ((doomed, 6), (spared, 1), (grow, 1), (other, 1)):
        clients.create_topic(rbroker.bootstrap, name, partitions=partitions)
    deleter, grower = unique("deleter"), unique("grower")
    for client_id in (deleter, grower):
        quota(runnel_bin, rbroker, "set", "--client", client_id, "--controller-mutation-rate", "2")
    deleted, refused = java_admin(
        java, rbroker, deleter,
        {"op": "deleteTopics", "names": [doomed], "retryOnQuotaViolation": False},  # 6 partitions: 4 - 6 = -2
        {"op": "deleteTopics", "names": [spared], "retryOnQuotaViolation": False})
    assert deleted["result"][doomed]["ok"], deleted
    assert refused["result"][spared]["error"] == "ThrottlingQuotaExceededException", refused
    grown, refused = java_admin(
        java, rbroker, grower,
        {"op": "createPartitions", "topic": grow, "totalCount": 9, "retryOnQuotaViolation": False},  # 8 added
        {"op": "createPartitions", "topic": other, "totalCount": 2, "retryOnQuotaViolation": False})
    assert grown["ok"], grown
    assert not refused["ok"] and refused["error"] == "ThrottlingQuotaExceededException", refused
    md = clients.confluent_admin(rbroker.bootstrap, "interop-helper").list_topics(timeout=10).topics
    assert doomed not in md and spared in md, sorted(md)
    assert len(md[grow].partitions) == 9 and len(md[other].partitions) == 1
    for client_id in (deleter, grower):
        quota(runnel_bin, rbroker, "remove", "--client", client_id)


def test_librdkafka_create_topics_is_permissive_and_throttled(runnel_bin, rbroker):
    client_id = unique("rdkafka-mutator")
    admin, throttles = throttled_admin(runnel_bin, rbroker, client_id, "--controller-mutation-rate", "2")
    names = [unique("cm-rd") for _ in range(3)]
    before = metrics.scrape(rbroker).total("runnel_quota_throttle_time_ms_total", type="controller_mutation")
    for name in names:  # 3 x 6 partitions against a bucket of 4: all created (librdkafka sends CreateTopics < v6)
        try:
            admin.create_topics([NewTopic(name, num_partitions=6, replication_factor=1)],
                                operation_timeout=30, request_timeout=30)[name].result(60)
        except KafkaException as e:
            pytest.fail(f"{name}: {e}")
    deadline = time.monotonic() + 10
    while not throttles and time.monotonic() < deadline:
        admin.poll(0.1)  # throttle_cb is served from poll
    md = admin.list_topics(timeout=10).topics
    assert all(len(md[n].partitions) == 6 for n in names), {n: len(md[n].partitions) for n in names if n in md}
    after = metrics.scrape(rbroker).total("runnel_quota_throttle_time_ms_total", type="controller_mutation")
    assert after > before, (before, after)
    assert throttles and max(throttles) > 0, "librdkafka saw no throttle_time_ms on CreateTopics"
    quota(runnel_bin, rbroker, "remove", "--client", client_id)
