#!/usr/bin/env python3
"""Where a transaction's time goes, step by step, over the raw wire (tools/bench/txn_bench.py measures
the client's view). One connection runs a loop of transactions, each request waiting for its answer:

    AddPartitionsToTxn (6 partitions) → 6 transactional produces (10 records of 100 B each) → EndTxn(commit)

and the next transaction's AddPartitionsToTxn follows EndTxn's answer at once, as a client's does. A
CONCURRENT_TRANSACTIONS answer is retried after 20 ms (the Java client's shortest backoff; librdkafka's
is longer). Reports per step the median and p90 latency, and how many transactions met
CONCURRENT_TRANSACTIONS. Each step's latency is about one I/O round (write + fsync) of the broker:
AddPartitionsToTxn waits for the previous transaction's markers and then for its own Ongoing record;
a produce for its batch; EndTxn for PrepareCommit.

    .venv/bin/python tools/bench/txn_steps.py --runnel .build/release/runnel --transactions 300
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools/bench"))
sys.path.insert(0, str(ROOT / "Tests/InteropTests"))
from e2e_bench import Broker, create_topic  # noqa: E402
from runnel_interop import txn as T  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runnel", required=True)
    parser.add_argument("--transactions", type=int, default=300)
    parser.add_argument("--override", action="append", default=[],
                        help="a broker setting KEY=VALUE, e.g. log.flush.interval.messages=9223372036854775807 with "
                             "log.io.mode=buffered (Kafka's durability: no disk wait in any round)")
    parser.add_argument("--json", help="write results here")
    args = parser.parse_args()
    partitions = 6
    with tempfile.TemporaryDirectory(prefix="runnel-txn-steps-", dir=os.environ.get("BENCH_DIR", "/tmp")) as work:
        broker = Broker(args.runnel, work, tuple(args.override))
        try:
            create_topic(broker.bootstrap, "steps", partitions)
            conn = T.TxnConnection(broker.port)
            ready = conn.init_until_ready("steps-tid")
            pid, epoch = ready["producer_id"], ready["producer_epoch"]
            steps: dict[str, list[float]] = {"add_partitions_ms": [], "produce_ms": [], "end_txn_ms": []}
            retried = 0
            sequence = [0] * partitions
            for _ in range(args.transactions):
                started = time.perf_counter()
                answer = conn.add_partitions("steps-tid", pid, epoch, "steps", list(range(partitions)))
                met_concurrent = False
                while any(code == T.CONCURRENT_TRANSACTIONS for code in answer.values()):
                    met_concurrent = True
                    time.sleep(0.02)  # the client's backoff
                    answer = conn.add_partitions("steps-tid", pid, epoch, "steps", list(range(partitions)))
                assert all(code == T.NONE for code in answer.values()), answer
                retried += met_concurrent
                added = time.perf_counter()
                for p in range(partitions):
                    batch = T.transactional_batch([(b"k", b"v" * 100, [])] * 10, pid, epoch, sequence[p])
                    sequence[p] += 10
                    result = conn.produce("steps", p, batch, transactional_id="steps-tid")
                    assert result["error"] == T.NONE, result
                produced = time.perf_counter()
                assert conn.end_txn("steps-tid", pid, epoch, commit=True) == T.NONE
                ended = time.perf_counter()
                steps["add_partitions_ms"].append((added - started) * 1000)
                steps["produce_ms"].append((produced - added) * 1000 / partitions)
                steps["end_txn_ms"].append((ended - produced) * 1000)
            conn.close()
        finally:
            broker.stop()
    results: dict = {"transactions": args.transactions, "met_concurrent_transactions": retried}
    for name, values in steps.items():
        values.sort()
        results[name] = {"p50": round(statistics.median(values), 3), "p90": round(values[int(len(values) * 0.9)], 3)}
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
