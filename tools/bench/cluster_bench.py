#!/usr/bin/env python3
"""Cluster mode against this machine's own limits, measured in the same run (issue 12's numbers):

- produce of 1 KiB records, acks=all, to 3 nodes with RF=3 and min.insync.replicas=2, as a ratio to
  the same produce against a single node (target >= 0.50), with librdkafka's default (no idempotence)
  and again with enable.idempotence=true (librdkafka's idempotent producer sends one request per partition at a time);
- failover: from kill -9 of a partition's leader to the first produce acknowledged by the new leader,
  p50/p99 over --kills kills (target: p99 <= etcd.lease.ttl.ms + 1 s);
- follower catch-up: a follower restarted after --catchup-mib MiB were written without it, bytes per
  second until it is back in the ISR, as a ratio to single-stream loopback TCP (iperf3; target >= 0.50);
- etcd writes (put + delete + txn, from etcd's own /metrics) per produced MiB during the produce run
  (target: 0 - metadata changes only on membership or ISR changes);
- with --parts disk: the disk's ceiling for the produce ratio: fio's synced O_DIRECT writes (1 MiB writes,
  an fdatasync per 6 MiB, what a broker's write round and group commit do) from three streams at once
  against one stream, median of 3 each; RF=3 writes every byte three times to this one disk, so the
  ratio cannot exceed (three streams / one stream) / 3 while the disk holds the single node;
- with --parts reference: the machine's ceiling for the catch-up's work without a broker
  (tools/bench/catchup_reference.c: sendfile of 1 MiB answers from the page cache over loopback,
  CRC-32C, a copy into aligned buffers, O_DIRECT writes with an fdatasync per 8 MiB), median of 3.

All nodes and etcd share this machine's cores and disk: the ratios are what one machine gives three.

    .venv/bin/python tools/bench/cluster_bench.py --runnel .build/release/runnel --json out.json
"""
import argparse
import datetime
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_bench import (Broker, build_driver, cpu_seconds, fio_direct_bytes_per_s, iperf3_loopback_bytes_per_s,  # noqa: E402
                       minor_faults, percentile, run_driver)

from confluent_kafka import KafkaError, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

LEASE_TTL_MS = 3000


def cpu_times() -> list[int]:
    """The machine's CPU time counters (user, nice, system, idle, iowait, irq, softirq, steal) from /proc/stat."""
    with open("/proc/stat") as stat:
        return [int(v) for v in stat.readline().split()[1:9]]


def machine_shares(before: list[int], after: list[int]) -> dict:
    """Busy and iowait shares of the machine's CPU time between two `cpu_times()` reads: a run held by
    CPU shows the machine busy, one held by the disk shows it idle or in iowait."""
    delta = [b - a for a, b in zip(before, after)]
    total = sum(delta) or 1
    return {"busy": (total - delta[3] - delta[4]) / total, "iowait": delta[4] / total}


def free_base(count: int, avoid: range | None = None) -> int:
    """A base port with `count` consecutive free loopback ports below the ephemeral range."""
    for _ in range(200):
        base = random.randint(20000, 30000)
        ports = range(base, base + count)
        if avoid and set(ports) & set(avoid):
            continue
        try:
            for p in ports:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
    raise RuntimeError("no free ports")


class LocalCluster:
    """`runnel local-cluster` with its cluster.json; nodes killed and restarted from their command lines."""

    def __init__(self, binary: str, workdir: str, nodes: int = 3, overrides: list[str] | None = None,
                 extra_args: list[str] | None = None):
        port = free_base(nodes)
        etcd_port = free_base(2, avoid=range(port, port + nodes))
        self.dir = Path(workdir)
        self.log = open(self.dir / "local-cluster.log", "w")
        self.proc = subprocess.Popen(
            [binary, "local-cluster", "--nodes", str(nodes), "--dir", str(self.dir), "--port", str(port),
             "--etcd-port", str(etcd_port), "--broker-override", f"etcd.lease.ttl.ms={LEASE_TTL_MS}",
             "--broker-override", "replica.lag.time.max.ms=5000",
             *[arg for o in overrides or [] for arg in ("--broker-override", o)], *(extra_args or [])],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.restarted: list[subprocess.Popen] = []
        deadline = time.time() + 90
        while time.time() < deadline:
            if (self.dir / "cluster.json").exists() and "are running" in (self.dir / "local-cluster.log").read_text():
                break
            if self.proc.poll() is not None:
                raise RuntimeError("local-cluster exited: " + (self.dir / "local-cluster.log").read_text()[-2000:])
            time.sleep(0.2)
        else:
            raise RuntimeError("local-cluster did not start")
        self.info = json.loads((self.dir / "cluster.json").read_text())
        self.bootstrap = ",".join(f"127.0.0.1:{n['port']}" for n in self.info["nodes"])
        self.etcd = self.info["etcd"]["endpoint"]

    def node(self, node_id: int) -> dict:
        return next(n for n in self.info["nodes"] if n["id"] == node_id)

    def kill(self, node_id: int):
        os.kill(self.node(node_id)["pid"], signal.SIGKILL)

    def restart(self, node_id: int):
        node = self.node(node_id)
        log = open(self.dir / f"node-{node_id}" / "restarted.log", "a")
        proc = subprocess.Popen(node["command"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        node["pid"] = proc.pid
        self.restarted.append(proc)

    def catchup_transfer_seconds(self, follower: int, leader: int) -> float | None:
        """Seconds from the restarted follower's first "follower connected to leader" log line to the
        leader's "ISR changed" line that names it as caught up; None if either is missing."""
        def stamp(line: str) -> float:
            return datetime.datetime.fromisoformat(line.split()[0].replace("Z", "+00:00")).timestamp()
        restarted = (self.dir / f"node-{follower}" / "restarted.log").read_text(errors="replace").splitlines()
        connected = [stamp(line) for line in restarted if "follower connected to leader" in line]
        leader_log = Path(self.node(leader).get("log") or self.dir / f"node-{leader}" / "broker.log")
        joined = [stamp(line) for line in leader_log.read_text(errors="replace").splitlines()
                  if "ISR changed" in line and f"replica {follower} caught up" in line]
        if not connected or not joined or joined[-1] <= connected[0]:
            return None
        return joined[-1] - connected[0]

    def partition(self, topic: str, index: int):
        md = AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(topic, timeout=10)
        p = md.topics[topic].partitions[index]
        return p.leader, list(p.isrs), list(p.replicas)

    def wait_isr(self, topic: str, index: int, size: int, timeout: float = 120) -> float:
        start = time.time()
        while time.time() - start < timeout:
            try:
                leader, isr, _ = self.partition(topic, index)
                if leader >= 0 and len(isr) >= size:
                    return time.time() - start
            except Exception:  # noqa: BLE001 - a node is down while we poll
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{topic}-{index}: ISR not back to {size} within {timeout}s")

    def etcd_writes(self) -> float:
        text = urllib.request.urlopen(self.etcd + "/metrics", timeout=5).read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(("etcd_mvcc_put_total", "etcd_mvcc_delete_total", "etcd_mvcc_txn_total")):
                total += float(line.split()[-1])
        return total

    def stop(self):
        for proc in self.restarted:
            if proc.poll() is None:
                proc.terminate()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        for proc in self.restarted:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.log.close()


def create(bootstrap: str, name: str, partitions: int, rf: int, configs: dict | None = None):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, partitions, rf, config=configs or {})]).values():
        future.result(timeout=30)


def failover_ms(cluster: LocalCluster, topic: str) -> float:
    """Kills partition 0's leader while a producer sends one record at a time to it; returns the time from
    the kill to the first acknowledgement after it, then restarts the node and waits for the full ISR."""
    leader, _, _ = cluster.partition(topic, 0)
    producer = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all", "enable.idempotence": True,
                         "linger.ms": 0, "retry.backoff.ms": 20, "retry.backoff.max.ms": 100,
                         "topic.metadata.refresh.interval.ms": 100, "log_level": 0})
    acks: list[float] = []

    def on_delivery(err, _msg):
        if err is None:
            acks.append(time.time())

    for i in range(20):  # warm: connections and metadata in place
        producer.produce(topic, value=b"w", partition=0, on_delivery=on_delivery)
    producer.flush(30)
    killed_at = time.time()
    cluster.kill(leader)
    deadline = killed_at + 60
    while time.time() < deadline:
        producer.produce(topic, value=b"x", partition=0, on_delivery=on_delivery)
        producer.poll(0.01)
        if acks and acks[-1] > killed_at:
            break
    producer.flush(30)
    after = [t for t in acks if t > killed_at]
    if not after:
        raise RuntimeError("no acknowledgement after the leader was killed")
    cluster.restart(leader)
    cluster.wait_isr(topic, 0, 3)
    return (after[0] - killed_at) * 1000


def start_perf(path: str | None, event: str | None = None) -> subprocess.Popen | None:
    """A system-wide `perf record -g` into `path` (None: no profile), given half a second to start:
    CPU samples at 999 Hz, or every occurrence of `event` (e.g. minor-faults)."""
    if not path:
        return None
    sampling = ["-e", event] if event else ["-F", "999"]
    perf = subprocess.Popen(["perf", "record", "-a", "-g", *sampling, "-o", path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return perf


def stop_perf(perf: subprocess.Popen | None):
    if perf:
        perf.send_signal(signal.SIGINT)
        perf.wait(timeout=60)


def catchup_reference(work: str, mib: int, runs: int = 3) -> list[dict]:
    """tools/bench/catchup_reference.c over a file of `mib` MiB of random bytes: what this machine allows
    for a catch-up's work with no broker at all."""
    root = Path(__file__).resolve().parents[2]
    binary = root / ".build" / "catchup_reference"
    binary.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cc", "-O2", "-msse4.2", "-pthread", "-o", str(binary),
                    str(root / "tools/bench/catchup_reference.c")], check=True)
    source = Path(work) / "catchup-reference.src"
    with open(source, "wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(mib):
            f.write(block)
    results = []
    for _ in range(runs):
        out = subprocess.run([str(binary), "--source", str(source), "--target-dir", work],
                             capture_output=True, text=True, timeout=600, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    source.unlink()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runnel", required=True)
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--value-size", type=int, default=1024)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--catchup-mib", type=int, default=1024)
    parser.add_argument("--parts", default="produce,failover,catchup",
                        help="comma-separated subset of produce,failover,catchup,reference to run")
    parser.add_argument("--json", help="write results here")
    parser.add_argument("--broker-override", action="append", default=[], metavar="KEY=VALUE",
                        help="a broker setting for every node of the clusters (repeatable)")
    parser.add_argument("--warm-leader", action="store_true",
                        help="read the leader's catch-up segment files into the page cache before the follower restarts")
    parser.add_argument("--perf-catchup", metavar="FILE",
                        help="record a system-wide `perf record -g` of the catch-up into FILE")
    parser.add_argument("--perf-event", metavar="EVENT",
                        help="with --perf-catchup / --perf-produce: record every EVENT (e.g. minor-faults) instead "
                             "of CPU samples")
    parser.add_argument("--client-nice", type=int, default=0, metavar="N",
                        help="run the produce client at this nice level in both the single-node and the RF=3 runs")
    parser.add_argument("--producers", default="plain,idempotent",
                        help="producer configurations of the produce part: plain (acks=all, enable.idempotence=false: "
                             "librdkafka's default) and/or idempotent (enable.idempotence=true)")
    parser.add_argument("--perf-produce", metavar="FILE",
                        help="record a system-wide `perf record -g` of the last RF=3 produce run into FILE")
    args = parser.parse_args()

    driver, version = build_driver()
    results: dict = {"librdkafka": version, "records": args.records, "value_size": args.value_size,
                     "lease_ttl_ms": LEASE_TTL_MS}
    results["loopback_tcp_MBps"] = iperf3_loopback_bytes_per_s() / 1e6
    client = ["nice", "-n", str(args.client_nice), driver] if args.client_nice else [driver]
    results["client_nice"] = args.client_nice
    # The producer configurations measured: acks=all without idempotence (librdkafka's default; the
    # driver turns idempotence on for acks=all unless told otherwise), and with idempotence on.
    # librdkafka's idempotent producer keeps one request in flight per partition (it caps requests at 5
    # minus the *messages* in flight, rd_kafka_toppar_producer_serve) and busy-polls meanwhile, so that
    # figure is bound by one request's round trip through the ISR (docs/benchmarks.md).
    producers = {"plain": ["-X", "enable.idempotence=false"], "idempotent": ["-X", "enable.idempotence=true"]}
    chosen = [p for p in args.producers.split(",") if p]
    for name in chosen:
        if name not in producers:
            parser.error(f"--producers: unknown {name!r} (plain, idempotent)")
    base_args = ["-n", str(args.records), "-s", str(args.value_size), "-a", "all"]
    single: dict[str, list[float]] = {p: [] for p in chosen}
    clustered: dict[str, list[float]] = {p: [] for p in chosen}
    shares: dict[str, dict[str, list[dict]]] = {m: {p: [] for p in chosen} for m in ("single", "cluster")}
    etcd_per_mib: list[float] = []
    with tempfile.TemporaryDirectory(prefix="runnel-cluster-bench-", dir=os.environ.get("BENCH_DIR", "/tmp")) as work:
        parts = set(args.parts.split(","))
        for round_index in range(args.rounds if "produce" in parts else 0):
            # Alternate which goes first: the page cache and the disk remember the previous run.
            order = chosen if round_index % 2 == 0 else list(reversed(chosen))
            for mode in (("single", "cluster") if round_index % 2 == 0 else ("cluster", "single")):
                if mode == "single":
                    broker = Broker(args.runnel, tempfile.mkdtemp(dir=work))
                    try:
                        for name in order:
                            create(broker.bootstrap, f"bench-{name}", args.partitions, 1)
                            times = cpu_times()
                            single[name].append(run_driver(*client, "produce", "-b", broker.bootstrap, "-t",
                                                           f"bench-{name}", *base_args, *producers[name])["MBps"])
                            shares["single"][name].append(machine_shares(times, cpu_times()))
                    finally:
                        broker.stop()
                else:
                    cluster = LocalCluster(args.runnel, tempfile.mkdtemp(dir=work), overrides=args.broker_override)
                    try:
                        for name in order:
                            create(cluster.bootstrap, f"bench-{name}", args.partitions, 3, {"min.insync.replicas": "2"})
                            before = cluster.etcd_writes()
                            perf = start_perf(args.perf_produce, args.perf_event)
                            times = cpu_times()
                            result = run_driver(*client, "produce", "-b", cluster.bootstrap, "-t", f"bench-{name}",
                                                *base_args, *producers[name])
                            shares["cluster"][name].append(machine_shares(times, cpu_times()))
                            stop_perf(perf)
                            writes = cluster.etcd_writes() - before
                            clustered[name].append(result["MBps"])
                            etcd_per_mib.append(writes / (args.records * args.value_size / (1 << 20)))
                    finally:
                        cluster.stop()
        if "produce" in parts:
            for name in chosen:
                # The plain producer's keys keep the names earlier results used.
                prefix = "produce" if name == "plain" else f"produce_{name}"
                results[f"{prefix}_single_runs_MBps"] = single[name]
                results[f"{prefix}_cluster_rf3_runs_MBps"] = clustered[name]
                results[f"{prefix}_single_MBps"] = statistics.median(single[name])
                results[f"{prefix}_cluster_rf3_MBps"] = statistics.median(clustered[name])
                results[f"{prefix}_ratio_cluster_to_single"] = (results[f"{prefix}_cluster_rf3_MBps"]
                                                                / results[f"{prefix}_single_MBps"])
                # What held each run: the machine's busy and iowait shares while it ran.
                results[f"{prefix}_single_machine_shares"] = shares["single"][name]
                results[f"{prefix}_cluster_rf3_machine_shares"] = shares["cluster"][name]
            results["etcd_writes_per_produced_MiB"] = max(etcd_per_mib)

        if "disk" in parts:
            one, three = [], []
            # Each stream writes 600 MiB in 1 MiB writes with an fdatasync per 6 MiB (a broker's write round
            # and group commit), to a file of its own.
            for _ in range(3):
                one.append(fio_direct_bytes_per_s(work, size_mb=600, sync_every=6, streams=1) / 1e6)
                three.append(fio_direct_bytes_per_s(work, size_mb=600, sync_every=6, streams=3) / 1e6)
            results["disk_synced_one_stream_MBps"] = one
            results["disk_synced_three_streams_MBps"] = three
            gain = statistics.median(three) / statistics.median(one)
            results["disk_three_streams_over_one"] = gain
            results["produce_ratio_disk_ceiling"] = gain / 3

        if "reference" in parts:
            results["catchup_reference"] = catchup_reference(work, args.catchup_mib)
            results["catchup_reference_MBps"] = statistics.median(r["MBps"] for r in results["catchup_reference"])
            results["catchup_reference_ratio_to_loopback"] = (results["catchup_reference_MBps"]
                                                             / results["loopback_tcp_MBps"])
        cluster = LocalCluster(args.runnel, tempfile.mkdtemp(dir=work), overrides=args.broker_override)
        try:
            if "failover" in parts:
                create(cluster.bootstrap, "failover", 1, 3, {"min.insync.replicas": "2"})
                kills = [failover_ms(cluster, "failover") for _ in range(args.kills)]
                results["failover_ms"] = {"p50": percentile(kills, 0.5), "p99": percentile(kills, 0.99),
                                          "max": max(kills), "kills": len(kills)}
                results["failover_target_ms"] = LEASE_TTL_MS + 1000

            if "catchup" in parts:
                # Catch-up: node 3 down while --catchup-mib MiB go to an RF=3 partition it follows.
                create(cluster.bootstrap, "catchup", 1, 3, {"min.insync.replicas": "2"})
                leader, _, replicas = cluster.partition("catchup", 0)
                follower = next(r for r in replicas if r != leader)
                cluster.kill(follower)
                count = args.catchup_mib * (1 << 20) // args.value_size
                run_driver(driver, "produce", "-b", cluster.bootstrap, "-t", "catchup", "-n", str(count),
                           "-s", str(args.value_size), "-a", "1")
                # The follower must have left the ISR before it comes back (replica.lag.time.max.ms=5000).
                deadline = time.time() + 60
                while follower in cluster.partition("catchup", 0)[1] and time.time() < deadline:
                    time.sleep(0.2)
                isr_before = cluster.partition("catchup", 0)[1]
                if follower in isr_before:
                    raise RuntimeError(f"follower {follower} still in the ISR {isr_before} after 60 s down")
                perf = start_perf(args.perf_catchup, args.perf_event)  # before the follower starts
                if args.warm_leader:
                    for path in Path(cluster.node(leader)["data_dir"]).glob("catchup-0/*.log"):
                        with open(path, "rb") as f:
                            while f.read(1 << 24):
                                pass
                leader_cpu = cpu_seconds(cluster.node(leader)["pid"])
                cluster.restart(follower)
                seconds = cluster.wait_isr("catchup", 0, 3, timeout=600)
                # CPU of the two brokers per GiB caught up: the leader's during the catch-up, the
                # restarted follower's all (its start is a small part) — less sensitive to the machine's
                # other load than the seconds.
                cpu = (cpu_seconds(cluster.node(leader)["pid"]) - leader_cpu
                       + cpu_seconds(cluster.node(follower)["pid"]))
                results["catchup_cpu_s_per_GiB"] = cpu / (count * args.value_size / (1 << 30))
                # First touches of fresh memory by the restarted follower (its start included), per GiB.
                results["catchup_follower_minor_faults_per_GiB"] = (
                    minor_faults(cluster.node(follower)["pid"]) / (count * args.value_size / (1 << 30)))
                stop_perf(perf)
                results["catchup_isr_before_restart"] = isr_before
                bytes_caught_up = count * (args.value_size + 70)
                results["catchup_MBps"] = bytes_caught_up / seconds / 1e6
                results["catchup_ratio_to_loopback"] = results["catchup_MBps"] / results["loopback_tcp_MBps"]
                results["catchup_seconds"] = seconds
                # The same catch-up without the process start: from the follower's first connection to its
                # leader to the leader's ISR change that took it back, both from the brokers' own logs
                # (one clock).
                transfer = cluster.catchup_transfer_seconds(follower, leader)
                if transfer:
                    results["catchup_transfer_seconds"] = transfer
                    results["catchup_transfer_MBps"] = bytes_caught_up / transfer / 1e6
                    results["catchup_transfer_ratio_to_loopback"] = (results["catchup_transfer_MBps"]
                                                                     / results["loopback_tcp_MBps"])
        finally:
            cluster.stop()
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
