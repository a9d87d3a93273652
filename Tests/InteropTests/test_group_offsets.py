"""Consumer-group offsets as the broker stores them in __consumer_offsets: a confluent-kafka group
consumer commits a position, the broker is stopped (SIGTERM or SIGKILL) and started again, and a
new member of the same group resumes exactly at the committed offset; kcat -G reads a topic to its
end as a group member. Full group scenarios (rebalances, assignors, static members) are issue 5's."""
from __future__ import annotations

import subprocess
import time

import pytest
from confluent_kafka import Consumer, TopicPartition

from conftest import unique
from runnel_interop import clients

pytestmark = [pytest.mark.needs_broker]


def group_consumer(bootstrap: str, group: str) -> Consumer:
    return Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                     "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
                     "heartbeat.interval.ms": 500})


def consume_n(consumer: Consumer, n: int, deadline_s: float = 60) -> list:
    got = []
    deadline = time.time() + deadline_s
    while len(got) < n and time.time() < deadline:
        for m in consumer.consume(num_messages=n - len(got), timeout=1.0):
            if m.error() is None:
                got.append(m)
    return got


@pytest.mark.timeout(240)
@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_committed_offsets_survive_a_broker_restart(fresh_broker, how):
    b = fresh_broker()
    topic, group = unique("grp-offsets"), unique("g")
    clients.create_topic(b.bootstrap, topic, partitions=1)
    clients.confluent_produce(b.bootstrap, topic, topic, range(100))

    first = group_consumer(b.bootstrap, group)
    first.subscribe([topic])
    got = consume_n(first, 40)
    assert [m.offset() for m in got] == list(range(40))
    first.commit(offsets=[TopicPartition(topic, 0, 40)], asynchronous=False)
    [committed] = first.committed([TopicPartition(topic, 0)], timeout=10)
    assert committed.offset == 40
    first.close()

    if how == "sigkill":
        b.kill()
        b.start()
    else:
        b.restart(graceful=True)

    second = group_consumer(b.bootstrap, group)
    [after] = second.committed([TopicPartition(topic, 0)], timeout=30)
    assert after.offset == 40, f"committed offset after {how}: {after.offset}"
    second.subscribe([topic])
    rest = consume_n(second, 60)
    second.close()
    assert [m.offset() for m in rest] == list(range(40, 100))


@pytest.mark.timeout(120)
def test_kcat_group_member_reads_to_the_end(broker, kcat_bin):
    topic, group = unique("grp-kcat"), unique("g")
    clients.create_topic(broker.bootstrap, topic, partitions=3)
    clients.confluent_produce(broker.bootstrap, topic, topic, range(300), partition=None)
    res = subprocess.run([kcat_bin, "-b", broker.bootstrap, "-G", group, "-o", "beginning", "-e", "-q",
                          "-f", "%p %o\n", topic], capture_output=True, text=True, timeout=90)
    assert res.returncode == 0, res.stderr[-2000:]
    seen = sorted(tuple(map(int, line.split())) for line in res.stdout.splitlines() if line.strip())
    assert len(seen) == 300 and len(set(seen)) == 300
    # The group committed its positions: the partitions' committed offsets add up to 300.
    c = group_consumer(broker.bootstrap, group)
    committed = c.committed([TopicPartition(topic, p) for p in range(3)], timeout=30)
    c.close()
    assert sum(tp.offset for tp in committed) == 300
