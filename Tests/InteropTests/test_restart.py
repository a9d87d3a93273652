"""Broker restarts in the middle of a stream. An idempotent producer (acks=all) sends 30,000
records to one partition; after a third (Java: progress lines) or a quarter (Python clients) of
them are acknowledged, the broker is stopped with SIGTERM (it must exit 0 within the bound) or
killed with SIGKILL, and started again on the same port and data dir. Then: every record is
acknowledged, record i at offset i (so no loss, no duplicate, no reordering), a Java consumer that
was reading across the restart got exactly the 30,000 records, and a final read to the end of the
partition finds exactly those records and nothing else."""
from __future__ import annotations

import time

import pytest

from conftest import unique
from runnel_interop import clients, records

pytestmark = [pytest.mark.needs_broker, pytest.mark.slow]
COUNT = 30_000


def final_check(bootstrap: str, topic: str, client: str) -> None:
    got = clients.confluent_consume(bootstrap, topic, timeout=120)
    records.verify(got, topic, range(COUNT), 100, client)


@pytest.mark.timeout(360)
@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_java_producer_and_consumer_across_restart(fresh_broker, java, tmp_path, how):
    b = fresh_broker()
    t = unique(f"restart-java-{how}")
    clients.create_topic(b.bootstrap, t, partitions=1)
    producer = java.start("produce", {
        "bootstrap": b.bootstrap, "topic": t, "prefix": t, "count": COUNT, "partition": 0,
        "compression": "lz4", "lingerMs": 5, "ratePerSec": 6000, "progressEvery": 500,
        "deliveryTimeoutMs": 150000, "requestTimeoutMs": 10000})
    out = tmp_path / "consumed.jsonl"
    consumer = java.start("consume", {"bootstrap": b.bootstrap, "topic": t, "partitions": [0], "out": str(out),
                                      "expected": COUNT, "timeoutMs": 200000, "requestTimeoutMs": 10000})
    try:
        producer.wait_acked(COUNT // 3, timeout=90)
        b.restart(graceful=(how == "sigterm"))
        res = producer.result(timeout=240)
        assert (res["failed"], res["errors"]) == (0, {}), res["errors"]
        assert res["acked"] == COUNT
        wrong = [(i, a) for i, a in enumerate(res["acks"]) if a != [0, i]]
        assert not wrong, f"acknowledged at unexpected offsets, e.g. {wrong[:5]}"
        c = consumer.result(timeout=240)
        assert (c["count"], c["timedOut"]) == (COUNT, False)
        records.verify(records.read_jsonl(out), t, range(COUNT), 100, "java")
    finally:
        producer.kill()
        consumer.kill()
    final_check(b.bootstrap, t, "java")


def restart_when(b, fraction_acked: int, how: str):
    """A `between` hook: once COUNT/2 records were handed over, waits until COUNT/fraction are
    acknowledged, then restarts the broker (the producer keeps its in-flight batches)."""
    state = {"done": False}

    def hook(n, acks, producer):
        if state["done"] or n < COUNT // 2:
            return
        deadline = time.monotonic() + 90
        while len(acks) < COUNT // fraction_acked:
            assert time.monotonic() < deadline, f"only {len(acks)} acknowledged before the restart"
            if hasattr(producer, "poll"):
                producer.poll(0.05)
            else:
                time.sleep(0.05)
        b.restart(graceful=(how == "sigterm"))
        state["done"] = True

    return hook, state


@pytest.mark.timeout(300)
@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_python_idempotent_producer_across_restart(fresh_broker, client, how):
    b = fresh_broker()
    t = unique(f"restart-{client}-{how}")
    clients.create_topic(b.bootstrap, t, partitions=1)
    hook, state = restart_when(b, 4, how)
    if client == "confluent":
        res = clients.confluent_produce(b.bootstrap, t, t, range(COUNT), compression="zstd", timeout=240,
                                        config={"enable.idempotence": True, "message.timeout.ms": 150000},
                                        between=hook)
    else:
        res = clients.kafka_python_produce(b.bootstrap, t, t, range(COUNT), compression="zstd", timeout=240,
                                           config={"delivery_timeout_ms": 150000}, between=hook)
    assert state["done"], "the broker was not restarted mid-stream"
    assert not res["errors"], res["errors"]
    assert res["acks"] == {i: (0, i) for i in range(COUNT)}
    final_check(b.bootstrap, t, client)
