"""Uniform produce / consume / admin helpers over the Python clients and kcat, all speaking the
record scheme of records.py and returning consumed records as dicts {p, o, ts, k, v, h}."""
from __future__ import annotations

import json
import subprocess
import time
from collections import Counter

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer
from confluent_kafka import TopicPartition as CkTopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from . import records

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def _dec(b):
    return None if b is None else b.decode()


# ---- confluent-kafka (librdkafka) --------------------------------------------------------------

def confluent_admin(bootstrap: str, client_id: str = "interop-helper") -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 10000, "client.id": client_id})


def error_code(fut, timeout: float = 30):
    """The KafkaError code an admin future failed with, None when it succeeded."""
    try:
        fut.result(timeout)
    except KafkaException as e:
        return e.args[0].code()
    return None


def create_topic(bootstrap: str, name: str, partitions: int = 1, configs: dict | None = None,
                 timeout: float = 30, client_id: str = "interop-helper") -> None:
    """Creates a topic with confluent-kafka's AdminClient and waits until metadata shows it led."""
    admin = confluent_admin(bootstrap, client_id)
    fut = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1,
                                        config={k: str(v) for k, v in (configs or {}).items()})],
                              operation_timeout=timeout, request_timeout=timeout)[name]
    fut.result(timeout)
    deadline = time.monotonic() + timeout
    while True:
        md = admin.list_topics(topic=name, timeout=10).topics.get(name)
        if md is not None and md.error is None and len(md.partitions) == partitions and all(
                p.leader >= 0 for p in md.partitions.values()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"topic {name} not ready within {timeout}s: {md}")
        time.sleep(0.05)


def confluent_produce(bootstrap: str, topic: str, prefix: str, indices, value_size: int = 100,
                      compression: str = "none", partition: int | None = 0, client: str = "confluent",
                      ts_base: int | None = None, ts_step: int = 1, config: dict | None = None,
                      timeout: float = 120, between=None) -> dict:
    """Produces records; returns {"acks": {i: (p, o)}, "errors": Counter}. `between(n, acks, p)` is
    called after the n-th record was handed over (for mid-stream actions)."""
    conf = {"bootstrap.servers": bootstrap, "compression.type": compression, "linger.ms": 5,
            "acks": "all", "queue.buffering.max.messages": 500000, "message.timeout.ms": 60000,
            "socket.timeout.ms": 10000}
    conf.update(config or {})
    p = Producer(conf)
    acks: dict[int, tuple[int, int]] = {}
    errors: Counter = Counter()

    def cb_for(i):
        def cb(err, msg):
            if err is None:
                acks[i] = (msg.partition(), msg.offset())
            else:
                errors[err.name()] += 1
        return cb

    deadline = time.monotonic() + timeout
    for n, i in enumerate(indices):
        kw = {}
        if partition is not None:
            kw["partition"] = partition
        if ts_base is not None:
            kw["timestamp"] = ts_base + i * ts_step
        while True:
            try:
                p.produce(topic, key=records.key(prefix, i).encode(),
                          value=records.value(prefix, i, value_size).encode(),
                          headers=[(hk, hv.encode()) for hk, hv in records.headers(i, client)],
                          on_delivery=cb_for(i), **kw)
                break
            except BufferError:
                p.poll(0.05)
                if time.monotonic() > deadline:
                    raise AssertionError("confluent producer queue stayed full") from None
        if n % 1000 == 0:
            p.poll(0)
        if between is not None:
            between(n + 1, acks, p)
    left = p.flush(max(1.0, deadline - time.monotonic()))
    assert left == 0, f"{left} messages still undelivered after flush"
    return {"acks": acks, "errors": errors}


def confluent_consume(bootstrap: str, topic: str, partitions=(0,), expected: int | None = None,
                      timeout: float = 90, start_offset: int = OFFSET_BEGINNING,
                      config: dict | None = None) -> list[dict]:
    """Reads from the given offset until `expected` records or, without it, until every partition
    reported end of partition (the high watermark)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"interop-assign-{time.time_ns()}",
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "auto.offset.reset": "earliest", "fetch.wait.max.ms": 100,
                  "socket.timeout.ms": 10000, **(config or {})})
    out: list[dict] = []
    try:
        c.assign([CkTopicPartition(topic, p, start_offset) for p in partitions])
        at_eof = set()
        deadline = time.monotonic() + timeout
        while True:
            if expected is not None and len(out) >= expected:
                break
            if expected is None and at_eof >= set(partitions):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"confluent consumer: {len(out)} records after {timeout}s "
                                     f"(expected {expected}, eof {sorted(at_eof)})")
            for m in c.consume(num_messages=5000, timeout=0.5):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        at_eof.add(m.partition())
                        continue
                    raise AssertionError(f"confluent consumer error: {m.error()}")
                at_eof.discard(m.partition())
                out.append({"p": m.partition(), "o": m.offset(), "ts": m.timestamp()[1],
                            "k": _dec(m.key()), "v": _dec(m.value()),
                            "h": [[hk, _dec(hv)] for hk, hv in (m.headers() or [])]})
    finally:
        c.close()
    return out


# ---- kafka-python --------------------------------------------------------------------------------

def kafka_python_produce(bootstrap: str, topic: str, prefix: str, indices, value_size: int = 100,
                         compression: str = "none", partition: int | None = 0,
                         client: str = "kafka-python", ts_base: int | None = None, ts_step: int = 1,
                         config: dict | None = None, timeout: float = 120, between=None) -> dict:
    """Like confluent_produce; kafka-python 3.x is idempotent with acks=all by default."""
    from kafka import KafkaProducer
    conf = dict(bootstrap_servers=bootstrap, acks="all", linger_ms=5, batch_size=64 * 1024,
                compression_type=None if compression == "none" else compression,
                request_timeout_ms=15000, max_block_ms=60000)
    conf.update(config or {})
    p = KafkaProducer(**conf)
    acks: dict[int, tuple[int, int]] = {}
    errors: Counter = Counter()
    try:
        for n, i in enumerate(indices):
            if between is not None and n:
                between(n, acks, p)
            f = p.send(topic, key=records.key(prefix, i).encode(),
                       value=records.value(prefix, i, value_size).encode(),
                       headers=[(hk, hv.encode()) for hk, hv in records.headers(i, client)],
                       partition=partition, timestamp_ms=None if ts_base is None else ts_base + i * ts_step)
            f.add_callback(lambda md, i=i: acks.__setitem__(i, (md.partition, md.offset)))
            f.add_errback(lambda e: errors.update([type(e).__name__]))
        p.flush(timeout)
    finally:
        p.close(timeout=10)
    return {"acks": acks, "errors": errors}


def kafka_python_consumer(bootstrap: str, **kw):
    from kafka import KafkaConsumer
    return KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                         auto_offset_reset="earliest", request_timeout_ms=15000, **kw)


def kafka_python_consume(bootstrap: str, topic: str, partitions=(0,), timeout: float = 120,
                         config: dict | None = None) -> list[dict]:
    """Reads every partition from its beginning to the end offset measured at the start."""
    from kafka import TopicPartition
    c = kafka_python_consumer(bootstrap, max_poll_records=5000, **(config or {}))
    out: list[dict] = []
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        end = c.end_offsets(tps)
        deadline = time.monotonic() + timeout
        while any(c.position(tp) < end[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise AssertionError(f"kafka-python consumer: {len(out)} records after {timeout}s, end {end}")
            for tp, msgs in c.poll(timeout_ms=500).items():
                for m in msgs:
                    out.append({"p": m.partition, "o": m.offset, "ts": m.timestamp,
                                "k": _dec(m.key), "v": _dec(m.value),
                                "h": [[hk, _dec(hv)] for hk, hv in (m.headers or [])]})
    finally:
        c.close()
    return out


# ---- kcat ------------------------------------------------------------------------------------------

KCAT_EXTRA: list[str] = []  # extra -X options for every kcat run (the capture tool sets client.id)


def kcat_base(kcat: str, bootstrap: str) -> list[str]:
    return [kcat, "-b", bootstrap, "-X", "socket.timeout.ms=10000", "-X", "topic.metadata.refresh.interval.ms=5000",
            *KCAT_EXTRA]


def kcat_fixed_headers(prefix: str) -> list[tuple[str, str]]:
    """kcat sets the same headers on every record of a run."""
    return [("client", "kcat"), ("run", prefix)]


def kcat_produce(kcat: str, bootstrap: str, topic: str, prefix: str, indices, value_size: int = 100,
                 compression: str = "none", partition: int = 0, timeout: float = 120) -> subprocess.CompletedProcess:
    lines = "".join(f"{records.key(prefix, i)}\t{records.value(prefix, i, value_size)}\n" for i in indices)
    cmd = kcat_base(kcat, bootstrap) + ["-P", "-t", topic, "-p", str(partition), "-K", "\t",
                                        "-z", compression, "-X", "linger.ms=5",
                                        "-X", "queue.buffering.max.messages=500000"]
    for hk, hv in kcat_fixed_headers(prefix):
        cmd += ["-H", f"{hk}={hv}"]
    res = subprocess.run(cmd, input=lines, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"kcat -P exited {res.returncode}: {res.stderr[-3000:]}"
    assert "Delivery failed" not in res.stderr and "ERROR" not in res.stderr, res.stderr[-3000:]
    return res


def kcat_consume(kcat: str, bootstrap: str, topic: str, partition: int = 0, offset: str = "beginning",
                 count: int | None = None, timeout: float = 120) -> list[dict]:
    """kcat -C -J to the end of the partition (-e), or `count` records (-c)."""
    cmd = kcat_base(kcat, bootstrap) + ["-C", "-t", topic, "-p", str(partition), "-o", offset, "-e",
                                        "-J", "-q"]
    if count is not None:
        cmd += ["-c", str(count)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"kcat -C exited {res.returncode}: {res.stderr[-3000:]}"
    out = []
    for line in res.stdout.splitlines():
        if not line.startswith("{"):
            continue
        j = json.loads(line)
        hs = j.get("headers") or []
        out.append({"p": j["partition"], "o": j["offset"], "ts": j.get("ts"), "k": j.get("key"),
                    "v": j.get("payload"), "h": [[hs[n], hs[n + 1]] for n in range(0, len(hs), 2)]})
    return out


def kcat_metadata(kcat: str, bootstrap: str, topic: str | None = None, timeout: float = 60) -> dict:
    cmd = kcat_base(kcat, bootstrap) + ["-L", "-J"] + (["-t", topic] if topic else [])
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"kcat -L exited {res.returncode}: {res.stderr[-3000:]}"
    return json.loads(res.stdout)
