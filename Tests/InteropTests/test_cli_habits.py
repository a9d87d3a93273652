"""CLI habits users bring from rpk, kcat and Kafka's tools (issue 14 item 4): global options before
the subcommand, `runnel produce` to a missing topic following the broker's auto.create.topics.enable,
and request metrics labelled by API name."""
from __future__ import annotations

import pytest

import cli_support as cli
from conftest import unique
from runnel_interop import metrics

pytestmark = pytest.mark.needs_broker


def test_global_options_before_the_subcommand(runnel_bin, broker):
    topic = unique("habits-before")
    cli.ok(runnel_bin, "-b", broker.bootstrap, "topic", "create", topic, "-p", "2")
    listed = cli.json_out(runnel_bin, "--brokers", broker.bootstrap, "--timeout", "10000", "topic", "list")
    assert topic in [t["name"] for t in listed]
    # --opt=value form, and options between the two words of a subcommand
    described = cli.ok(runnel_bin, f"--brokers={broker.bootstrap}", "--format", "json", "topic", "describe", topic)
    assert topic in described.stdout
    between = cli.ok(runnel_bin, "topic", "-b", broker.bootstrap, "list")
    assert topic in between.stdout
    # a wrong address given first is used (not silently replaced by the default)
    res = cli.run(runnel_bin, "-b", "127.0.0.1:1", "--timeout", "2000", "topic", "list")
    cli.assert_one_line_error(res, 1, "127.0.0.1:1")


def test_produce_to_a_missing_topic_auto_creates_it_and_says_so(runnel_bin, broker):
    topic = unique("habits-auto")
    res = cli.ok(runnel_bin, "-b", broker.bootstrap, "produce", topic, stdin="a\nb\nc\n")
    assert f"created topic '{topic}' with 1 partition(s)" in res.stderr
    assert "produced 3 record(s)" in res.stderr
    out = cli.ok(runnel_bin, "consume", topic, "-e", "-f", "json", brokers=broker.bootstrap)
    assert [r["value"] for r in cli.json_lines(out.stdout)] == ["a", "b", "c"]
    # a second produce to the now existing topic says nothing about creating it
    again = cli.ok(runnel_bin, "produce", topic, stdin="d\n", brokers=broker.bootstrap)
    assert "created topic" not in again.stderr


def test_produce_to_a_missing_topic_is_refused_when_auto_create_is_off(runnel_bin, fresh_broker):
    b = fresh_broker({"auto.create.topics.enable": False})
    topic = unique("habits-noauto")
    res = cli.run(runnel_bin, "produce", topic, stdin="a\n", brokers=b.bootstrap)
    cli.assert_one_line_error(res, 1, topic, "auto.create.topics.enable=false")
    listed = cli.json_out(runnel_bin, "topic", "list", brokers=b.bootstrap)
    assert topic not in [t["name"] for t in listed]


def test_request_metrics_are_labelled_by_api_name_and_version(runnel_bin, fresh_broker):
    b = fresh_broker(metrics.metrics_configs())
    topic = unique("habits-metrics")
    cli.ok(runnel_bin, "produce", topic, stdin="x\n", brokers=b.bootstrap)
    samples = metrics.scrape(b)
    produce = [(labels, v) for labels, v in samples.all("runnel_requests_total") if labels.get("api") == "Produce"]
    assert produce and all(labels["version"].isdigit() for labels, _ in produce), produce
    assert sum(v for _, v in produce) >= 1
    assert samples.total("runnel_requests_total", api="Metadata") >= 1
    assert samples.value("runnel_request_latency_seconds_count", api="Produce") >= 1
    assert not [l for l, _ in samples.all("runnel_requests_total") if "api_key" in l]
