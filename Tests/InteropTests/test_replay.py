"""`runnel replay`: a new consumer group at a time in every partition, the end offsets recorded, and
`--wait-caught-up` following a real kafka-python job until it reaches them. Refusals (a group in use,
an existing group without --reset), timeouts and a group deleted while waiting end with one error
line and exit 1. The broker's own request counter shows the wait polls at most once a second."""
from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request

import pytest

import cli_support as cli
from conftest import unique
from runnel_interop import clients, kafka_python_group
from runnel_interop.kappa import KappaJob

pytestmark = pytest.mark.needs_broker
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
PARTITIONS = 3
PER_PARTITION = 100


def iso(millis: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis / 1000)) + f".{millis % 1000:03d}Z"


@pytest.fixture(scope="module")
def events(group_broker):
    """3 partitions x 100 records; record i of every partition has CreateTime T0 + i seconds."""
    name = unique("replay-events")
    clients.create_topic(group_broker.bootstrap, name, partitions=PARTITIONS)
    for p in range(PARTITIONS):
        res = clients.confluent_produce(group_broker.bootstrap, name, f"{name}-p{p}", range(PER_PARTITION),
                                        partition=p, ts_base=T0, ts_step=1000)
        assert not res["errors"] and len(res["acks"]) == PER_PARTITION
    return name


def committed(runnel_bin, broker, group) -> dict[int, int]:
    report = cli.json_out(runnel_bin, "group", "describe", group, brokers=broker.bootstrap)
    return {o["partition"]: o["committedOffset"] for o in report["offsets"]}


def test_replay_commits_the_offsets_at_a_time_and_prints_the_end_offsets(runnel_bin, group_broker, events):
    group = unique("replay-g")
    res = cli.ok(runnel_bin, "replay", "--topic", events, "--from", iso(T0 + 40_000), "--group", group,
                 brokers=group_broker.bootstrap)
    assert "PARTITION" in res.stdout and "START" in res.stdout and "END" in res.stdout, res.stdout
    assert f"{PARTITIONS * 60} record(s)" in res.stdout, res.stdout
    assert committed(runnel_bin, group_broker, group) == {p: 40 for p in range(PARTITIONS)}

    # --to: the end offsets are those of the --to time; JSON lines; the same time syntax (@millis).
    group2 = unique("replay-g")
    res = cli.ok(runnel_bin, "replay", "--topic", events, "--from", f"@{T0 + 10_500}", "--to", iso(T0 + 70_000),
                 "--group", group2, "--format", "json", brokers=group_broker.bootstrap)
    lines = cli.json_lines(res.stdout)
    assert len(lines) == 1 and lines[0]["event"] == "started", res.stdout
    assert lines[0]["from"] == T0 + 10_500 and lines[0]["to"] == T0 + 70_000
    assert [(p["partition"], p["start"], p["end"], p["records"]) for p in lines[0]["partitions"]] == \
        [(p, 11, 70, 59) for p in range(PARTITIONS)]
    assert lines[0]["records"] == PARTITIONS * 59
    assert committed(runnel_bin, group_broker, group2) == {p: 11 for p in range(PARTITIONS)}

    # A time after every record starts at the end; earliest at the log start.
    group3 = unique("replay-g")
    cli.ok(runnel_bin, "replay", "--topic", events, "--from", "+1d", "--group", group3, brokers=group_broker.bootstrap)
    assert committed(runnel_bin, group_broker, group3) == {p: PER_PARTITION for p in range(PARTITIONS)}


def test_replay_refuses_an_existing_group_unless_reset_and_a_group_in_use_always(runnel_bin, group_broker, events):
    group = unique("replay-g")
    cli.ok(runnel_bin, "replay", "--topic", events, "--from", iso(T0 + 50_000), "--group", group,
           brokers=group_broker.bootstrap)
    res = cli.run(runnel_bin, "replay", "--topic", events, "--from", iso(T0), "--group", group,
                  brokers=group_broker.bootstrap)
    cli.assert_one_line_error(res, 1, "already exists", "--reset")
    assert committed(runnel_bin, group_broker, group) == {p: 50 for p in range(PARTITIONS)}
    cli.ok(runnel_bin, "replay", "--topic", events, "--from", iso(T0 + 20_000), "--group", group, "--reset",
           brokers=group_broker.bootstrap)
    assert committed(runnel_bin, group_broker, group) == {p: 20 for p in range(PARTITIONS)}

    consumer = kafka_python_group.group_consumer([events], bootstrap_servers=group_broker.bootstrap, group_id=group,
                                                 enable_auto_commit=False, session_timeout_ms=6000,
                                                 heartbeat_interval_ms=500)
    try:
        deadline = time.monotonic() + 30
        while not consumer.assignment():
            assert time.monotonic() < deadline, "the consumer never got an assignment"
            consumer.poll(timeout_ms=200)
        res = cli.run(runnel_bin, "replay", "--topic", events, "--from", iso(T0), "--group", group, "--reset",
                      brokers=group_broker.bootstrap)
        cli.assert_one_line_error(res, 1, "active member")
    finally:
        consumer.close()


def test_bad_arguments_are_usage_errors(runnel_bin, group_broker, events):
    res = cli.run(runnel_bin, "replay", "--topic", events, "--from", "yesterday-ish", "--group", unique("g"),
                  brokers=group_broker.bootstrap)
    cli.assert_one_line_error(res, 2, "cannot read 'yesterday-ish'")
    res = cli.run(runnel_bin, "replay", "--topic", events, "--from", "-1h", "--group", "g", "--wait-timeout", "10s",
                  brokers=group_broker.bootstrap)
    assert res.returncode == 2 and "--wait-caught-up" in res.stderr
    res = cli.run(runnel_bin, "replay", "--topic", events, "--from", "-1h", "--group", "g", "--wait-caught-up",
                  "--wait-timeout", "soon", brokers=group_broker.bootstrap)
    assert res.returncode == 2 and "duration" in res.stderr
    res = cli.run(runnel_bin, "replay", "--topic", unique("missing"), "--from", "-1h", "--group", unique("g"),
                  brokers=group_broker.bootstrap)
    assert res.returncode == 1 and "error:" in res.stderr


def test_wait_caught_up_follows_a_kafka_python_job_to_the_end_offsets(runnel_bin, group_broker, events):
    group = unique("replay-job")
    out = unique("replay-out")
    clients.create_topic(group_broker.bootstrap, out, partitions=1)
    proc = subprocess.Popen([runnel_bin, "replay", "--topic", events, "--from", iso(T0 + 30_000), "--group", group,
                             "--wait-caught-up", "--wait-timeout", "90s", "--brokers", group_broker.bootstrap],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    job = None
    try:
        # Start the job once the group's offsets exist (the first progress line is printed after them).
        deadline = time.monotonic() + 30
        first = proc.stdout.readline()
        while first and not first.startswith("Group"):
            first = proc.stdout.readline()
            assert time.monotonic() < deadline
        job = KappaJob(group_broker.bootstrap, events, out, group, lambda k, v: v.upper()).start()
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        if job is not None:
            job.stop()
    assert proc.returncode == 0, stderr
    progress = [line for line in stdout.splitlines() if line.startswith("[")]
    assert progress and "left" in progress[0] and "rate" in progress[0] and "eta" in progress[0], stdout
    assert f"Group {group} caught up." in stdout
    assert job.written >= PARTITIONS * 70
    assert committed(runnel_bin, group_broker, group) == {p: PER_PARTITION for p in range(PARTITIONS)}


def test_wait_caught_up_times_out_with_the_records_left(runnel_bin, group_broker, events):
    group = unique("replay-idle")
    started = time.monotonic()
    res = cli.run(runnel_bin, "replay", "--topic", events, "--from", iso(T0 + 90_000), "--group", group,
                  "--wait-caught-up", "--wait-timeout", "2s", "--format", "json", brokers=group_broker.bootstrap)
    cli.assert_one_line_error(res, 1, "timed out", f"{PARTITIONS * 10} record(s) still to go")
    assert time.monotonic() - started < 20
    lines = cli.json_lines(res.stdout)
    assert lines[0]["event"] == "started"
    assert all(line["event"] == "progress" and line["status"]["left"] == PARTITIONS * 10 for line in lines[1:])
    assert 1 <= len(lines) - 1 <= 4, lines  # one line a second for 2 s (at least one, however slow the machine)


def test_wait_caught_up_fails_when_the_group_disappears(runnel_bin, group_broker, events):
    group = unique("replay-gone")
    proc = subprocess.Popen([runnel_bin, "replay", "--topic", events, "--from", iso(T0), "--group", group,
                             "--wait-caught-up", "--wait-timeout", "60s", "--brokers", group_broker.bootstrap],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        line = proc.stdout.readline()
        while line and not line.startswith("["):
            line = proc.stdout.readline()
            assert time.monotonic() < deadline
        cli.ok(runnel_bin, "group", "delete", group, brokers=group_broker.bootstrap)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "disappeared" in errors[0], stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _offset_fetches(metrics_url: str) -> float:
    text = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("runnel_requests_total{") and 'api="OffsetFetch"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_waiting_polls_the_broker_at_most_once_a_second(runnel_bin, fresh_broker):
    port = _free_port()
    broker = fresh_broker({"metrics.listener": f"127.0.0.1:{port}"})
    topic = unique("replay-load")
    clients.create_topic(broker.bootstrap, topic, partitions=2)
    for p in range(2):
        clients.confluent_produce(broker.bootstrap, topic, topic, range(10), partition=p, ts_base=T0, ts_step=1000)
    url = f"http://127.0.0.1:{port}/metrics"
    before = _offset_fetches(url)
    started = time.monotonic()
    res = cli.run(runnel_bin, "replay", "--topic", topic, "--from", iso(T0), "--group", unique("g"),
                  "--wait-caught-up", "--wait-timeout", "5s", brokers=broker.bootstrap)
    elapsed = time.monotonic() - started
    assert res.returncode == 1 and "timed out" in res.stderr
    fetches = _offset_fetches(url) - before
    # One OffsetFetch to check the group is new, then at most one a second while waiting.
    assert 2 <= fetches <= 1 + elapsed + 1, (fetches, elapsed)
