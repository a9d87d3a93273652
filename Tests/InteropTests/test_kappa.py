"""The Kappa reprocessing cycle end to end (docs/kappa.md), with real clients and the real CLI:
events over ten simulated days; a kafka-python job (consumer group -> transform -> producer, offsets
committed after the writes) writes output v1 through the alias `serving`; a reader group consumes the
alias; `runnel replay` starts a new group at day 5 whose job writes v2 with a changed transform;
`--wait-caught-up` returns once it caught up; the old job stops; `runnel alias swap serving --to v2
--translate-offsets --group dashboard`; the reader resumes on the alias and sees v2's records only,
from the instant of the last record it consumed in v1 (at-least-once: that instant comes again, in its
v2 form; nothing after it is skipped) including events produced after the swap."""
from __future__ import annotations

import json
import subprocess
import time

import pytest

import cli_support as cli
from conftest import unique
from runnel_interop import clients, kafka_python_group
from runnel_interop.kappa import KappaJob

pytestmark = pytest.mark.needs_broker
DAY0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
STEP = 36 * 60 * 1000     # one event every 36 minutes: 40 a day
EVENTS = 400              # ten days
LATE = 20                 # produced after the swap
READ_BEFORE_SWAP = 250


def produce_events(bootstrap: str, topic: str, indices) -> None:
    from kafka import KafkaProducer
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        for i in indices:
            p.send(topic, key=f"e{i}".encode(), value=json.dumps({"i": i, "amount": i % 17}).encode(),
                   timestamp_ms=DAY0 + i * STEP)
        p.flush(60)
    finally:
        p.close(timeout=10)


def v1_transform(key: bytes, value: bytes) -> bytes:
    return b"v1:" + value


def v2_transform(key: bytes, value: bytes) -> bytes:  # the fixed transform: amounts in cents
    event = json.loads(value)
    return b"v2:" + json.dumps({"i": event["i"], "cents": event["amount"] * 100}).encode()


def read_alias(bootstrap: str, alias: str, group: str, until, timeout: float = 90) -> list[tuple[str, int, int]]:
    """Reads `alias` in `group` until `until(records)` holds, committing what it read; returns
    (version, event index, timestamp) per record."""
    c = kafka_python_group.group_consumer([alias], bootstrap_servers=bootstrap, group_id=group,
                                          enable_auto_commit=False, auto_offset_reset="earliest",
                                          session_timeout_ms=30000, heartbeat_interval_ms=1000,
                                          max_poll_records=READ_BEFORE_SWAP)
    out: list[tuple[str, int, int]] = []
    deadline = time.monotonic() + timeout
    try:
        while not until(out):
            assert time.monotonic() < deadline, f"reader of {alias}: {len(out)} records after {timeout}s"
            for msgs in c.poll(timeout_ms=200, max_records=READ_BEFORE_SWAP - len(out) if len(out) < READ_BEFORE_SWAP else 500).values():
                for m in msgs:
                    version, body = m.value.split(b":", 1)
                    out.append((version.decode(), json.loads(body)["i"], m.timestamp))
            c.commit()
    finally:
        c.close()
    return out


def replay(runnel_bin, bootstrap, *args) -> subprocess.Popen:
    """Starts `runnel replay ... --wait-caught-up` and returns once the group's offsets are committed."""
    proc = subprocess.Popen([runnel_bin, "replay", *args, "--wait-caught-up", "--wait-timeout", "120s",
                             "--format", "json", "--brokers", bootstrap],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = json.loads(proc.stdout.readline() or "{}")
    if first.get("event") != "started":
        proc.kill()
        raise AssertionError(f"replay did not start: {first} {proc.stderr.read()}")
    proc.started = first
    return proc


def wait_caught_up(proc: subprocess.Popen, job: KappaJob) -> list[dict]:
    stdout, stderr = proc.communicate(timeout=150)
    assert proc.returncode == 0, f"{stderr}\njob {job.group}: {job.written} written, error {job.error!r}\n{stdout[-2000:]}"
    lines = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    assert lines and lines[-1]["event"] == "caught-up", lines[-3:]
    return lines


def test_a_full_kappa_reprocessing_cycle(runnel_bin, group_broker):
    b = group_broker.bootstrap
    events, v1, v2 = unique("kappa-events"), unique("kappa-v1"), unique("kappa-v2")
    serving, dashboard = unique("serving"), unique("dashboard")
    for name in (events, v1, v2):
        clients.create_topic(b, name, partitions=1)
    produce_events(b, events, range(EVENTS))
    cli.ok(runnel_bin, "alias", "create", serving, "--to", v1, brokers=b)

    # v1: the original job, from the beginning of the log, writing through the alias.
    group_v1 = unique("kappa-job-v1")
    proc = replay(runnel_bin, b, "--topic", events, "--from", "earliest", "--group", group_v1)
    job_v1 = KappaJob(b, events, serving, group_v1, v1_transform).start()
    wait_caught_up(proc, job_v1)

    # A reader of the alias consumes part of v1, commits, and stops.
    first = read_alias(b, serving, dashboard, lambda out: len(out) >= READ_BEFORE_SWAP)
    assert first == [("v1", i, DAY0 + i * STEP) for i in range(READ_BEFORE_SWAP)]

    # v2: replay from day 5 into a new group whose job writes v2 (a concrete topic) with the fixed transform.
    group_v2 = unique("kappa-job-v2")
    day5 = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((DAY0 + 5 * 86_400_000) / 1000))
    proc = replay(runnel_bin, b, "--topic", events, "--from", day5, "--group", group_v2)
    assert proc.started["partitions"] == [{"partition": 0, "start": 200, "end": EVENTS, "records": EVENTS - 200}]
    job_v2 = KappaJob(b, events, v2, group_v2, v2_transform).start()
    lines = wait_caught_up(proc, job_v2)
    assert any(line["event"] == "progress" or line["event"] == "caught-up" for line in lines)

    # Switch: the old job stops (it writes through the alias), the reader's offsets move by time, the alias swaps.
    job_v1.stop()
    swap = cli.json_out(runnel_bin, "alias", "swap", serving, "--to", v2, "--expect", v1,
                        "--translate-offsets", "--group", dashboard, brokers=b)
    # The last record the reader consumed (event 249) is at offset 49 of v2 (v2 starts at event 200).
    assert swap["offsets"] == {dashboard: [{"topic": v2, "partition": 0, "offset": READ_BEFORE_SWAP - 1 - 200}]}

    # New events after the swap flow through the running v2 job.
    produce_events(b, events, range(EVENTS, EVENTS + LATE))

    # The reader resumes on the alias: v2 only, from the last consumed instant on, through the late events.
    second = read_alias(b, serving, dashboard, lambda out: any(i == EVENTS + LATE - 1 for _, i, _ in out))
    job_v2.stop()
    assert {version for version, _, _ in second} == {"v2"}
    assert [i for _, i, _ in second] == list(range(READ_BEFORE_SWAP - 1, EVENTS + LATE))
    assert [ts for _, _, ts in second] == [DAY0 + i * STEP for i in range(READ_BEFORE_SWAP - 1, EVENTS + LATE)]
    # Nothing lost across the switch; the only repeat is the instant of the last record read before it.
    seen = [i for _, i, _ in first + second]
    assert sorted(set(seen)) == list(range(EVENTS + LATE))
    assert [i for i in set(seen) if seen.count(i) > 1] == [READ_BEFORE_SWAP - 1]
    # The group's offsets are the target's: the reader's committed offset is in v2.
    report = cli.json_out(runnel_bin, "group", "describe", dashboard, brokers=b)
    committed = {(o["topic"], o["committedOffset"]) for o in report["offsets"]}
    assert (v2, EVENTS + LATE - 200) in committed and (v1, READ_BEFORE_SWAP) in committed, committed
