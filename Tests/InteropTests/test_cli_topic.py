"""`runnel topic`, `runnel cluster info` and `runnel offsets` end to end against a real broker:
happy paths with tables and JSON parsed back, and the main errors (unknown topic, bad config key,
bad key=value, broker down, bad timestamp) as one-line errors with exit codes 1 and 2."""
from __future__ import annotations

import pytest

import cli_support as cli
from conftest import unique

pytestmark = pytest.mark.needs_broker


def test_create_list_describe_and_delete(runnel_bin, broker):
    name = unique("cli-topic")
    res = cli.ok(runnel_bin, "topic", "create", name, "-p", "3", "-r", "1", "-c", "retention.ms=3600000",
                 brokers=broker.bootstrap)
    assert name in res.stdout and "CREATED" in res.stdout
    listed = cli.json_out(runnel_bin, "topic", "list", brokers=broker.bootstrap)
    assert {"name": name, "partitions": 3, "replicas": 1, "internal": False} in listed
    assert name in cli.ok(runnel_bin, "topic", "list", brokers=broker.bootstrap).stdout
    [described] = cli.json_out(runnel_bin, "topic", "describe", name, brokers=broker.bootstrap)
    assert described["name"] == name
    assert [p["partition"] for p in described["partitions"]] == [0, 1, 2]
    assert all(p["leader"] >= 0 and p["isr"] == p["replicas"] for p in described["partitions"])
    assert {c["name"]: c["value"] for c in described["configs"]}.get("retention.ms") == "3600000"
    cli.ok(runnel_bin, "topic", "delete", name, brokers=broker.bootstrap)
    assert name not in [t["name"] for t in cli.json_out(runnel_bin, "topic", "list", brokers=broker.bootstrap)]


def test_create_existing_topic_fails_unless_if_not_exists(runnel_bin, broker):
    name = unique("cli-dup")
    cli.ok(runnel_bin, "topic", "create", name, brokers=broker.bootstrap)
    res = cli.run(runnel_bin, "topic", "create", name, brokers=broker.bootstrap)
    cli.assert_one_line_error(res, 1, "TOPIC_ALREADY_EXISTS", "hint")
    cli.ok(runnel_bin, "topic", "create", name, "--if-not-exists", brokers=broker.bootstrap)


def test_alter_config_and_add_partitions(runnel_bin, broker):
    name = unique("cli-alter")
    cli.ok(runnel_bin, "topic", "create", name, "-p", "1", brokers=broker.bootstrap)
    cli.ok(runnel_bin, "topic", "alter-config", name, "-c", "retention.ms=1234567", brokers=broker.bootstrap)
    [described] = cli.json_out(runnel_bin, "topic", "describe", name, brokers=broker.bootstrap)
    assert {c["name"]: c["value"] for c in described["configs"]}["retention.ms"] == "1234567"
    cli.ok(runnel_bin, "topic", "alter-config", name, "--delete", "retention.ms", brokers=broker.bootstrap)
    [described] = cli.json_out(runnel_bin, "topic", "describe", name, brokers=broker.bootstrap)
    assert "retention.ms" not in {c["name"] for c in described["configs"]}
    cli.ok(runnel_bin, "topic", "add-partitions", name, "-p", "4", brokers=broker.bootstrap)
    [described] = cli.json_out(runnel_bin, "topic", "describe", name, brokers=broker.bootstrap)
    assert len(described["partitions"]) == 4


def test_unknown_topic_is_one_line_error_with_hint(runnel_bin, broker):
    res = cli.run(runnel_bin, "topic", "describe", unique("nope"), brokers=broker.bootstrap)
    cli.assert_one_line_error(res, 1, "unknown topic", "runnel topic list")
    res = cli.run(runnel_bin, "topic", "delete", unique("nope"), brokers=broker.bootstrap)
    cli.assert_one_line_error(res, 1, "unknown topic")
    cli.ok(runnel_bin, "topic", "delete", unique("nope"), "--if-exists", brokers=broker.bootstrap)


def test_bad_config_key_is_rejected_by_the_broker(runnel_bin, broker):
    res = cli.run(runnel_bin, "topic", "create", unique("cli-badcfg"), "-c", "no.such.config=1",
                  brokers=broker.bootstrap)
    cli.assert_one_line_error(res, 1, "INVALID_CONFIG")


def test_malformed_config_pair_is_a_usage_error(runnel_bin, broker):
    res = cli.run(runnel_bin, "topic", "create", unique("cli-badpair"), "-c", "retention.ms",
                  brokers=broker.bootstrap)
    cli.assert_one_line_error(res, 2, "key=value")


def test_broker_down_is_one_line_error(runnel_bin):
    res = cli.run(runnel_bin, "topic", "list", brokers="127.0.0.1:1", timeout=30)
    cli.assert_one_line_error(res, 1, "cannot connect to 127.0.0.1:1", "is a broker running")


def test_brokers_default_from_environment(runnel_bin, broker):
    res = cli.run(runnel_bin, "cluster", "info", "--format", "json", env={"RUNNEL_BROKERS": broker.bootstrap})
    assert res.returncode == 0, res.stderr


def test_cluster_info(runnel_bin, broker):
    info = cli.json_out(runnel_bin, "cluster", "info", brokers=broker.bootstrap)
    assert len(info["brokers"]) == 1
    [node] = info["brokers"]
    assert node["host"] == "127.0.0.1" and node["port"] == broker.port
    assert info["controllerId"] == node["nodeId"]
    text = cli.ok(runnel_bin, "cluster", "info", brokers=broker.bootstrap).stdout
    assert f"127.0.0.1" in text and str(broker.port) in text


def test_offsets_latest_earliest_and_at_time(runnel_bin, broker):
    name = unique("cli-offsets")
    cli.ok(runnel_bin, "topic", "create", name, "-p", "1", brokers=broker.bootstrap)
    for ts in ("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"):
        cli.ok(runnel_bin, "produce", name, "--timestamp", ts, stdin="x\n", brokers=broker.bootstrap)
    [latest] = cli.json_out(runnel_bin, "offsets", name, brokers=broker.bootstrap)
    assert latest["offset"] == 3
    [earliest] = cli.json_out(runnel_bin, "offsets", name, "--at", "earliest", brokers=broker.bootstrap)
    assert earliest["offset"] == 0
    [at] = cli.json_out(runnel_bin, "offsets", name, "--at", "2026-01-01T00:30:00Z", brokers=broker.bootstrap)
    assert at["offset"] == 1 and at["timestamp"] == 1767229200000
    [none] = cli.json_out(runnel_bin, "offsets", name, "--at", "2030-01-01T00:00:00Z", brokers=broker.bootstrap)
    assert none["offset"] == -1


def test_bad_timestamp_is_a_usage_error(runnel_bin, broker):
    res = cli.run(runnel_bin, "offsets", "whatever", "--at", "yesterday-ish", brokers=broker.bootstrap)
    cli.assert_one_line_error(res, 2, "yesterday-ish")


def test_every_subcommand_has_help_with_examples(runnel_bin):
    for path in (["topic", "create"], ["topic", "list"], ["topic", "describe"], ["topic", "alter-config"],
                 ["topic", "add-partitions"], ["topic", "delete"], ["produce"], ["consume"], ["group", "list"],
                 ["group", "describe"], ["group", "seek"], ["group", "delete"], ["offsets"], ["perf", "produce"],
                 ["perf", "consume"], ["log", "dump"], ["cluster", "info"]):
        res = cli.run(runnel_bin, *path, "--help")
        assert res.returncode == 0, (path, res.stderr)
        assert "EXAMPLES:" in res.stdout, path
