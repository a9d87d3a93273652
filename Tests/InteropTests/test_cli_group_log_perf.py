"""`runnel consume -g`, `runnel group`, `runnel log dump` and `runnel perf` end to end."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import cli_support as cli
from conftest import unique

pytestmark = pytest.mark.needs_broker


def test_group_consume_commit_describe_seek_delete(runnel_bin, broker):
    topic = unique("cli-group")
    group = unique("g")
    cli.ok(runnel_bin, "topic", "create", topic, "-p", "2", brokers=broker.bootstrap)
    cli.ok(runnel_bin, "produce", topic, stdin="".join(f"v{i}\n" for i in range(10)), brokers=broker.bootstrap)
    first = cli.ok(runnel_bin, "consume", topic, "-g", group, "-n", "4", brokers=broker.bootstrap).stdout.splitlines()
    assert len(first) == 4
    rest = cli.ok(runnel_bin, "consume", topic, "-g", group, "-e", brokers=broker.bootstrap).stdout.splitlines()
    assert sorted(first + rest) == sorted(f"v{i}" for i in range(10))
    assert group in [g["groupId"] for g in cli.json_out(runnel_bin, "group", "list", brokers=broker.bootstrap)]
    report = cli.json_out(runnel_bin, "group", "describe", group, brokers=broker.bootstrap)
    assert report["totalLag"] == 0
    assert sum(o["committedOffset"] for o in report["offsets"]) == 10
    seek = cli.json_out(runnel_bin, "group", "seek", group, "--topic", topic, "--to-earliest", brokers=broker.bootstrap)
    assert {o["offset"] for o in seek} == {0}
    report = cli.json_out(runnel_bin, "group", "describe", group, brokers=broker.bootstrap)
    assert report["totalLag"] == 10
    cli.ok(runnel_bin, "group", "seek", group, "--topic", topic, "--to-latest", brokers=broker.bootstrap)
    assert cli.json_out(runnel_bin, "group", "describe", group, brokers=broker.bootstrap)["totalLag"] == 0
    cli.ok(runnel_bin, "group", "delete", group, brokers=broker.bootstrap)
    assert group not in [g["groupId"] for g in cli.json_out(runnel_bin, "group", "list", brokers=broker.bootstrap)]


def test_group_seek_needs_exactly_one_target(runnel_bin, broker):
    res = cli.run(runnel_bin, "group", "seek", "g", "--to-earliest", "--to-latest", brokers=broker.bootstrap)
    assert res.returncode != 0 and "exactly one" in res.stderr


def test_log_dump_prints_batches_and_verifies_crcs(runnel_bin, broker):
    topic = unique("cli-dump")
    cli.ok(runnel_bin, "topic", "create", topic, "-p", "1", brokers=broker.bootstrap)
    cli.ok(runnel_bin, "produce", topic, "-k", ":", stdin="a:1\nb:2\nc:3\n", brokers=broker.bootstrap)
    segments = sorted(Path(broker.data_dir).glob(f"{topic}-0/*.log"))
    assert segments, list(Path(broker.data_dir).iterdir())
    report = cli.json_out(runnel_bin, "log", "dump", str(segments[0]), "--records")
    assert report["problems"] == []
    records = [r for b in report["batches"] for r in b["records"]]
    assert [(r["key"], r["value"]) for r in records] == [("a", "1"), ("b", "2"), ("c", "3")]
    assert all(b["crcValid"] for b in report["batches"])
    assert report["batches"][0]["producerId"] >= 0  # idempotent by default


def test_log_dump_reports_a_corrupt_batch(runnel_bin, tmp_path, broker):
    topic = unique("cli-corrupt")
    cli.ok(runnel_bin, "topic", "create", topic, "-p", "1", brokers=broker.bootstrap)
    cli.ok(runnel_bin, "produce", topic, stdin="hello world\n", brokers=broker.bootstrap)
    [segment] = sorted(Path(broker.data_dir).glob(f"{topic}-0/*.log"))[:1]
    data = bytearray(segment.read_bytes())
    # The batch ends at 12 + its length field; on the direct write path zero padding follows it.
    end = 12 + int.from_bytes(data[8:12], "big")
    data[end - 3] ^= 0xFF
    copy = tmp_path / "00000000000000000000.log"
    copy.write_bytes(bytes(data))
    res = cli.run(runnel_bin, "log", "dump", str(copy))
    assert res.returncode == 1
    assert "fails its CRC" in res.stderr


def test_perf_produce_and_consume_json(runnel_bin, broker):
    topic = unique("cli-perf")
    cli.ok(runnel_bin, "topic", "create", topic, "-p", "2", brokers=broker.bootstrap)
    res = cli.ok(runnel_bin, "perf", "produce", topic, "--num-records", "20000", "--record-size", "100", "--json",
                 brokers=broker.bootstrap, timeout=120)
    summary = json.loads(res.stdout)
    assert summary["records"] == 20000 and summary["errors"] == 0
    assert summary["recordsPerSecond"] > 0 and summary["latencyP99Ms"] >= summary["latencyP50Ms"] > 0
    res = cli.ok(runnel_bin, "perf", "consume", topic, "--num-records", "20000", "--json",
                 brokers=broker.bootstrap, timeout=120)
    assert json.loads(res.stdout)["records"] == 20000
