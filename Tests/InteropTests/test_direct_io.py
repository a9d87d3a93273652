"""The direct-I/O write path (`log.io.mode`) end to end: a broker forced to `direct` (and one forced to
`buffered`, the same checks) logs its mode, takes durable produce from librdkafka (acks=all, records
that straddle 4 KiB blocks, `preallocate` on), serves exactly those records back from the files it
wrote with O_DIRECT, survives SIGKILL with every acknowledged record, and appends after the restart
where the zero-padded tail was cut back."""
from __future__ import annotations

import pytest

from conftest import unique
from runnel_interop import clients, records

pytestmark = [pytest.mark.needs_broker]
COUNT = 6_000
VALUE = 1_000


@pytest.mark.timeout(240)
@pytest.mark.parametrize("mode", ["direct", "buffered"])
def test_produce_consume_and_sigkill_recovery_per_io_mode(fresh_broker, monkeypatch, mode):
    monkeypatch.delenv("RUNNEL_LOG_IO_MODE", raising=False)  # the environment would override the setting
    b = fresh_broker(configs={"log.io.mode": mode})
    log = b.log_path.read_text()
    assert f"mode={mode}" in log, f"no 'log dir write mode' line saying {mode}: {log[-2000:]}"
    t = unique(f"dio-{mode}")
    clients.create_topic(b.bootstrap, t, partitions=1, configs={"preallocate": "true", "segment.bytes": 1_048_576})
    first = clients.confluent_produce(b.bootstrap, t, t, range(COUNT), value_size=VALUE,
                                      config={"acks": "all", "enable.idempotence": True})
    assert not first["errors"], first["errors"]
    assert first["acks"] == {i: (0, i) for i in range(COUNT)}
    records.verify(clients.confluent_consume(b.bootstrap, t, timeout=120), t, range(COUNT), VALUE, "confluent")

    b.restart(graceful=False)   # SIGKILL: the active segment's tail block is left zero-padded
    second = clients.confluent_produce(b.bootstrap, t, t, range(COUNT, COUNT + 500), value_size=VALUE,
                                       config={"acks": "all"})
    assert not second["errors"], second["errors"]
    assert second["acks"] == {i: (0, i) for i in range(COUNT, COUNT + 500)}
    records.verify(clients.confluent_consume(b.bootstrap, t, timeout=120), t, range(COUNT + 500), VALUE, "confluent")
