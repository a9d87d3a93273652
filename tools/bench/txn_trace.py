#!/usr/bin/env python3
"""Where a librdkafka transaction's time goes, from the client's own trace (txn_bench.py gives the
throughput, txn_steps.py the broker's step latencies over the raw wire). Runs tools/bench/rdkafka_perf.c
as txn_bench.py does (transactions of 1,000 records of 1 KiB, 6 partitions, acks=all) with librdkafka's
`debug=eos,protocol`, and splits each transaction's cycle (EndTxn answer to the next EndTxn answer) into:

    client_gap_ms       EndTxn answered → next AddPartitionsToTxn sent (the client: commit_transaction()
                        returns, begin_transaction(), the application produces the records)
    add_partitions_ms   AddPartitionsToTxn round trip (the broker: its Ongoing record, and any wait for
                        the previous transaction's markers and completion)
    add_to_produce_ms   AddPartitionsToTxn answered → first ProduceRequest sent (the client)
    big_produce_ms      round trip of the ProduceRequest carrying most of the transaction (librdkafka caps a
                        request at message.max.bytes, 1,000,000 by default)
    tail_produce_ms     round trip of the smaller requests with the rest
    end_txn_ms          EndTxn round trip (the broker: the PrepareCommit record)

Before the traced run, the same producer writes records idempotently (no trace; twice, at least 200,000
records each, the second run counts) to another topic of the same broker: the baseline of txn_bench.py's
ratio, in the same run. From it and the trace the report derives `ceiling_free_coordinator`: the
transactional / idempotent ratio if the coordinator's two rounds (AddPartitionsToTxn, EndTxn) cost
nothing and everything else in the cycle (the client's own gaps, the data's rounds) stayed as measured;
and `client_serial_ms` against `budget_at_0_80_ms`: at a ratio of 0.80 a transaction may take a quarter
longer than its records take at the idempotent rate, and the client's own gaps alone use the budget when
they exceed it.

librdkafka's log timestamps have millisecond resolution, so the gaps measured between two log lines are
quantized (their means over many transactions are still meaningful); the round trips are librdkafka's
own `rtt` figures (microseconds).

    .venv/bin/python tools/bench/txn_trace.py --runnel .build/release/runnel --records 60000 \\
        [--override log.io.direct.sync=dsync] [--json out.json]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools/bench"))
from e2e_bench import Broker, build_driver, create_topic  # noqa: E402

LINE = re.compile(r"%7\|([\d.]+)\|(SEND|RECV)\|.*(?:Sent|Received) (\w+?)(?:Request|Response) "
                  r"\(v\d+, (\d+) bytes[^)]*?(?:rtt ([\d.]+)ms)?\)")


def breakdown(trace: str) -> dict[str, list[float]]:
    steps: dict[str, list[float]] = {k: [] for k in (
        "client_gap_ms", "add_partitions_ms", "add_to_produce_ms", "big_produce_ms", "tail_produce_ms",
        "end_txn_ms", "cycle_ms")}
    last_end = last_added = None
    produce_sizes: list[int] = []
    for line in trace.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        at, kind, api, size, rtt = float(match[1]) * 1000, match[2], match[3], int(match[4]), float(match[5] or 0)
        if api == "AddPartitionsToTxn":
            if kind == "SEND" and last_end is not None:
                steps["client_gap_ms"].append(at - last_end)
            elif kind == "RECV":
                steps["add_partitions_ms"].append(rtt)
                last_added = at
        elif api == "Produce":
            if kind == "SEND":
                produce_sizes.append(size)
                if last_added is not None:
                    steps["add_to_produce_ms"].append(at - last_added)
                    last_added = None
            elif produce_sizes:
                sent = produce_sizes.pop(0)
                steps["big_produce_ms" if sent > 500_000 else "tail_produce_ms"].append(rtt)
        elif api == "EndTxn" and kind == "RECV":
            steps["end_txn_ms"].append(rtt)
            if last_end is not None:
                steps["cycle_ms"].append(at - last_end)
            last_end = at
    return steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runnel", required=True)
    parser.add_argument("--records", type=int, default=60_000)
    parser.add_argument("--txn-records", type=int, default=1000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--override", action="append", default=[], help="a broker setting, KEY=VALUE")
    parser.add_argument("--json", help="write results here")
    args = parser.parse_args()
    driver, version = build_driver()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="runnel-txn-trace-", dir=os.environ.get("BENCH_DIR", "/tmp")) as work:
        broker = Broker(args.runnel, work, tuple(args.override))
        try:
            create_topic(broker.bootstrap, "trace", args.partitions)
            create_topic(broker.bootstrap, "baseline", args.partitions)
            for _ in range(2):  # the first run warms the broker and the disk's fresh blocks; the second counts
                base = subprocess.run([driver, "produce", "-b", broker.bootstrap, "-t", "baseline",
                                       "-n", str(max(args.records, 200_000)), "-s", "1024", "-a", "all",
                                       "-X", "enable.idempotence=true"], capture_output=True, text=True, timeout=600)
                if base.returncode != 0:
                    raise RuntimeError(f"rdkafka_perf (idempotent baseline) failed: {base.stderr.strip()[-800:]}")
            out = subprocess.run([driver, "produce", "-b", broker.bootstrap, "-t", "trace", "-n", str(args.records),
                                  "-s", "1024", "-a", "all", "-T", str(args.txn_records),
                                  "-X", "enable.idempotence=true", "-X", "debug=eos,protocol"],
                                 capture_output=True, text=True, timeout=600)
        finally:
            broker.stop()
    if out.returncode != 0:
        raise RuntimeError(f"rdkafka_perf failed: {out.stderr.strip()[-800:]}")
    produced = json.loads(out.stdout.strip().splitlines()[-1])
    steps = breakdown(out.stderr)
    idempotent = json.loads(base.stdout.strip().splitlines()[-1])["MBps"]
    mean = {name: statistics.mean(values) for name, values in steps.items() if values}
    txn_ms_at_idempotent_rate = args.txn_records * 1024 / (idempotent * 1e6) * 1000
    cycle = mean.get("cycle_ms", 0.0)
    coordinator = mean.get("add_partitions_ms", 0.0) + mean.get("end_txn_ms", 0.0)
    results = {
        "driver": f"tools/bench/rdkafka_perf.c, librdkafka {version}", "overrides": args.override,
        "load_average": load, "MBps": produced["MBps"], "commit_ms": produced["commit_ms"],
        "idempotent_MBps": idempotent,
        "ratio_to_idempotent": produced["MBps"] / idempotent,
        "ceiling_free_coordinator": (txn_ms_at_idempotent_rate / (cycle - coordinator)) if cycle > coordinator else None,
        "client_serial_ms": round(mean.get("client_gap_ms", 0.0) + mean.get("add_to_produce_ms", 0.0), 3),
        "budget_at_0_80_ms": round(txn_ms_at_idempotent_rate * 0.25, 3),
        "steps": {name: {"n": len(values), "mean": round(statistics.mean(values), 3),
                         "p50": round(statistics.median(values), 3), "max": round(max(values), 3)}
                  for name, values in steps.items() if values},
    }
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
