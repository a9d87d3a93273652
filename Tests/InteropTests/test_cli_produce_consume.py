"""`runnel produce` and `runnel consume` end to end: keys, headers, partitions, timestamps, positions,
templates and JSON parsed back, exit-at-end and counts, failures per record; and interop with the Java
client (same key, same partition; records written by one read by the other) and kcat."""
from __future__ import annotations

import json
import subprocess

import pytest

import cli_support as cli
from conftest import unique

pytestmark = pytest.mark.needs_broker


def make_topic(runnel_bin, broker, partitions=1, prefix="cli-pc") -> str:
    name = unique(prefix)
    cli.ok(runnel_bin, "topic", "create", name, "-p", str(partitions), brokers=broker.bootstrap)
    return name


def consume_json(runnel_bin, broker, topic, *extra) -> list[dict]:
    res = cli.ok(runnel_bin, "consume", topic, "-e", "-f", "json", *extra, brokers=broker.bootstrap)
    return cli.json_lines(res.stdout)


def test_produce_lines_with_keys_and_headers_then_consume_json(runnel_bin, broker):
    topic = make_topic(runnel_bin, broker, partitions=3)
    lines = [f"key{i}:value {i}" for i in range(20)] + ["nokeyline", ""]
    res = cli.ok(runnel_bin, "produce", topic, "-k", ":", "-H", "source=test", "-H", "n=1",
                 stdin="\n".join(lines) + "\n", brokers=broker.bootstrap)
    assert "produced 22 record(s)" in res.stderr
    records = consume_json(runnel_bin, broker, topic)
    assert len(records) == 22
    by_key = {r["key"]: r for r in records}
    assert by_key["key7"]["value"] == "value 7"
    assert by_key[None]["value"] in ("nokeyline", "")
    assert all(r["headers"] == [{"key": "source", "value": "test"}, {"key": "n", "value": "1"}] for r in records)
    for r in records:
        assert r["topic"] == topic and 0 <= r["partition"] < 3 and r["timestampType"] == "CreateTime"


def test_same_key_same_partition_as_java_client(runnel_bin, broker, java):
    topic = make_topic(runnel_bin, broker, partitions=6, prefix="cli-murmur")
    prefix = unique("k")
    result = java.run("produce", {"bootstrap": broker.bootstrap, "topic": topic, "count": 60, "prefix": prefix})
    assert result["acked"] == 60
    java_partition = {f"{prefix}-{i:07d}": ack[0] for i, ack in enumerate(result["acks"])}
    lines = "".join(f"{key}\tfrom-runnel\n" for key in java_partition)
    cli.ok(runnel_bin, "produce", topic, "-k", "\t", stdin=lines, brokers=broker.bootstrap)
    records = consume_json(runnel_bin, broker, topic)
    ours = {r["key"]: r["partition"] for r in records if r["value"] == "from-runnel"}
    assert ours == java_partition
    assert len(set(ours.values())) > 1


def test_java_consumer_reads_what_runnel_produced(runnel_bin, broker, java, tmp_path):
    topic = make_topic(runnel_bin, broker, partitions=2, prefix="cli-tojava")
    cli.ok(runnel_bin, "produce", topic, "-z", "lz4", stdin="".join(f"v{i}\n" for i in range(100)),
           brokers=broker.bootstrap)
    out = tmp_path / "java-consumed.jsonl"
    result = java.run("consume", {"bootstrap": broker.bootstrap, "topic": topic, "out": str(out), "expected": 100})
    assert result["count"] == 100
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["v"] for line in lines) == sorted(f"v{i}" for i in range(100))
    assert all(line["k"] is None and line["tt"] == "CreateTime" for line in lines)


def test_runnel_consumer_reads_what_java_produced_with_compression(runnel_bin, broker, java):
    topic = make_topic(runnel_bin, broker, partitions=1, prefix="cli-fromjava")
    prefix = unique("j")
    for codec in ("gzip", "snappy", "zstd"):
        java.run("produce", {"bootstrap": broker.bootstrap, "topic": topic, "count": 10, "prefix": prefix,
                             "compression": codec, "start": {"gzip": 0, "snappy": 10, "zstd": 20}[codec]})
    records = consume_json(runnel_bin, broker, topic)
    assert [r["key"] for r in records] == [f"{prefix}-{i:07d}" for i in range(30)]
    assert all(r["value"].startswith(f"{prefix}:value:") for r in records)


def test_kcat_reads_runnel_records(runnel_bin, broker, kcat_bin):
    topic = make_topic(runnel_bin, broker, prefix="cli-kcat")
    cli.ok(runnel_bin, "produce", topic, "-k", "=", stdin="a=1\nb=2\n", brokers=broker.bootstrap)
    res = subprocess.run([kcat_bin, "-b", broker.bootstrap, "-C", "-t", topic, "-e", "-f", "%k=%s\n"],
                         capture_output=True, text=True, timeout=60)
    assert res.stdout.splitlines() == ["a=1", "b=2"]


def test_from_offset_count_and_template(runnel_bin, broker):
    topic = make_topic(runnel_bin, broker)
    cli.ok(runnel_bin, "produce", topic, "-k", ",", stdin="".join(f"k{i},v{i}\n" for i in range(10)),
           brokers=broker.bootstrap)
    res = cli.ok(runnel_bin, "consume", topic, "--from", "4", "-n", "3", "-f", "%t|%p|%o|%k|%s|%S\\n",
                 brokers=broker.bootstrap)
    assert res.stdout.splitlines() == [f"{topic}|0|{o}|k{o}|v{o}|2" for o in (4, 5, 6)]
    res = cli.ok(runnel_bin, "consume", topic, "--from", "-2", "-e", brokers=broker.bootstrap)
    assert res.stdout.splitlines() == ["v8", "v9"]


def test_from_timestamp_iso_and_relative(runnel_bin, broker):
    topic = make_topic(runnel_bin, broker)
    cli.ok(runnel_bin, "produce", topic, "--timestamp", "2020-01-01T00:00:00Z", stdin="old\n", brokers=broker.bootstrap)
    cli.ok(runnel_bin, "produce", topic, stdin="new\n", brokers=broker.bootstrap)
    assert cli.ok(runnel_bin, "consume", topic, "--from", "-1h", "-e", brokers=broker.bootstrap).stdout == "new\n"
    res = cli.ok(runnel_bin, "consume", topic, "--from", "2019-12-31T00:00:00Z", "-e", brokers=broker.bootstrap)
    assert res.stdout == "old\nnew\n"
    [first] = consume_json(runnel_bin, broker, topic, "-n", "1")
    assert first["timestamp"] == 1577836800000


def test_explicit_partition_and_acks_and_compression(runnel_bin, broker):
    topic = make_topic(runnel_bin, broker, partitions=3)
    for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
        cli.ok(runnel_bin, "produce", topic, "-p", "2", "-z", codec, stdin=f"{codec}\n", brokers=broker.bootstrap)
    cli.ok(runnel_bin, "produce", topic, "-p", "2", "--acks", "1", "--no-idempotence", stdin="acks1\n",
           brokers=broker.bootstrap)
    records = consume_json(runnel_bin, broker, topic, "-p", "2")
    assert [r["value"] for r in records] == ["none", "gzip", "snappy", "lz4", "zstd", "acks1"]


def test_produce_reports_each_failed_record_and_exits_1(runnel_bin, broker):
    topic = make_topic(runnel_bin, broker)
    huge = "x" * (2 * 1024 * 1024)
    res = cli.run(runnel_bin, "produce", topic, "--format", "json", stdin=f"small\n{huge}\nsmall2\n",
                  brokers=broker.bootstrap)
    assert res.returncode == 1, res.stderr
    summary = json.loads(res.stdout)
    assert summary["delivered"] == 2 and summary["failed"] == 1
    assert summary["failures"][0]["record"] == "stdin:2"
    assert "record stdin:2 failed" in res.stderr


def test_produce_to_unknown_topic_and_bad_partition(runnel_bin, broker):
    # (a valid missing name is auto-created as by Kafka's console producer: test_cli_habits.py)
    res = cli.run(runnel_bin, "produce", unique("bad name!"), stdin="x\n", brokers=broker.bootstrap)
    cli.assert_one_line_error(res, 1, "INVALID_TOPIC_EXCEPTION")
    topic = make_topic(runnel_bin, broker)
    res = cli.run(runnel_bin, "produce", topic, "-p", "7", stdin="x\n", brokers=broker.bootstrap)
    cli.assert_one_line_error(res, 1, "UNKNOWN_TOPIC_OR_PARTITION")


def test_consume_usage_errors(runnel_bin, broker):
    topic = make_topic(runnel_bin, broker)
    cli.assert_one_line_error(cli.run(runnel_bin, "consume", topic, "--from", "last tuesday", "-e",
                                      brokers=broker.bootstrap), 2, "last tuesday")
    cli.assert_one_line_error(cli.run(runnel_bin, "consume", topic, "-f", "%q", "-e", brokers=broker.bootstrap),
                              2, "%q")
    cli.assert_one_line_error(cli.run(runnel_bin, "consume", unique("missing"), "-e", brokers=broker.bootstrap),
                              1, "unknown topic")


def test_read_committed_isolation_flag_accepted(runnel_bin, broker):
    topic = make_topic(runnel_bin, broker)
    cli.ok(runnel_bin, "produce", topic, stdin="a\nb\n", brokers=broker.bootstrap)
    res = cli.ok(runnel_bin, "consume", topic, "-e", "--isolation", "read_committed", brokers=broker.bootstrap)
    assert res.stdout == "a\nb\n"
