#!/usr/bin/env python3
"""Produce throughput with and without the web console under load (issue 14: "100 concurrent page
loads during a produce benchmark — the Kafka listener's throughput drops by no more than 5% and nothing
crashes").

One release broker with `metrics.listener`; librdkafka's C API (tools/bench/rdkafka_perf.c, built by
e2e_bench.build_driver) produces RECORDS records of VALUE_SIZE bytes, acks=all, to a 6-partition topic,
alternating rounds: quiet, then with LOADERS threads each loading console pages (topics, a topic, the
message browser, groups, /metrics) until the produce ends, back to back or with --think-ms between
two loads of one loader (people with the console open). Reports the median MB/s of
each kind of round, the ratio, the page loads served and any answer that was not 200. The page loaders
are Python threads on the same 2 cores as the broker and the producer: part of any drop is their own
CPU, not the broker's. `--rig-baseline` makes the baseline rounds pay for that too: the same loaders then
load the same pages from a second, idle broker on the same cores, so the ratio compares pages served
inside the broker with the same pages served by another process (the console's isolation), not the
pages' absolute cost. `--loader ab` uses ApacheBench instead of Python threads (cheap loaders).

    swift build -c release --product runnel
    .venv/bin/python tools/bench/console_load_bench.py --runnel .build/release/runnel --rounds 3
"""
import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_bench import build_driver, create_topic, free_port, produce  # noqa: E402


def load_pages(metrics_port: int, paths: list[str], stop: threading.Event, stats: dict, lock: threading.Lock,
               think_s: float, nice: int = 0):
    if nice:
        # Per thread on Linux: the loaders stand for browsers on other machines, not for the broker's CPU.
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    conn = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=30)
    i = 0
    while not stop.wait(think_s if i else 0):
        path = paths[i % len(paths)]
        i += 1
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            with lock:
                if resp.status == 503 and resp.getheader("Retry-After"):
                    stats["refused"] += 1  # the console's bound on pending pages (decision 0015)
                    continue
                stats["loads"] += 1
                if resp.status != 200:
                    stats["errors"].append(f"{path}: {resp.status}")
        except (OSError, http.client.HTTPException) as e:
            with lock:
                stats["errors"].append(f"{path}: {type(e).__name__}: {e}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=30)


def start_ab(port: int, paths: list[str], loaders: int, nice: int) -> list[subprocess.Popen]:
    """One ApacheBench per path, `loaders` concurrent requests in all (a connection each: ab speaks
    HTTP/1.0 and its keep-alive needs a Content-Length on every answer), until stopped."""
    per = max(1, loaders // len(paths))
    return [subprocess.Popen(["nice", "-n", str(nice), "ab", "-q", "-r", "-c", str(per), "-n", "100000000",
                              "-t", "3600", f"http://127.0.0.1:{port}{path}"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for path in paths]


def stop_ab(proc: subprocess.Popen, stats: dict) -> None:
    """SIGINT makes ab print what it did; its counts go into `stats` (a 503 counts as an error here)."""
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    complete = re.search(r"Complete requests:\s+(\d+)", out)
    # "Length" failures only mean a page's size changed between loads (/metrics, /topics): not errors.
    failed = re.search(r"\(Connect: (\d+), Receive: (\d+), Length: \d+, Exceptions: (\d+)\)", out)
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    if not complete:
        stats["errors"].append(f"ab printed no result: {out[-300:]}")
        return
    stats["loads"] += int(complete.group(1))
    bad = (sum(int(g) for g in failed.groups()) if failed else 0) + (int(non2xx.group(1)) if non2xx else 0)
    if bad:
        stats["errors"].append(f"ab: {bad} failed or non-2xx of {complete.group(1)}")


def wait_ready(metrics_port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=2)
            c.request("GET", "/ready")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("broker did not start")
        time.sleep(0.1)


def start_other_broker(runnel: str, workdir: str) -> tuple[subprocess.Popen, int, str]:
    """A second broker, idle, whose endpoint the loaders use (`--load-other-broker`, `--rig-baseline`).
    Returns the process, its metrics port and its bootstrap address."""
    port, metrics_port = free_port(), free_port()
    proc = subprocess.Popen(
        [runnel, "broker", "--override", f"listeners=PLAINTEXT://127.0.0.1:{port}",
         "--override", f"log.dirs={workdir}/other-data", "--override", f"metrics.listener=127.0.0.1:{metrics_port}",
         "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_ready(metrics_port)
    return proc, metrics_port, f"127.0.0.1:{port}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runnel", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--records", type=int, default=300_000)
    ap.add_argument("--value-size", type=int, default=1024)
    ap.add_argument("--loaders", type=int, default=100)
    ap.add_argument("--think-ms", type=int, default=0,
                    help="pause of each loader between two page loads (0: back to back)")
    ap.add_argument("--loader-nice", type=int, default=0,
                    help="nice value of the loader threads (19: they use only CPU the broker and producer leave)")
    ap.add_argument("--paths", help="comma-separated paths to load instead of the console's pages (e.g. /health, "
                                    "to tell the HTTP and loader cost from the pages)")
    ap.add_argument("--load-other-broker", action="store_true",
                    help="point the loaders at a second, idle broker's endpoint: the drop left is the loaders' and "
                         "the kernel's, none of it the benchmarked broker's")
    ap.add_argument("--loader", choices=("python", "ab"), default="python",
                    help="python: LOADERS threads of http.client; ab: ApacheBench (apache2-utils), one process per "
                         "path sharing the LOADERS concurrent requests: an event loop in C, so the loaders "
                         "themselves take far less of the machine's CPU")
    ap.add_argument("--rig-baseline", action="store_true",
                    help="the baseline rounds are not quiet: the same loaders load the same pages from a second, idle "
                         "broker holding the same data, so both kinds of round pay the loaders', the kernel's and "
                         "that broker's CPU: the ratio is the cost of serving the pages inside the benchmarked "
                         "broker rather than beside it")
    ap.add_argument("--same-session", action="store_true",
                    help="keep the broker in this session: with Linux's autogroups (sched_autogroup_enabled) a new "
                         "session is its own scheduling group, whose SCHED_IDLE thread is idle only against the "
                         "broker's own threads, not against the producer's group")
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.load_other_broker and args.rig_baseline:
        ap.error("--load-other-broker and --rig-baseline exclude each other")
    if args.loader == "ab" and args.think_ms:
        ap.error("--think-ms applies to the Python loaders only")
    driver, version = build_driver()

    port, metrics_port = free_port(), free_port()
    bootstrap = f"127.0.0.1:{port}"
    others: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="runnel-console-load-") as workdir:
        log = open(os.path.join(workdir, "broker.log"), "w")
        proc = subprocess.Popen(
            [args.runnel, "broker", "--override", f"listeners=PLAINTEXT://127.0.0.1:{port}",
             "--override", f"log.dirs={workdir}/data", "--override", f"metrics.listener=127.0.0.1:{metrics_port}",
             "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT, start_new_session=not args.same_session)
        try:
            wait_ready(metrics_port)
            pages_topic = "console-pages"
            create_topic(bootstrap, pages_topic, 3)
            produce(driver, bootstrap, pages_topic, 2000, 200, idempotent=False)
            paths = ["/topics", f"/topic?name={pages_topic}", f"/messages?topic={pages_topic}&partition=0&format=json",
                     "/groups", "/metrics", "/"]
            if args.paths:
                paths = args.paths.split(",")
            load_port = metrics_port
            baseline_port = None
            if args.load_other_broker or args.rig_baseline:
                other, other_port, other_bootstrap = start_other_broker(args.runnel, workdir)
                others.append(other)
                if args.rig_baseline:
                    create_topic(other_bootstrap, pages_topic, 3)
                    produce(driver, other_bootstrap, pages_topic, 2000, 200, idempotent=False)
                    baseline_port = other_port
                else:
                    load_port = other_port
            quiet, loaded, loads, baseline_loads, refused, errors = [], [], 0, 0, 0, []
            for r in range(args.rounds):
                for with_load in (False, True):
                    topic = f"bench-{r}-{'load' if with_load else 'quiet'}"
                    create_topic(bootstrap, topic, 6)
                    stop, lock = threading.Event(), threading.Lock()
                    stats = {"loads": 0, "refused": 0, "errors": []}
                    port_now = load_port if with_load else baseline_port
                    threads = [threading.Thread(target=load_pages, args=(port_now, paths, stop, stats, lock, args.think_ms / 1000,
                                                                            args.loader_nice),
                                                daemon=True)
                               for _ in range(args.loaders if port_now is not None else 0)]
                    abs_ = []
                    if args.loader == "ab":
                        threads = []
                        if port_now is not None:
                            abs_ = start_ab(port_now, paths, args.loaders, args.loader_nice)
                    for t in threads:
                        t.start()
                    result = produce(driver, bootstrap, topic, args.records, args.value_size, idempotent=False)
                    stop.set()
                    for t in threads:
                        t.join(60)
                    for a in abs_:
                        stop_ab(a, stats)
                    (loaded if with_load else quiet).append(result["MBps"])
                    if with_load:
                        loads += stats["loads"]
                    else:
                        baseline_loads += stats["loads"]
                    refused += stats["refused"]
                    errors += stats["errors"]
                    kind = "with console load" if with_load else ("rig baseline" if baseline_port else "quiet")
                    print(f"round {r} {kind}: {result['MBps']:.1f} MB/s"
                          + (f", {stats['loads']} page loads, {stats['refused']} refused (503)" if port_now else ""), file=sys.stderr)
            alive = proc.poll() is None
        finally:
            for other in others:
                other.terminate()
                other.wait(60)
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
    result = {
        "driver": f"tools/bench/rdkafka_perf.c, librdkafka {version}", "records": args.records,
        "value_size": args.value_size, "loaders": args.loaders, "think_ms": args.think_ms, "loader_nice": args.loader_nice, "paths": args.paths, "load_other_broker": args.load_other_broker, "same_session": args.same_session, "loader": args.loader, "rig_baseline": args.rig_baseline, "rounds": args.rounds,
        "quiet_MBps": [round(x, 1) for x in quiet], "loaded_MBps": [round(x, 1) for x in loaded],
        "quiet_median_MBps": round(statistics.median(quiet), 1), "loaded_median_MBps": round(statistics.median(loaded), 1),
        "ratio": round(statistics.median(loaded) / statistics.median(quiet), 3),
        "page_loads": loads, "baseline_page_loads": baseline_loads, "page_refused_503": refused, "page_errors": errors[:20], "page_error_count": len(errors), "broker_alive": alive,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0 if alive and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
