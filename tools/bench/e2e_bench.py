#!/usr/bin/env python3
"""End-to-end throughput of a Runnel broker, as ratios to this machine's own limits measured in the
same run: single-stream loopback TCP (iperf3) and sequential write with an fdatasync per MiB (fio).

A third-party client drives the broker: librdkafka's C API through tools/bench/rdkafka_perf.c (compiled
here against the librdkafka bundled with the confluent-kafka wheel), so no interpreter sits in the
loop. 1 KiB records, acks=all, the broker's durable default; produce is measured with librdkafka's
defaults (pipelined requests) and with enable.idempotence=true (librdkafka then sends a partition's next request only once the previous
one is answered, as debug=protocol shows). Consume is measured with librdkafka and with tools/bench/raw_fetch.py, a
Fetch loop without per-record work that shows what the broker itself serves. Reports the median of
several rounds (the machine is noisy).

    .venv/bin/python tools/bench/e2e_bench.py --runnel .build-release/release/runnel --rounds 3

With --io-modes direct,buffered it instead compares the broker's `log.io.mode`s on the same binary:
durable produce (librdkafka, acks=all) on 1 and 6 partitions, the modes alternating round by round,
broker CPU-seconds per GB from /proc/PID/stat around each produce, the load average, and fio's
O_DIRECT + fdatasync-per-MiB (and O_DIRECT + O_DSYNC) reference between rounds.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parent))
from device_tail import device_tail  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def iperf3_loopback_bytes_per_s(seconds: int = 3) -> float:
    port = free_port()
    server = subprocess.Popen(["iperf3", "-s", "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        # Retry the client until the server listens (a probe connection would count as a test).
        deadline = time.time() + 10
        while True:
            out = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds), "-J"],
                                 capture_output=True, text=True, timeout=seconds + 20)
            result = json.loads(out.stdout or "{}")
            if "sum_received" in result.get("end", {}):
                return result["end"]["sum_received"]["bits_per_second"] / 8
            if time.time() > deadline:
                raise RuntimeError(f"iperf3 failed: {out.stdout[-500:]} {out.stderr[-500:]}")
            time.sleep(0.2)
    finally:
        server.kill()
        server.wait()


def fio_seq_write_fdatasync_bytes_per_s(directory: str, size_mb: int = 512) -> float:
    out = subprocess.run(
        ["fio", "--name=seqwrite", f"--directory={directory}", "--rw=write", "--bs=1M", f"--size={size_mb}M",
         "--fdatasync=1", "--ioengine=psync", "--output-format=json"],
        capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout)["jobs"][0]["write"]["bw_bytes"]


def fio_direct_bytes_per_s(directory: str, size_mb: int = 512, bs: str = "1M", dsync: bool = False,
                           sync_every: int = 1, streams: int = 1) -> float:
    """O_DIRECT sequential writes of `bs`, an fdatasync after every `sync_every` of them (or each written
    O_DSYNC); `streams` jobs at once, each to a file of its own (their total bytes/s)."""
    sync = ["--sync=dsync"] if dsync else [f"--fdatasync={sync_every}"]
    out = subprocess.run(
        ["fio", "--name=directwrite", f"--directory={directory}", "--rw=write", f"--bs={bs}", f"--size={size_mb}M",
         "--direct=1", *sync, "--ioengine=psync", f"--numjobs={streams}", "--group_reporting",
         "--output-format=json"],
        capture_output=True, text=True, timeout=600, check=True)
    for name in Path(directory).glob("directwrite*"):
        remove_gently(name)
    return json.loads(out.stdout)["jobs"][0]["write"]["bw_bytes"]


def remove_gently(path: Path, chunk: int = 16 << 20, pause_s: float = 0.01) -> None:
    """Removes a large file the way the broker removes deleted segments (FileReclaimer): unlinked, then
    truncated away a chunk at a time, so that freeing (on a `discard` mount, discarding) it in one
    journal transaction does not stall the fsyncs of the broker measured next (docs/storage.md)."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.unlink(path)
        info = os.fstat(fd)
        # Blocks preallocated past the end (a segment's fallocate) count too: grown over first, as the broker does.
        size = max(info.st_size, info.st_blocks * 512)
        if size > info.st_size:
            os.ftruncate(fd, size)
        while size > 0:
            size = max(0, size - chunk)
            os.ftruncate(fd, size)
            time.sleep(pause_s)
    finally:
        os.close(fd)


def wait_for_port(port: int, what: str, timeout: float = 30) -> None:
    """Polls until something accepts connections on 127.0.0.1:`port`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def minor_faults(pid: int) -> int:
    """Minor page faults of a process (first touches of fresh memory) from /proc/PID/stat."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[7])


class Broker:
    def __init__(self, binary: str, workdir: str, overrides: tuple[str, ...] = (), metrics: bool = False):
        self.port = free_port()
        self.workdir = workdir
        # The metrics endpoint only when asked for (the broker-side latency histogram of the p99 runs).
        self.metrics_port = free_port() if metrics else None
        self.log = open(os.path.join(workdir, "broker.log"), "w")
        extra = [arg for override in overrides for arg in ("--override", override)]
        listener = f"127.0.0.1:{self.metrics_port}" if self.metrics_port else ""
        self.proc = subprocess.Popen(
            [binary, "broker", "--override", f"listeners=PLAINTEXT://127.0.0.1:{self.port}",
             "--override", f"log.dirs={workdir}/data", "--override", f"metrics.listener={listener}", *extra,
             "--log-level", "warning"], stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, "broker")
        if self.metrics_port:
            wait_for_port(self.metrics_port, "metrics endpoint")

    def latency_histograms(self) -> dict[str, dict[float, float]]:
        """Two of the broker's own histograms from /metrics, as cumulative counts by upper bound in
        seconds: "produce", its Produce requests from arrival to answer
        (runnel_request_latency_seconds{api="Produce"}), "fdatasync", the log dir's syncs
        (runnel_storage_sync_seconds{kind="fdatasync"}), and "write", its write stage's writes
        (runnel_storage_write_seconds)."""
        import urllib.request
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).read().decode()
        counts: dict[str, dict[float, float]] = {"produce": {}, "fdatasync": {}, "write": {}}
        for line in text.splitlines():
            if line.startswith("runnel_request_latency_seconds_bucket") and 'api="Produce"' in line:
                which = counts["produce"]
            elif line.startswith("runnel_storage_sync_seconds_bucket") and 'kind="fdatasync"' in line:
                which = counts["fdatasync"]
            elif line.startswith("runnel_storage_write_seconds_bucket"):
                which = counts["write"]
            else:
                continue
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            le = float("inf") if bound == "+Inf" else float(bound)
            which[le] = which.get(le, 0) + float(line.rsplit(" ", 1)[1])
        return counts

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def peak_rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)
        self.log.close()


def create_topic(bootstrap: str, name: str, partitions: int):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        future.result(timeout=30)


ROOT = Path(__file__).resolve().parents[2]


def build_driver() -> tuple[str, str]:
    """Compiles tools/bench/rdkafka_perf.c against the newest librdkafka here: the one bundled in the
    confluent-kafka wheel when present (2.x current), else Debian's. Returns (path, librdkafka version)."""
    import confluent_kafka
    out = ROOT / ".build" / "rdkafka_perf"
    out.parent.mkdir(parents=True, exist_ok=True)
    libs = sorted(Path(confluent_kafka.__file__).parent.parent.glob("confluent_kafka.libs/librdkafka*.so*"))
    link = [str(libs[0]), f"-Wl,-rpath,{libs[0].parent}"] if libs else ["-lrdkafka"]
    subprocess.run(["cc", "-O2", "-o", str(out), str(ROOT / "tools/bench/rdkafka_perf.c"), *link], check=True)
    return str(out), confluent_kafka.libversion()[0] if libs else "system"


def run_driver(driver: str, *args: str) -> dict:
    out = subprocess.run([driver, *args], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"rdkafka_perf {' '.join(args)} failed: {out.stderr.strip()[-800:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# The half-rate latency run lasts this long: a p99 over records needs many requests (at ~1 ms per
# request, 100,000 records at 390,000/s were ~250 requests, so the p99 was the run's two or three
# slowest requests, its first ones among them).
LATENCY_RUN_SECONDS = 5


def latency_records(rate: float) -> int:
    """Records for a latency run at `rate` records/s: LATENCY_RUN_SECONDS of them, at least 100,000."""
    return max(100_000, int(rate * LATENCY_RUN_SECONDS))


def broker_latency(before: dict[str, dict[float, float]], after: dict[str, dict[float, float]]) -> dict:
    """What the broker itself took for the Produce requests between two histogram reads: the share
    answered within 2.5 and 5 ms of arrival, and the smallest bucket bound holding 99 % of them (the
    client's per-record p99 adds its own batching, sending and scheduling to this); and the shares of
    the log dir's fdatasyncs and writes that took more than 5 ms (the disk's part of a slow request)."""
    def delta(name: str) -> tuple[dict[float, float], float]:
        d = {le: after[name].get(le, 0) - before[name].get(le, 0) for le in after[name]}
        return d, d.get(float("inf"), 0)
    produce, total = delta("produce")
    if total <= 0:
        nan = float("nan")
        return {"requests": 0, "within_2_5_ms": nan, "within_5_ms": nan, "p99_bound_ms": nan, "fdatasyncs": 0,
                "fdatasyncs_over_5_ms": nan, "writes_over_5_ms": nan}
    bounds = sorted(le for le in produce if le != float("inf"))
    p99 = next((le for le in bounds if produce[le] >= 0.99 * total), float("inf"))
    syncs, sync_total = delta("fdatasync")
    writes, write_total = delta("write")
    return {"requests": int(total), "within_2_5_ms": produce.get(0.0025, 0) / total,
            "within_5_ms": produce.get(0.005, 0) / total, "p99_bound_ms": p99 * 1000,
            "fdatasyncs": int(sync_total),
            "fdatasyncs_over_5_ms": (sync_total - syncs.get(0.005, 0)) / sync_total if sync_total else 0.0,
            "writes_over_5_ms": (write_total - writes.get(0.005, 0)) / write_total if write_total else 0.0}


def half_rate_latency(driver: str, broker: "Broker", topic: str, partitions: int, value_size: int,
                      full_rate: float) -> tuple[dict, dict]:
    """A LATENCY_RUN_SECONDS produce at half of `full_rate` records/s (acks=all, no idempotence) to a new
    topic: the client's figures and, from the broker's histograms around it, its own share
    (`broker_latency`)."""
    create_topic(broker.bootstrap, topic, partitions)
    before = broker.latency_histograms()
    paced = produce(driver, broker.bootstrap, topic, latency_records(full_rate / 2), value_size,
                    idempotent=False, rate=full_rate / 2)
    own = broker_latency(before, broker.latency_histograms())
    # The device's own p99 at the same pace, with no broker (the broker idle meanwhile): what any durable
    # broker's figure is built on (tools/bench/device_tail.py).
    try:
        own["device_p99_ms"] = device_tail(broker.workdir, paced["MBps"] * 1e6, LATENCY_RUN_SECONDS,
                                           remove=remove_gently)["latency_ms"]["p99"]
    except OSError as error:  # no O_DIRECT there (tmpfs)
        print(f"device_tail: {error}", file=sys.stderr)
        own["device_p99_ms"] = float("nan")
    return paced, own


def produce(driver: str, bootstrap: str, topic: str, count: int, value_size: int, idempotent: bool,
            rate: float | None = None) -> dict:
    args = ["produce", "-b", bootstrap, "-t", topic, "-n", str(count), "-s", str(value_size), "-a", "all",
            "-X", f"enable.idempotence={'true' if idempotent else 'false'}"]
    if rate:
        # Latency run: linger.ms=1, so the figure is the request's time through the broker rather
        # than librdkafka's batching delay (its default linger is 5 ms).
        args += ["-r", str(rate), "-X", "linger.ms=1"]
    return run_driver(driver, *args)


def raw_fetch(bootstrap: str, topic: str, partitions: int, count: int, value_size: int) -> dict:
    out = subprocess.run([sys.executable, str(ROOT / "tools/bench/raw_fetch.py"), "--bootstrap", bootstrap,
                          "--topic", topic, "--partitions", str(partitions), "--count", str(count),
                          "--value-size", str(value_size)], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"raw_fetch failed: {out.stderr.strip()[-800:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def consume(driver: str, bootstrap: str, topic: str, partitions: int, count: int) -> dict:
    return run_driver(driver, "consume", "-b", bootstrap, "-t", topic, "-p", str(partitions), "-n", str(count))


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runnel", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--value-size", type=int, default=1024)
    parser.add_argument("--json", help="write results here")
    parser.add_argument("--io-modes", help="compare these log.io.mode values (e.g. direct,buffered) instead")
    parser.add_argument("--tail-consume", action="store_true",
                        help="with --io-modes: also produce with a consumer reading at the tail (broker CPU of both)")
    parser.add_argument("--warm-mb", type=int, default=0,
                        help="with --io-modes: produce this many MB to another topic of each fresh broker before "
                             "measuring, so the figures are a running broker's (the direct path's tail cache and "
                             "the allocator's arenas already faulted in) rather than its first minutes'")
    parser.add_argument("--io-modes-full", action="store_true",
                        help="with --io-modes: also consume from the beginning and produce at half rate (p99)")
    args = parser.parse_args()
    if args.io_modes:
        return compare_io_modes(args)

    results = {"rounds": args.rounds, "records": args.records, "value_size": args.value_size}
    with tempfile.TemporaryDirectory(prefix="runnel-bench-", dir=os.environ.get("BENCH_DIR", "/tmp")) as work:
        loopback = [iperf3_loopback_bytes_per_s() for _ in range(args.rounds)]
        disk = [fio_seq_write_fdatasync_bytes_per_s(work) for _ in range(args.rounds)]
        results["loopback_tcp_MBps"] = statistics.median(loopback) / 1e6
        results["disk_seq_write_fdatasync_per_MiB_MBps"] = statistics.median(disk) / 1e6
        limit = min(results["loopback_tcp_MBps"], results["disk_seq_write_fdatasync_per_MiB_MBps"])

        driver, version = build_driver()
        results["driver"] = f"tools/bench/rdkafka_perf.c, librdkafka {version}"
        for partitions in (1, 6):
            rows: dict[str, list] = {k: [] for k in (
                "produce", "produce_idempotent", "consume", "consume_raw", "p99", "p50", "device_p99", "broker_p99_bound",
                "broker_within_5ms", "fdatasyncs_over_5ms", "writes_over_5ms", "rss_idle", "rss_load", "rss_peak")}
            for round_index in range(args.rounds):
                broker_dir = tempfile.mkdtemp(dir=work)
                broker = Broker(args.runnel, broker_dir, metrics=True)
                try:
                    rows["rss_idle"].append(broker.rss_bytes())
                    topic = f"bench-{partitions}-{round_index}"
                    create_topic(broker.bootstrap, topic, partitions)
                    plain = produce(driver, broker.bootstrap, topic, args.records, args.value_size, idempotent=False)
                    rows["produce"].append(plain["MBps"])
                    idem_topic = topic + "-idempotent"
                    create_topic(broker.bootstrap, idem_topic, partitions)
                    idem = produce(driver, broker.bootstrap, idem_topic, args.records, args.value_size, idempotent=True)
                    rows["produce_idempotent"].append(idem["MBps"])
                    rows["consume"].append(consume(driver, broker.bootstrap, topic, partitions, args.records)["MBps"])
                    rows["consume_raw"].append(
                        raw_fetch(broker.bootstrap, topic, partitions, args.records, args.value_size)["MBps"])
                    # Latency at half the measured maximum rate (librdkafka defaults: acks=all, no idempotence).
                    paced, own = half_rate_latency(driver, broker, topic + "-latency", partitions, args.value_size,
                                                   plain["records_per_s"])
                    rows["p99"].append(paced["latency_ms"]["p99"])
                    rows["p50"].append(paced["latency_ms"]["p50"])
                    rows["device_p99"].append(own["device_p99_ms"])
                    rows["broker_p99_bound"].append(own["p99_bound_ms"])
                    rows["broker_within_5ms"].append(own["within_5_ms"])
                    rows["fdatasyncs_over_5ms"].append(own["fdatasyncs_over_5_ms"])
                    rows["writes_over_5ms"].append(own["writes_over_5_ms"])
                    rows["rss_load"].append(broker.rss_bytes())
                    rows["rss_peak"].append(broker.peak_rss_bytes())
                finally:
                    broker.stop()
            med = {k: statistics.median(v) for k, v in rows.items()}
            results[f"partitions_{partitions}"] = {
                "produce_MBps": med["produce"],
                "produce_ratio_to_min_loopback_disk": med["produce"] / limit,
                "produce_idempotent_MBps": med["produce_idempotent"],
                "produce_idempotent_ratio": med["produce_idempotent"] / limit,
                "consume_MBps": med["consume"],
                "consume_ratio_to_loopback": med["consume"] / results["loopback_tcp_MBps"],
                "consume_raw_fetch_MBps": med["consume_raw"],
                "consume_raw_fetch_ratio_to_loopback": med["consume_raw"] / results["loopback_tcp_MBps"],
                "produce_p50_ms_at_half_rate": med["p50"],
                "produce_p99_ms_at_half_rate": med["p99"],
                "device_p99_ms_at_half_rate": med["device_p99"],
                "broker_produce_p99_bound_ms_at_half_rate": med["broker_p99_bound"],
                "broker_produce_share_within_5ms_at_half_rate": med["broker_within_5ms"],
                "fdatasync_share_over_5ms_at_half_rate": med["fdatasyncs_over_5ms"],
                "write_share_over_5ms_at_half_rate": med["writes_over_5ms"],
                "rss_idle_MB": med["rss_idle"] / 1e6,
                "rss_after_load_MB": med["rss_load"] / 1e6,
                "rss_peak_MB": med["rss_peak"] / 1e6,
                "rounds": {k: v for k, v in rows.items() if not k.startswith("rss")},
            }
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


def compare_io_modes(args):
    """Durable produce per log.io.mode, the modes alternating each round, with CPU per GB and fio."""
    modes = args.io_modes.split(",")
    results = {"rounds": args.rounds, "records": args.records, "value_size": args.value_size, "modes": modes,
               "warm_mb": args.warm_mb}
    with tempfile.TemporaryDirectory(prefix="runnel-bench-", dir=os.environ.get("BENCH_DIR", "/tmp")) as work:
        driver, version = build_driver()
        results["driver"] = f"tools/bench/rdkafka_perf.c, librdkafka {version}"
        fio = {"direct_fdatasync_per_MiB": [], "direct_dsync_1MiB": [], "direct_fdatasync_per_64KiB": [],
               "direct_dsync_64KiB": []}
        loads = []
        rows = {(mode, parts): {"MBps": [], "cpu_s_per_GB": [], "minor_faults_per_GB": [], "consume_MBps": [], "consume_cpu_s_per_GB": [],
                                "p99_ms_half_rate": [], "device_p99_ms_half_rate": [], "broker_p99_bound_ms_half_rate": [],
                                "broker_within_5ms_half_rate": [], "fdatasyncs_over_5ms_half_rate": [],
                                "writes_over_5ms_half_rate": [],
                                "tail_consume_MBps": [], "tail_consume_lag_s": [],
                                "tail_cpu_s_per_GB": []}
                for mode in modes for parts in (1, 6)}
        for round_index in range(args.rounds):
            fio["direct_fdatasync_per_MiB"].append(fio_direct_bytes_per_s(work, 256) / 1e6)
            fio["direct_dsync_1MiB"].append(fio_direct_bytes_per_s(work, 256, dsync=True) / 1e6)
            fio["direct_fdatasync_per_64KiB"].append(fio_direct_bytes_per_s(work, 128, bs="64k") / 1e6)
            fio["direct_dsync_64KiB"].append(fio_direct_bytes_per_s(work, 128, bs="64k", dsync=True) / 1e6)
            for partitions in (1, 6):
                order = modes if round_index % 2 == 0 else list(reversed(modes))
                for mode in order:
                    loads.append(os.getloadavg()[0])
                    broker_dir = tempfile.mkdtemp(dir=work)
                    # A mode may carry more overrides: "direct:log.cache.max.bytes=0".
                    io_mode, *more = mode.split(":")
                    broker = Broker(args.runnel, broker_dir, (f"log.io.mode={io_mode}", *more),
                                    metrics=args.io_modes_full)
                    try:
                        topic = f"bench-{len(loads)}-{partitions}-{round_index}"
                        if args.warm_mb:
                            create_topic(broker.bootstrap, topic + "-warm", partitions)
                            produce(driver, broker.bootstrap, topic + "-warm", args.warm_mb * 1_000_000 // args.value_size,
                                    args.value_size, idempotent=False)
                        create_topic(broker.bootstrap, topic, partitions)
                        before, faults = cpu_seconds(broker.proc.pid), minor_faults(broker.proc.pid)
                        plain = produce(driver, broker.bootstrap, topic, args.records, args.value_size, idempotent=False)
                        used = cpu_seconds(broker.proc.pid) - before
                        gigabytes = args.records * args.value_size / 1e9
                        rows[(mode, partitions)]["minor_faults_per_GB"].append(
                            (minor_faults(broker.proc.pid) - faults) / gigabytes)
                        rows[(mode, partitions)]["MBps"].append(plain["MBps"])
                        rows[(mode, partitions)]["cpu_s_per_GB"].append(used / gigabytes)
                        if args.io_modes_full:
                            # Consume from the beginning (what the direct path left on disk, not in the page
                            # cache), then produce latency at half the measured rate.
                            before = cpu_seconds(broker.proc.pid)
                            read = consume(driver, broker.bootstrap, topic, partitions, args.records)
                            rows[(mode, partitions)]["consume_MBps"].append(read["MBps"])
                            rows[(mode, partitions)]["consume_cpu_s_per_GB"].append(
                                (cpu_seconds(broker.proc.pid) - before) / gigabytes)
                            paced, own = half_rate_latency(driver, broker, topic + "-latency", partitions,
                                                           args.value_size, plain["records_per_s"])
                            row = rows[(mode, partitions)]
                            row["p99_ms_half_rate"].append(paced["latency_ms"]["p99"])
                            row["device_p99_ms_half_rate"].append(own["device_p99_ms"])
                            row["broker_p99_bound_ms_half_rate"].append(own["p99_bound_ms"])
                            row["broker_within_5ms_half_rate"].append(own["within_5_ms"])
                            row["fdatasyncs_over_5ms_half_rate"].append(own["fdatasyncs_over_5_ms"])
                            row["writes_over_5ms_half_rate"].append(own["writes_over_5_ms"])
                        if args.tail_consume:
                            # A consumer at the tail: it reads while the producer writes (what a tail
                            # cache serves). Its rate is bounded by the producer's; the lag is how long
                            # after the producer's last acknowledgement the consumer had everything.
                            tail_topic = topic + "-tail"
                            create_topic(broker.bootstrap, tail_topic, partitions)
                            before = cpu_seconds(broker.proc.pid)
                            reader = subprocess.Popen([driver, "consume", "-b", broker.bootstrap, "-t", tail_topic,
                                                       "-p", str(partitions), "-n", str(args.records)],
                                                      stdout=subprocess.PIPE, text=True)
                            produce(driver, broker.bootstrap, tail_topic, args.records, args.value_size, idempotent=False)
                            produced_at = time.time()
                            out, _ = reader.communicate(timeout=600)
                            lag = time.time() - produced_at
                            read = json.loads(out)
                            row = rows[(mode, partitions)]
                            row["tail_consume_MBps"].append(read["MBps"])
                            row["tail_consume_lag_s"].append(lag)
                            row["tail_cpu_s_per_GB"].append((cpu_seconds(broker.proc.pid) - before) / gigabytes)
                    finally:
                        broker.stop()
        results["fio_MBps_median"] = {k: statistics.median(v) for k, v in fio.items()}
        results["fio_MBps_rounds"] = fio
        results["loadavg_1min"] = {"median": statistics.median(loads), "max": max(loads)}
        for (mode, partitions), row in rows.items():
            results[f"{mode}_partitions_{partitions}"] = {
                "produce_MBps_median": statistics.median(row["MBps"]),
                "cpu_s_per_GB_median": statistics.median(row["cpu_s_per_GB"]),
                "minor_faults_per_GB_median": statistics.median(row["minor_faults_per_GB"]),
                **({k + "_median": statistics.median(row[k]) for k in ("consume_MBps", "consume_cpu_s_per_GB",
                                                                         "p99_ms_half_rate",
                                                                         "device_p99_ms_half_rate",
                                                                         "broker_p99_bound_ms_half_rate",
                                                                         "broker_within_5ms_half_rate",
                                                                         "fdatasyncs_over_5ms_half_rate",
                                                                         "writes_over_5ms_half_rate")}
                   if args.io_modes_full else {}),
                **({k + "_median": statistics.median(row[k]) for k in ("tail_consume_MBps", "tail_consume_lag_s",
                                                                         "tail_cpu_s_per_GB")}
                   if args.tail_consume else {}),
                "rounds": row,
            }
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
