"""Exactly-once consume-transform-produce with the Java client 4.3 (KIP-98 / KIP-447), across broker
crashes. 100,000 deterministic records in 4 input partitions; an app (tools/interop/java TxnCommand
"ctp") runs as two group members in two JVMs: each poll's records are transformed into the output topic
(same partition and key, value "T:" + value, header src="partition:offset") in one transaction together
with sendOffsetsToTransaction(offsets, consumer.groupMetadata()), then committed. The broker is SIGKILLed
and restarted at random points of the run (seeded, the seed is in the failure message); app instances
that die are restarted with their transactional.id. Afterwards:
- the group's committed offsets equal the input's end offsets;
- the output read with read_committed holds every input record exactly once, transformed, in its
  partition;
- against the raw log of each output partition, the read_committed view is exactly the committed data
  (no record of an aborted transaction, no control record) and the read_uncommitted view every data
  record: whatever is in the log but not in the committed output belongs to aborted transactions."""
from __future__ import annotations

import os
import random
import time

import pytest

from conftest import TXN_BROKER_CONFIGS, unique
from runnel_interop import clients, records
from runnel_interop import txn as T
from runnel_interop.group_wire import GroupConnection

pytestmark = [pytest.mark.needs_broker, pytest.mark.slow]
COUNT = 100_000
PARTITIONS = 4
VALUE_SIZE = 60
KILLS = 3


class App:
    """One app instance slot: the running JVM and the records its earlier (dead) JVMs committed."""

    def __init__(self, java, name: str, args: dict):
        self.java, self.name, self.args = java, name, args
        self.earlier = 0
        self.restarts = 0
        self.exit_codes: list[int] = []
        self.proc = self._start()

    def _start(self) -> T.LineProcess:
        return T.LineProcess(self.java.command("txn", self.args), self.name)

    @property
    def committed(self) -> int:
        return self.earlier + self.proc.last_value("COMMITTED total=")

    def restart_if_dead(self) -> bool:
        code = self.proc.proc.poll()
        if code is None:
            return False
        self.exit_codes.append(code)
        assert code != 0, f"{self.name} finished before it was told to stop\n{self.proc.tail()}"
        self.earlier += self.proc.last_value("COMMITTED total=")
        self.restarts += 1
        assert self.restarts <= 10, f"{self.name} keeps failing\n{self.proc.tail()}\n{self.proc.stdout[-3000:]}"
        self.proc = self._start()
        return True


def committed_offsets(port: int, group: str, topic: str) -> dict[int, int] | None:
    """The group's committed offsets (OffsetFetch), None while the broker is down or loading."""
    try:
        c = GroupConnection(port, timeout=2.0)
    except OSError:
        return None
    try:
        res = c.fetch_offsets(group, topic, list(range(PARTITIONS)))
    except (OSError, ConnectionError, ValueError, TimeoutError):
        return None
    finally:
        c.close()
    if res["error"] != 0 or any(err != 0 for _, err in res["partitions"].values()):
        return None
    return {p: off for (_, p), (off, _) in res["partitions"].items()}


@pytest.mark.timeout(300)
def test_java_exactly_once_consume_transform_produce_across_broker_kills(fresh_broker, java, tmp_path):
    seed = int(os.environ.get("RUNNEL_INTEROP_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    b = fresh_broker(TXN_BROKER_CONFIGS)
    src, dst, group = unique("eos-in"), unique("eos-out"), unique("eos-app")
    clients.create_topic(b.bootstrap, src, partitions=PARTITIONS)
    clients.create_topic(b.bootstrap, dst, partitions=PARTITIONS)
    produced = clients.confluent_produce(b.bootstrap, src, src, range(COUNT), value_size=VALUE_SIZE, partition=None,
                                         compression="lz4", config={"enable.idempotence": True}, timeout=120)
    assert not produced["errors"] and len(produced["acks"]) == COUNT, produced["errors"]
    by_position = {pos: i for i, pos in produced["acks"].items()}
    end_offsets = {p: 1 + max(o for q, o in produced["acks"].values() if q == p) for p in range(PARTITIONS)}

    stop = tmp_path / "stop"
    apps = [App(java, f"app-{k}", {
        "mode": "ctp", "bootstrap": b.bootstrap, "input": src, "output": dst, "group": group,
        "transactionalId": f"{group}-instance-{k}", "stopFile": str(stop), "timeoutMs": 240000,
        "sessionTimeoutMs": 6000, "maxPollRecords": 1000, "transactionTimeoutMs": 20000,
        "requestTimeoutMs": 8000, "maxBlockMs": 20000, "deliveryTimeoutMs": 30000, "retryWindowMs": 60000})
        for k in range(2)]
    kill_at = sorted(rng.sample(range(COUNT // 10, COUNT * 9 // 10), KILLS))
    kills_done = 0
    context = lambda: (f"seed {seed}, kills at {kill_at} ({kills_done} done), committed "
                       f"{[a.committed for a in apps]}, restarts {[a.restarts for a in apps]}\n"
                       + "\n".join(f"--- {a.name}\n{a.proc.tail(15)}" for a in apps))
    try:
        deadline = time.monotonic() + 210
        while True:
            assert time.monotonic() < deadline, "the app did not finish: " + context()
            for a in apps:
                a.restart_if_dead()
            progress = sum(a.committed for a in apps)
            if kills_done < KILLS and progress >= kill_at[kills_done]:
                b.kill()
                b.start()
                kills_done += 1
                continue
            if kills_done == KILLS and committed_offsets(b.port, group, src) == end_offsets:
                break
            time.sleep(0.2)  # poll interval, bounded by the deadline above
        stop.touch()
        for a in apps:
            code = a.proc.finish(90)
            assert code == 0, f"{a.name} exited {code} after the stop file\n{a.proc.tail()}\n{a.proc.stdout[-3000:]}"
    finally:
        for a in apps:
            a.proc.kill()

    assert committed_offsets(b.port, group, src) == end_offsets, context()
    T.await_stable(b.port, dst, range(PARTITIONS), timeout=60)
    rc = T.java_read(java, b.bootstrap, dst, tmp_path / "rc.jsonl", "read_committed", timeout_ms=120000)
    ru = T.java_read(java, b.bootstrap, dst, tmp_path / "ru.jsonl", "read_uncommitted", timeout_ms=120000)
    seen: dict[tuple[int, int], int] = {}
    problems = []
    for r in rc:
        hs = dict((k, v) for k, v in r["h"])
        p, o = map(int, hs["src"].split(":"))
        i = by_position.get((p, o))
        seen[(p, o)] = seen.get((p, o), 0) + 1
        if i is None or r["p"] != p or r["k"] != records.key(src, i) or r["v"] != "T:" + records.value(src, i, VALUE_SIZE):
            problems.append(f"output {r['p']}@{r['o']} from {p}:{o} is not input record {i} transformed")
    assert not problems, f"{len(problems)} wrong outputs, e.g. {problems[:5]} ({context()})"
    dupes = [pos for pos, n in seen.items() if n > 1]
    missing = set(by_position) - set(seen)
    assert not dupes, f"{len(dupes)} input records output more than once, e.g. {dupes[:5]} ({context()})"
    assert not missing, f"{len(missing)} input records never output, e.g. {sorted(missing)[:5]} ({context()})"
    assert len(rc) == COUNT
    aborted = 0
    for p in range(PARTITIONS):
        fate = T.check_views(b.port, dst, p, rc, ru)
        assert not fate["open"] and not fate["plain"], f"partition {p}: open {len(fate['open'])}, plain {len(fate['plain'])}"
        aborted += len(fate["aborted"])
    # Not an assertion on aborts (a crash may land between transactions); reported for the log.
    print(f"seed {seed}: {aborted} aborted output records, restarts {[a.restarts for a in apps]}")
