#!/usr/bin/env python3
"""Storage benchmarks of issue 3: fio/dd references and the storage-bench scenarios, in one run on one
file system, printed as a Markdown table of ratios (and optionally saved as JSON).

    tools/bench/storage_bench.py [--dir DIR] [--size 1g] [--repeat 3] [--engines posix,io_uring]
                                 [--big-log 10g] [--recovery 1g] [--skip-slow] [--json out.json]

References (same file system, same sizes): fio psync sequential write bs=16k buffered (page cache),
fio psync sequential write bs=16k with an fdatasync every 64 writes (1 MiB), fio psync sequential read
bs=1m of a page-cache-warm file; dd equivalents (bs=16k buffered, bs=1M oflag=dsync, bs=1M read).
For 1,000 partitions, two more (informational; the goals use the single-file figures): fio buffered 16k
writes round-robin over 1,000 files, and tools/bench/multifile_sync.c writing 16k round-robin over 1,000
files with one syncfs per MiB — what the kernel and disk allow for that access pattern.
Each figure is the median of --repeat runs; references and storage runs alternate so that load from
other processes on the machine hits both.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIZES = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_size(text):
    text = text.lower()
    return int(text[:-1]) * SIZES[text[-1]] if text[-1] in SIZES else int(text)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def fio(name, path, rw, bs, size, extra=()):
    cmd = ["fio", "--name=" + name, "--filename=" + path, "--rw=" + rw, "--bs=" + bs, "--size=" + str(size),
           "--ioengine=psync", "--fallocate=none", "--invalidate=0", "--output-format=json", *extra]
    out = json.loads(run(cmd).stdout)
    job = out["jobs"][0]
    side = job["write"] if rw == "write" else job["read"]
    return side["bw_bytes"] / 1e6


def fio_many(directory, size, files=1000):
    """Buffered 16k writes round-robin over `files` files (what 1,000 partitions ask of the kernel)."""
    cmd = ["fio", "--name=many", "--directory=" + directory, "--nrfiles=%d" % files, "--file_service_type=roundrobin",
           "--rw=write", "--bs=16k", "--size=%d" % size, "--ioengine=psync", "--fallocate=none", "--invalidate=0",
           "--create_on_open=1", "--output-format=json"]
    return json.loads(run(cmd).stdout)["jobs"][0]["write"]["bw_bytes"] / 1e6


def multifile_sync(binary, directory, size, files=1000):
    """16k writes round-robin over `files` files, one syncfs per MiB (tools/bench/multifile_sync.c)."""
    return float(run([binary, directory, str(files), str(max(size >> 20, 1)), "syncfs"]).stdout.strip())


def dd(args):
    err = run(["dd", *args]).stderr
    match = re.search(r"(\d+) bytes .* copied, ([\d.]+) s", err)
    return int(match.group(1)) / float(match.group(2)) / 1e6


def bench(binary, scenario, scratch, **opts):
    cmd = [binary, scenario, "--dir", scratch]
    for key, value in opts.items():
        cmd += ["--" + key.replace("_", "-"), str(value)]
    out = run(cmd).stdout.strip().splitlines()
    return json.loads(out[-1])


def median(values):
    return statistics.median(values) if values else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", default=os.path.join(ROOT, ".build", "storage-bench-scratch"))
    parser.add_argument("--size", default="1g", help="bytes per throughput run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", default="posix,io_uring")
    parser.add_argument("--big-log", default="10g", help="log size for the timestamp lookups")
    parser.add_argument("--recovery", default="1g", help="unflushed tail size for recovery")
    parser.add_argument("--skip-slow", action="store_true", help="skip timestamp, recovery and open scenarios")
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--json", help="also write all raw results here")
    args = parser.parse_args()

    size = parse_size(args.size)
    if not args.no_build:
        subprocess.run(["swift", "build", "-c", "release", "--product", "storage-bench"], cwd=ROOT, check=True,
                       stdout=sys.stderr)
    binary = os.path.join(ROOT, ".build", "release", "storage-bench")
    syncer = os.path.join(ROOT, ".build", "multifile_sync")
    subprocess.run(["cc", "-O2", "-o", syncer, os.path.join(ROOT, "tools", "bench", "multifile_sync.c")], check=True)
    os.makedirs(args.dir, exist_ok=True)
    scratch = os.path.join(args.dir, "run-%d" % os.getpid())
    os.makedirs(scratch)
    engines = args.engines.split(",")
    raw = {"refs": {}, "runs": {}}

    def ref(key, fn):
        raw["refs"].setdefault(key, []).append(fn())

    def store(key, result):
        raw["runs"].setdefault(key, []).append(result)
        print(key, json.dumps(result), file=sys.stderr)

    try:
        path = os.path.join(scratch, "ref")
        mib = size >> 20
        for round_ in range(args.repeat):
            if os.path.exists(path):
                os.unlink(path)
            ref("fio_buffered_write", lambda: fio("bufw", path, "write", "16k", size))
            ref("fio_read_warm", lambda: fio("readw", path, "read", "1m", size))  # just written: warm
            os.unlink(path)
            ref("dd_buffered_write", lambda: dd(["if=/dev/zero", "of=" + path, "bs=16k", "count=%d" % (size >> 14)]))
            ref("dd_read_warm", lambda: dd(["if=" + path, "of=/dev/null", "bs=1M"]))
            os.unlink(path)
            many = os.path.join(scratch, "many")
            os.makedirs(many)
            ref("fio_buffered_write_1000_files", lambda: fio_many(many, size))
            shutil.rmtree(many)
            os.makedirs(many)
            ref("syncfs_write_1000_files_1mib", lambda: multifile_sync(syncer, many, size // 8))
            shutil.rmtree(many)
            ref("fio_sync_write_1mib", lambda: fio("syncw", path, "write", "16k", size, ["--fdatasync=64"]))
            os.unlink(path)
            ref("dd_dsync_write_1mib", lambda: dd(["if=/dev/zero", "of=" + path, "bs=1M", "count=%d" % mib, "oflag=dsync"]))
            os.unlink(path)
            for engine in engines:
                for partitions in (1, 1000):
                    store("append_page_%s_p%d" % (engine, partitions),
                          bench(binary, "append", scratch, engine=engine, ack="page", partitions=partitions,
                                appenders=1, in_flight=64, bytes=size))
                    # 1,000 partitions durable: every group commit fsyncs each touched file, so a smaller run.
                    store("append_durable_%s_p%d" % (engine, partitions),
                          bench(binary, "append", scratch, engine=engine, ack="durable", partitions=partitions,
                                appenders=8, in_flight=8, bytes=size if partitions == 1 else size // 8))
                store("read_%s" % engine, bench(binary, "read", scratch, engine=engine, bytes=size))
        if not args.skip_slow:
            store("timestamp", bench(binary, "timestamp", scratch, engine=engines[0], bytes=parse_size(args.big_log)))
            store("recovery", bench(binary, "recovery", scratch, engine=engines[0], bytes=parse_size(args.recovery)))
            store("open", bench(binary, "open", scratch, engine=engines[0], partitions=1000, segments=10))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    refs = {k: median(v) for k, v in raw["refs"].items()}
    buffered = max(refs["fio_buffered_write"], refs["dd_buffered_write"])
    synced = max(refs["fio_sync_write_1mib"], refs["dd_dsync_write_1mib"])
    reading = max(refs["fio_read_warm"], refs["dd_read_warm"])
    print("References (median of %d, MB/s): fio buffered write 16k %.0f, dd 16k %.0f; fio write 16k + fdatasync/1MiB %.0f, "
          "dd 1M oflag=dsync %.0f; fio read 1m warm %.0f, dd 1M warm %.0f. Ratios use the faster of fio and dd."
          % (args.repeat, refs["fio_buffered_write"], refs["dd_buffered_write"], refs["fio_sync_write_1mib"],
             refs["dd_dsync_write_1mib"], refs["fio_read_warm"], refs["dd_read_warm"]))
    print()
    many = refs["fio_buffered_write_1000_files"]
    print("Informational: fio buffered write 16k round-robin over 1,000 files: %.0f MB/s (the kernel's own cost of "
          "spreading writes over 1,000 files; the last column compares 1,000-partition page-cache appends with it)."
          % many)
    manysync = refs["syncfs_write_1000_files_1mib"]
    print("Informational: 16k writes round-robin over 1,000 files with one syncfs per MiB (multifile_sync.c): %.0f MB/s "
          "(the same column compares 1,000-partition durable appends with it)." % manysync)
    print()
    print("| scenario | engine | partitions | MB/s | reference MB/s | ratio | goal | met | CPU ns/batch | vs raw 1,000 files |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for engine in engines:
        for partitions in (1, 1000):
            for ack, reference, goal in (("page", buffered, 0.90), ("durable", synced, 0.70)):
                runs = raw["runs"].get("append_%s_%s_p%d" % (ack, engine, partitions), [])
                if not runs:
                    continue
                mbps = median([r["MBps"] for r in runs])
                cpu = median([r["cpuNsPerBatch"] for r in runs])
                who = "1 appender, 64 in flight" if ack == "page" else "8 appenders × 8 in flight"
                extra = ""
                if partitions == 1000:
                    extra = "%.2f" % (mbps / (many if ack == "page" else manysync))
                print("| append 16 KiB batches, %s ack (%s) | %s | %d | %.0f | %.0f | %.2f | ≥ %.2f | %s | %.0f | %s |"
                      % (ack, who, engine, partitions, mbps, reference, mbps / reference, goal,
                         "yes" if mbps / reference >= goal else "**no**", cpu, extra))
        runs = raw["runs"].get("read_%s" % engine, [])
        if runs:
            mbps = median([r["MBps"] for r in runs])
            print("| sequential read, 1 MiB fetches, warm | %s | 1 | %.0f | %.0f | %.2f | ≥ 0.90 | %s | | |"
                  % (engine, mbps, reading, mbps / reading, "yes" if mbps / reading >= 0.9 else "**no**"))
    print()
    if not args.skip_slow:
        t = raw["runs"]["timestamp"][0]
        r = raw["runs"]["recovery"][0]
        o = raw["runs"]["open"][0]
        print("| scenario | result | goal | met |")
        print("|---|---|---|---|")
        print("| offset by timestamp, %.1f GiB log (%d segments), in process | p50 %.0f µs, p99 %.0f µs, max %.0f µs | p99 < 1 ms | %s |"
              % (t["bytes"] / (1 << 30), t["segments"], t["warmP50us"], t["warmP99us"], t["warmMaxUs"],
                 "yes" if t["warmP99us"] < 1000 and t["warmWrong"] == 0 else "**no**"))
        print("| offset by timestamp, same log after a clean reopen | p50 %.0f µs, p99 %.0f µs, max %.0f µs | p99 < 1 ms | %s |"
              % (t["reopenedP50us"], t["reopenedP99us"], t["reopenedMaxUs"],
                 "yes" if t["reopenedP99us"] < 1000 and t["reopenedWrong"] == 0 else "**no**"))
        print("| recovery of a %.1f GiB unflushed tail (page cache %s) | %.2f s | < 2 s | %s |"
              % (r["bytes"] / (1 << 30), "cold" if r["coldCache"] else "warm", r["seconds"],
                 "yes" if r["seconds"] < 2 and r["logEndOffsetMatches"] else "**no**"))
        print("| clean open of %d partitions × %d segments, 1 thread | %.2f s | < 1 s | %s |"
              % (o["partitions"], o["segments"] // max(o["partitions"], 1), o["seconds1Thread"],
                 "yes" if o["seconds1Thread"] < 1 else "**no**"))
        threads = [k for k in o if k.startswith("seconds") and k != "seconds1Thread" and k != "setupSeconds"]
        for k in threads:
            print("| clean open, %s | %.2f s | | |" % (k[len("seconds"):].replace("Thread", " threads"), o[k]))
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"refs": refs, "raw": raw, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, out, indent=1)


if __name__ == "__main__":
    main()
