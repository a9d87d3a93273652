"""A kafka-python consumer-group member as its own process, the twin of confluent_member.py and the Java
`group-consume` program: `python kafka_python_member.py @args.json`. Consumed records go as lines
"topic partition offset[ value]" to args["out"], flushed before their offsets are committed (commit "sync"
or "none"); rebalance callbacks are reported on stderr as `EVENT {json}`, progress as
`PROGRESS consumed=N`. It stops when args["stopFile"] exists and prints one JSON result line on stdout."""
from __future__ import annotations

import json
import logging
import os
import sys
import time

from kafka import ConsumerRebalanceListener, KafkaConsumer
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from kafka.structs import OffsetAndMetadata

from kafka_python_group import subscribe_with_metadata  # this folder: run as a script

ASSIGNORS = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}


def event(kind: str, partitions, **extra) -> None:
    parts = [f"{tp.topic}:{tp.partition}" for tp in partitions]
    print("EVENT " + json.dumps({"type": kind, "partitions": parts, **extra}), file=sys.stderr, flush=True)


def main() -> int:
    with open(sys.argv[1][1:]) as f:
        args = json.load(f)
    commit_mode = args.get("commit", "sync")
    if args.get("logFile"):  # kafka-python's own debug log, for diagnosis
        logging.basicConfig(filename=args["logFile"], level=logging.DEBUG,
                            format="%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s")
    errors: list[str] = []
    consumer = KafkaConsumer(
        bootstrap_servers=args["bootstrap"], group_id=args["group"], client_id=args["clientId"],
        enable_auto_commit=False, auto_offset_reset="earliest",
        partition_assignment_strategy=[ASSIGNORS[args.get("assignor", "range")]],
        session_timeout_ms=args.get("sessionTimeoutMs", 10000), heartbeat_interval_ms=args.get("heartbeatIntervalMs", 500),
        max_poll_interval_ms=args.get("maxPollIntervalMs", 30000), max_poll_records=args.get("maxPollRecords", 50),
        request_timeout_ms=15000, fetch_max_wait_ms=100)
    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            if commit_mode != "none" and revoked:
                try:  # hand revoked partitions over at the position this member reached
                    done = {tp: OffsetAndMetadata(consumer.position(tp), "", -1) for tp in revoked}
                    consumer.commit(offsets=done)
                except Exception as e:  # noqa: BLE001 - reported, as the other members do
                    event("revoke-commit-failed", [], error=str(e))
            event("revoked", revoked)

        def on_partitions_assigned(self, assigned):
            event("assigned", assigned)

    # Metadata before subscribing and a fresh response after it (kafka_python_group.py says why).
    subscribe_with_metadata(consumer, args["topics"], listener=Listener())
    deadline = time.monotonic() + args.get("timeoutMs", 120000) / 1000
    consumed = sync_commits = 0
    timed_out = False
    with open(args["out"], "w") as out:
        while not os.path.exists(args["stopFile"]):
            if time.monotonic() > deadline:
                timed_out = True
                break
            batch = consumer.poll(timeout_ms=100)
            offsets = {}
            for tp, msgs in batch.items():
                for m in msgs:
                    value = f" {m.value.decode()}" if args.get("withValues") else ""  # values without spaces
                    out.write(f"{m.topic} {m.partition} {m.offset}{value}\n")
                    consumed += 1
                offsets[tp] = OffsetAndMetadata(msgs[-1].offset + 1, "", -1)
            if not offsets:
                continue
            out.flush()
            if commit_mode == "sync":
                try:
                    consumer.commit(offsets=offsets)
                    sync_commits += 1
                except Exception as e:  # noqa: BLE001 - partitions moved during a rebalance: the next owner resumes
                    errors.append(str(e))
            print(f"PROGRESS consumed={consumed}", file=sys.stderr, flush=True)
    assignment = sorted(f"{tp.topic}:{tp.partition}" for tp in consumer.assignment())
    consumer.close()
    print(json.dumps({"consumed": consumed, "syncCommits": sync_commits, "commitErrors": errors,
                      "assignment": assignment, "timedOut": timed_out}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
