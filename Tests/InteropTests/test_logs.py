"""Broker logs (issue 14 item 3): `log.format = json` writes one JSON object per line; the version and
the configuration are logged once at start; request traffic adds no INFO lines (no per-request INFO on
the hot paths)."""
from __future__ import annotations

import json
import re
import time

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as CkTopicPartition

import cli_support as cli
from conftest import unique
from runnel_interop import clients

pytestmark = pytest.mark.needs_broker

VERSION = re.compile(r"^\d+\.\d+\.\d+")


def log_lines(b) -> list[str]:
    return [l for l in b.log_path.read_text().splitlines() if l.strip()]


def wait_for_line(b, needle: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not any(needle in l for l in log_lines(b)):
        assert time.monotonic() < deadline, f"no log line with {needle!r}:\n" + "\n".join(log_lines(b)[-20:])
        time.sleep(0.05)


def test_json_format_one_object_per_line_with_version_and_config(runnel_bin, fresh_broker):
    b = fresh_broker({"log.format": "json", "num.partitions": 2})
    topic = unique("logs-json")
    clients.create_topic(b.bootstrap, topic, partitions=1)
    wait_for_line(b, topic)
    events = [json.loads(l) for l in log_lines(b)]  # every line is one JSON object
    for e in events:
        assert {"time", "level", "logger", "message"} <= e.keys(), e
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", e["time"]), e
    starting = [e for e in events if e["message"] == "runnel starting"]
    assert len(starting) == 1 and VERSION.match(starting[0]["version"]), starting
    config = [e for e in events if e["message"] == "configuration"]
    assert len(config) == 1, config
    assert config[0]["log.format"] == "json" and config[0]["num.partitions"] == "2"
    assert config[0]["log.dirs"] == str(b.data_dir)
    assert int(config[0]["settings_at_default"]) > 50
    created = [e for e in events if e["message"] == "created topic" and e.get("topic") == topic]
    assert len(created) == 1 and created[0]["level"] == "info" and created[0]["partitions"] == "1"


def test_text_format_logs_version_and_config_once(runnel_bin, fresh_broker):
    b = fresh_broker()
    lines = log_lines(b)
    starting = [l for l in lines if " info runnel.broker: runnel starting " in l]
    assert len(starting) == 1 and re.search(r"version=\d+\.\d+\.\d+", starting[0]), lines[:3]
    config = [l for l in lines if " info runnel.broker: configuration " in l]
    assert len(config) == 1 and f"log.dirs={b.data_dir}" in config[0] and "settings_at_default=" in config[0]
    version = cli.ok(runnel_bin, "--version").stdout.strip()
    assert version in starting[0]


def test_request_traffic_adds_no_info_lines(runnel_bin, fresh_broker):
    b = fresh_broker()
    topic = unique("logs-quiet")
    clients.create_topic(b.bootstrap, topic, partitions=2)
    wait_for_line(b, topic)
    before = len(log_lines(b))
    records = 300
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "acks": "all"})
    for i in range(records):
        p.produce(topic, value=f"v{i}".encode(), partition=i % 2)
        assert p.flush(10) == 0  # one Produce request per record
    group = unique("logs-group")
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group, "enable.auto.commit": False,
                  "fetch.wait.max.ms": 10})
    try:
        c.assign([CkTopicPartition(topic, 0, 0), CkTopicPartition(topic, 1, 0)])
        got = 0
        deadline = time.monotonic() + 60
        while got < records:
            assert time.monotonic() < deadline, got
            for m in c.consume(num_messages=100, timeout=0.5):
                assert not m.error(), m.error()
                got += 1
                c.commit(message=m, asynchronous=False)  # one OffsetCommit per record
    finally:
        c.close()
    added = log_lines(b)[before:]
    info = [l for l in added if " info " in l]
    # hundreds of Produce, Fetch and OffsetCommit requests: at most a handful of event lines
    assert len(info) <= 5, "\n".join(info[:20])
