"""Consumers reading data that is not in memory (a replay): on a direct log dir with the tail cache off,
every fetch of written data is cold, so it is read with O_DIRECT into memory and sent from there
(`ColdReader`), within `log.cold.read.max.bytes`; with a budget of 0 every such fetch reads through the
page cache instead (sendfile). Two consumers of different client families read at once, then one
replays again; each sees exactly the records produced, and the broker's counters show which path served
them: every pass from the disk with O_DIRECT (a range counts as in memory only when all of its pages are:
the cache probes of one pass must not make the next pass's ranges look cached), or none."""
from __future__ import annotations

import threading
import time

import pytest

from conftest import unique
from runnel_interop import clients, metrics, records

pytestmark = [pytest.mark.needs_broker]
COUNT = 8_000
VALUE = 1_000


@pytest.mark.timeout(240)
@pytest.mark.parametrize("budget", [None, 0])
def test_replaying_consumers_get_exact_records_through_either_cold_path(fresh_broker, kcat_bin, monkeypatch, budget):
    monkeypatch.delenv("RUNNEL_LOG_IO_MODE", raising=False)  # the environment would override the setting
    configs = {"log.io.mode": "direct", "log.cache.max.bytes": 0, **metrics.metrics_configs()}
    if budget is not None:
        configs["log.cold.read.max.bytes"] = budget
    b = fresh_broker(configs=configs)
    t = unique("cold")
    clients.create_topic(b.bootstrap, t, partitions=1, configs={"segment.bytes": 2_000_000})
    sent = clients.confluent_produce(b.bootstrap, t, t, range(COUNT), value_size=VALUE)
    assert not sent["errors"], sent["errors"]
    assert len(sent["acks"]) == COUNT

    got: dict[str, list[dict]] = {}

    def read(name, fn):
        got[name] = fn()
    readers = [threading.Thread(target=read, args=("confluent", lambda: clients.confluent_consume(b.bootstrap, t, timeout=120)))]
    readers.append(threading.Thread(target=read, args=("kcat", lambda: clients.kcat_consume(kcat_bin, b.bootstrap, t))))
    for r in readers:
        r.start()
    for r in readers:
        r.join(timeout=150)
        assert not r.is_alive(), "a consumer did not finish"
    records.verify(got["confluent"], t, range(COUNT), VALUE, "confluent")
    records.verify(got["kcat"], t, range(COUNT), VALUE, "confluent")  # the producer's headers
    # A second replay, alone.
    records.verify(clients.kcat_consume(kcat_bin, b.bootstrap, t), t, range(COUNT), VALUE, "confluent")

    m = metrics.scrape(b)
    cold_bytes = m.total("runnel_storage_cold_read_bytes_total")
    refused = m.total("runnel_storage_cold_read_refused_total")
    if budget == 0:
        assert cold_bytes == 0, cold_bytes
        assert refused > 0, "no fetch was cold: the test did not reach the fallback"
    else:
        # The data was never in the tail cache, nor (written with O_DIRECT) in the page cache: the two
        # passes side by side and the replay after them all came from the disk this way.
        assert cold_bytes >= 3 * COUNT * VALUE, cold_bytes
        # Every block read goes back to the budget once its answer is written.
        deadline = time.monotonic() + 10
        while metrics.scrape(b).total("runnel_storage_cold_read_held_bytes") != 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert metrics.scrape(b).total("runnel_storage_cold_read_held_bytes") == 0
