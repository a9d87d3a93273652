"""Incremental cooperative rebalancing (KIP-429) between `runnel consume --group --assignor
cooperative-sticky` and a Java consumer using CooperativeStickyAssignor, in one group over a 6-partition
topic: they share the partitions (the existing member gives up only the partitions that move, never all),
and when one leaves, the other takes every partition. Every offset is consumed by someone: no record lost.
Run once with the Java member first (Java leads the group; runnel leaves) and once with runnel first
(runnel's assignor leads; Java leaves)."""
from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

import cli_support as cli
from conftest import unique
from runnel_interop import java as java_support

pytestmark = pytest.mark.needs_broker

PARTITIONS = 6
PER_BATCH = 300

# A group member with CooperativeStickyAssignor: prints rebalance callbacks as JSON lines on stdout,
# appends "partition:offset" per record to the output file, commits after every poll and for revoked
# partitions, and leaves the group when the stop file appears.
GROUP_CONSUMER = r"""
import java.io.*;
import java.nio.file.*;
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public final class CoopGroupConsumer {
    static void event(String kind, Collection<TopicPartition> parts) {
        StringBuilder sb = new StringBuilder("{\"event\":\"" + kind + "\",\"partitions\":[");
        List<Integer> ids = new ArrayList<>();
        for (TopicPartition tp : parts) ids.add(tp.partition());
        Collections.sort(ids);
        for (int i = 0; i < ids.size(); i++) sb.append(i == 0 ? "" : ",").append(ids.get(i));
        System.out.println(sb.append("]}"));
        System.out.flush();
    }

    public static void main(String[] a) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", a[0]);
        p.put("group.id", a[2]);
        p.put("partition.assignment.strategy", CooperativeStickyAssignor.class.getName());
        p.put("enable.auto.commit", "false");
        p.put("auto.offset.reset", "earliest");
        p.put("heartbeat.interval.ms", "500");
        p.put("session.timeout.ms", "10000");
        p.put("max.poll.records", "100");
        Path stop = Paths.get(a[4]);
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
             BufferedWriter out = Files.newBufferedWriter(Paths.get(a[3]))) {
            c.subscribe(List.of(a[1]), new ConsumerRebalanceListener() {
                public void onPartitionsRevoked(Collection<TopicPartition> parts) {
                    event("revoked", parts);
                    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                    for (TopicPartition tp : parts) offsets.put(tp, new OffsetAndMetadata(c.position(tp)));
                    try {
                        if (!offsets.isEmpty()) c.commitSync(offsets);
                    } catch (RebalanceInProgressException | CommitFailedException e) { }
                }
                public void onPartitionsAssigned(Collection<TopicPartition> parts) { event("assigned", parts); }
                public void onPartitionsLost(Collection<TopicPartition> parts) { event("lost", parts); }
            });
            while (!Files.exists(stop)) {
                ConsumerRecords<byte[], byte[]> recs = c.poll(Duration.ofMillis(200));
                for (ConsumerRecord<byte[], byte[]> r : recs) out.write(r.partition() + ":" + r.offset() + "\n");
                out.flush();
                // During a rebalance commits are refused; positions are committed on revocation anyway.
                if (!recs.isEmpty()) {
                    try { c.commitSync(); } catch (RebalanceInProgressException | CommitFailedException e) { }
                }
                event("owned", c.assignment());
            }
            try { c.commitSync(); } catch (RebalanceInProgressException | CommitFailedException e) { }
        }
        System.out.println("{\"event\":\"closed\",\"partitions\":[]}");
    }
}
"""


class JavaMember:
    def __init__(self, workdir: Path, bootstrap: str, topic: str, group: str):
        src = workdir / "CoopGroupConsumer.java"
        src.write_text(GROUP_CONSUMER)
        classpath = java_support.classpath_jars()
        subprocess.run(["javac", "-d", str(workdir), "-cp", classpath, str(src)], check=True,
                       capture_output=True, timeout=300)
        self.out = workdir / "java-records.txt"
        self.stop_file = workdir / "stop"
        self.events: list[dict] = []
        self.proc = subprocess.Popen(
            ["java", *java_support.JVM_FLAGS, "-cp", f"{workdir}:{classpath}", "CoopGroupConsumer",
             bootstrap, topic, group, str(self.out), str(self.stop_file)],
            stdout=subprocess.PIPE, stderr=open(workdir / "java-stderr.txt", "w"), text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.events.append(json.loads(line))
            except ValueError:
                pass

    def owned(self) -> set[int]:
        owned = [e for e in list(self.events) if e["event"] == "owned"]
        return set(owned[-1]["partitions"]) if owned else set()

    def revocations(self) -> list[list[int]]:
        return [e["partitions"] for e in list(self.events) if e["event"] in ("revoked", "lost") and e["partitions"]]

    def records(self) -> set[tuple[int, int]]:
        if not self.out.exists():
            return set()
        return {tuple(map(int, line.split(":"))) for line in self.out.read_text().splitlines() if ":" in line}

    def leave(self):
        self.stop_file.write_text("")
        assert self.proc.wait(timeout=60) == 0, (self.out.parent / "java-stderr.txt").read_text()[-3000:]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class RunnelMember:
    def __init__(self, runnel_bin: str, bootstrap: str, topic: str, group: str):
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [runnel_bin, "consume", topic, "--group", group, "--assignor", "cooperative-sticky",
             "-f", "%p:%o\\n", "--brokers", bootstrap],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.strip())

    def records(self) -> set[tuple[int, int]]:
        return {tuple(map(int, line.split(":"))) for line in list(self.lines) if ":" in line}

    def leave(self):
        self.proc.send_signal(signal.SIGINT)
        assert self.proc.wait(timeout=60) == 0, self.proc.stderr.read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def wait_for(what: str, condition, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def produce_batch(runnel_bin, broker, topic, batch: int):
    lines = "".join(f"k{batch}-{i}\tv{batch}-{i}\n" for i in range(PER_BATCH))
    cli.ok(runnel_bin, "produce", topic, "-k", "\t", stdin=lines, brokers=broker.bootstrap)


def end_offsets(runnel_bin, broker, topic) -> dict[int, int]:
    res = cli.ok(runnel_bin, "offsets", topic, "--format", "json", brokers=broker.bootstrap)
    return {int(r["partition"]): int(r["offset"]) for r in json.loads(res.stdout)}


def all_offsets(ends: dict[int, int]) -> set[tuple[int, int]]:
    return {(p, o) for p, end in ends.items() for o in range(end)}


@pytest.mark.parametrize("first", ["java", "runnel"])
def test_cooperative_group_shares_partitions_then_survivor_takes_all(runnel_bin, broker, java_classes, tmp_path,
                                                                     first):
    topic = unique("coop")
    group = unique("coop-group")
    cli.ok(runnel_bin, "topic", "create", topic, "-p", str(PARTITIONS), brokers=broker.bootstrap)
    produce_batch(runnel_bin, broker, topic, 1)
    members = []
    try:
        if first == "java":
            java = JavaMember(tmp_path, broker.bootstrap, topic, group)
            members.append(java)
            wait_for("java to own all partitions", lambda: java.owned() == set(range(PARTITIONS)))
            runnel = RunnelMember(runnel_bin, broker.bootstrap, topic, group)
            members.append(runnel)
        else:
            runnel = RunnelMember(runnel_bin, broker.bootstrap, topic, group)
            members.append(runnel)
            wait_for("runnel to read the first batch", lambda: len(runnel.records()) >= PER_BATCH)
            java = JavaMember(tmp_path, broker.bootstrap, topic, group)
            members.append(java)

        # Shared: Java ends with half of the partitions; runnel consumes the others.
        wait_for("java to own half of the partitions", lambda: len(java.owned()) == PARTITIONS // 2)
        produce_batch(runnel_bin, broker, topic, 2)
        ends = end_offsets(runnel_bin, broker, topic)
        wait_for("the second batch to be consumed",
                 lambda: all_offsets(ends) <= java.records() | runnel.records())
        runnel_partitions = {p for p, o in runnel.records() if o >= ends[p] - 50}
        assert runnel_partitions, "runnel consumed nothing of the second batch"
        if first == "java":
            # Cooperative: Java gave up only the partitions that moved, never everything at once.
            assert java.revocations(), java.events
            assert all(len(r) < PARTITIONS for r in java.revocations()), java.revocations()
            assert sum(len(r) for r in java.revocations()) == PARTITIONS // 2, [e for e in java.events if e["event"] != "owned"]

        # One leaves; the other takes every partition, and nothing is lost.
        if first == "java":
            runnel.leave()
            survivor_records = java.records
            wait_for("java to own all partitions again", lambda: java.owned() == set(range(PARTITIONS)))
        else:
            java.leave()
            survivor_records = runnel.records
        produce_batch(runnel_bin, broker, topic, 3)
        final_ends = end_offsets(runnel_bin, broker, topic)
        third = {(p, o) for p, o in all_offsets(final_ends) if o >= ends[p]}
        wait_for("the survivor to consume the third batch from every partition",
                 lambda: third <= survivor_records())
        assert {p for p, _ in third} == set(range(PARTITIONS))
        assert all_offsets(final_ends) <= java.records() | runnel.records()
    finally:
        for member in members:
            member.kill()
