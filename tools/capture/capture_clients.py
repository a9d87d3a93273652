#!/usr/bin/env python3
"""Captures golden request bytes from the four real clients in one go:

    .venv/bin/python tools/capture/capture_clients.py --runnel-bin .build/debug/runnel \
        --out Tests/KafkaProtocolTests/Fixtures/captured [--clients java,confluent,kafka-python,kcat] [--responses]

It starts `runnel broker` (through the interop harness) with advertised.listeners pointing at a
capture_proxy.py in front of it, so every connection of every client goes through the proxy;
each client uses its own client.id ("java", "confluent", "kafka-python", "kcat"), which names the
files: <client>-<ApiKeyName>-v<version>-<n>.bin. Each client runs a short scenario: metadata,
create a topic (with the client's admin API where the scenario has one, else by a helper whose
client.id is "interop-helper"), produce 10 keyed records with headers (uncompressed, then a codec),
consume them, and look up an offset by timestamp; the Java client, confluent-kafka and kafka-python then
consume the topic as the only member of a consumer group for a few seconds (FindCoordinator, JoinGroup,
SyncGroup, Heartbeat, OffsetCommit/OffsetFetch, LeaveGroup). Needs scripts/install-deps (venv, jars, kcat).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "InteropTests"))

from runnel_interop import clients, java  # noqa: E402
from runnel_interop.broker import BrokerProcess, free_port  # noqa: E402

TS = 1_700_000_000_000
COUNT = 10
# How long each client stays in its consumer group: several heartbeats at a 300 ms interval.
GROUP_SECONDS = 5


def scenario_java(bootstrap: str, work: Path) -> None:
    j = java.JavaClient(java.compile_client(), work / "java")
    base = {"bootstrap": bootstrap, "clientId": "java"}
    topic = "capture-java"
    j.run("admin", {**base, "ops": [{"op": "describeCluster"},
                                    {"op": "createTopics", "topics": [{"name": topic, "partitions": 1, "replicationFactor": 1}]},
                                    {"op": "describeConfigs", "topics": [topic]}]})
    for start, codec in ((0, "none"), (COUNT, "zstd")):
        j.run("produce", {**base, "topic": topic, "prefix": topic, "start": start, "count": COUNT,
                          "compression": codec, "partition": 0, "tsBase": TS})
    j.run("consume", {**base, "topic": topic, "out": str(work / "java-consumed.jsonl")})
    j.run("offsets-for-times", {**base, "topic": topic, "timestamps": [TS + 5]})
    stop = work / "java-group.stop"
    threading.Timer(GROUP_SECONDS, stop.touch).start()
    j.run("group-consume", {**base, "topics": [topic], "group": "capture-java-group", "out": str(work / "java-group.jsonl"),
                            "stopFile": str(stop), "heartbeatIntervalMs": 300, "timeoutMs": 60000})


def scenario_confluent(bootstrap: str, work: Path) -> None:
    topic = "capture-confluent"
    clients.create_topic(bootstrap, topic, 1, client_id="confluent")
    for start, codec in ((0, "none"), (COUNT, "lz4")):
        clients.confluent_produce(bootstrap, topic, topic, range(start, start + COUNT), compression=codec,
                                  ts_base=TS, config={"client.id": "confluent"})
    clients.confluent_consume(bootstrap, topic, config={"client.id": "confluent"})
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": bootstrap, "client.id": "confluent", "group.id": "capture-confluent-group",
                  "auto.offset.reset": "earliest", "heartbeat.interval.ms": 300, "enable.auto.commit": False})
    c.subscribe([topic])
    deadline = time.monotonic() + GROUP_SECONDS
    while time.monotonic() < deadline:
        if c.poll(0.2) is not None:
            c.commit(asynchronous=False)
    c.close()


def scenario_kafka_python(bootstrap: str, work: Path) -> None:
    from kafka import TopicPartition
    topic = "capture-kafka-python"
    clients.create_topic(bootstrap, topic, 1)
    for start, codec in ((0, "none"), (COUNT, "gzip")):
        clients.kafka_python_produce(bootstrap, topic, topic, range(start, start + COUNT), compression=codec,
                                     ts_base=TS, config={"client_id": "kafka-python"})
    clients.kafka_python_consume(bootstrap, topic, config={"client_id": "kafka-python"})
    c = clients.kafka_python_consumer(bootstrap, client_id="kafka-python")
    c.offsets_for_times({TopicPartition(topic, 0): TS + 5})
    c.close()
    from kafka import KafkaConsumer
    g = KafkaConsumer(bootstrap_servers=bootstrap, client_id="kafka-python", group_id="capture-kafka-python-group",
                      auto_offset_reset="earliest", heartbeat_interval_ms=300, enable_auto_commit=False)
    g.subscribe([topic])
    deadline = time.monotonic() + GROUP_SECONDS
    while time.monotonic() < deadline:
        if g.poll(timeout_ms=200):
            g.commit()
    g.close()


def scenario_kcat(bootstrap: str, work: Path) -> None:
    topic = "capture-kcat"
    clients.create_topic(bootstrap, topic, 1)
    clients.KCAT_EXTRA[:] = ["-X", "client.id=kcat"]
    clients.kcat_metadata("kcat", bootstrap)
    for start, codec in ((0, "none"), (COUNT, "snappy")):
        clients.kcat_produce("kcat", bootstrap, topic, topic, range(start, start + COUNT), compression=codec)
    clients.kcat_consume("kcat", bootstrap, topic)


SCENARIOS = {"java": scenario_java, "confluent": scenario_confluent,
             "kafka-python": scenario_kafka_python, "kcat": scenario_kcat}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="capture golden request bytes from real clients")
    ap.add_argument("--runnel-bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--clients", default=",".join(SCENARIOS))
    ap.add_argument("--responses", action="store_true")
    a = ap.parse_args(argv)
    out = Path(a.out).resolve()
    work = Path(tempfile.mkdtemp(prefix="runnel-capture-"))
    proxy_port = free_port()
    broker = BrokerProcess(a.runnel_bin, work / "broker",
                           configs={"advertised.listeners": f"PLAINTEXT://127.0.0.1:{proxy_port}"})
    broker.start()
    proxy = subprocess.Popen([sys.executable, str(Path(__file__).with_name("capture_proxy.py")),
                              "--upstream", broker.bootstrap, "--listen-port", str(proxy_port),
                              "--out", str(out), "--client", "auto"] + (["--responses"] if a.responses else []),
                             stdout=subprocess.PIPE, text=True)
    try:
        line = proxy.stdout.readline()
        if not line.startswith("LISTENING"):
            raise SystemExit(f"capture proxy did not start: {line!r}")
        bootstrap = f"127.0.0.1:{proxy_port}"
        for name in a.clients.split(","):
            t0 = time.monotonic()
            SCENARIOS[name](bootstrap, work)
            print(f"capture: {name} done in {time.monotonic() - t0:.1f}s", flush=True)
    finally:
        proxy.terminate()
        proxy.wait(10)
        broker.stop()
    files = sorted(p.name for p in out.glob("*.bin"))
    print(f"capture: {len(files)} files in {out}")
    for f in files:
        print("  " + f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
