"""A confluent-kafka (librdkafka) consumer-group member as its own process, the twin of the Java
`group-consume` program: `python confluent_member.py @args.json`. Consumed records go as lines
"topic partition offset" to args["out"], flushed before their offsets are committed (commit "sync",
"async" or "none"); rebalance callbacks are reported on stderr as `EVENT {json}`, progress as
`PROGRESS consumed=N`. It stops when args["stopFile"] exists (after its async commits are answered)
and prints one JSON result line on stdout."""
from __future__ import annotations

import json
import os
import sys
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition


def event(kind: str, consumer: Consumer, partitions, **extra) -> None:
    parts = [f"{tp.topic}:{tp.partition}" for tp in partitions]
    print("EVENT " + json.dumps({"type": kind, "gen": -1, "memberId": consumer.memberid(), "partitions": parts,
                                 **extra}), file=sys.stderr, flush=True)


def on_assign(consumer: Consumer, partitions) -> None:
    """Reports the assignment with the committed offsets the coordinator answers for it (evidence for a
    takeover that starts somewhere else than the last commit)."""
    committed: dict[str, int] | str = {}
    if partitions:
        try:
            committed = {f"{tp.topic}:{tp.partition}": tp.offset for tp in consumer.committed(partitions, timeout=10)}
        except KafkaException as e:
            committed = str(e)
    event("assigned", consumer, partitions, committed=committed)


def main() -> int:
    with open(sys.argv[1][1:]) as f:
        args = json.load(f)
    commit_mode = args.get("commit", "sync")
    stats = {"ok": 0, "failed": 0, "pending": 0, "errors": []}

    def on_commit(err, partitions):
        if commit_mode != "async":
            return
        stats["pending"] -= 1
        if err is None:
            stats["ok"] += 1
        else:
            stats["failed"] += 1
            stats["errors"].append(str(err))

    conf = {"bootstrap.servers": args["bootstrap"], "group.id": args["group"], "client.id": args["clientId"],
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "partition.assignment.strategy": args.get("assignor", "cooperative-sticky"),
            "session.timeout.ms": args.get("sessionTimeoutMs", 10000),
            "heartbeat.interval.ms": args.get("heartbeatIntervalMs", 500),
            "max.poll.interval.ms": args.get("maxPollIntervalMs", 30000),
            "socket.timeout.ms": 10000, "on_commit": on_commit, **args.get("props", {})}
    if args.get("instanceId"):
        conf["group.instance.id"] = args["instanceId"]
    consumer = Consumer(conf)

    def on_revoke(c, partitions):
        if commit_mode != "none" and partitions:
            try:  # hand revoked partitions over at the position this member reached
                done = [tp for tp in c.position(partitions) if tp.offset >= 0]
                if done:
                    c.commit(offsets=done, asynchronous=False)
            except KafkaException as e:
                print(f"EVENT {json.dumps({'type': 'revoke-commit-failed', 'error': str(e)})}", file=sys.stderr)
        event("revoked", c, partitions)

    consumer.subscribe(args["topics"], on_assign=on_assign, on_revoke=on_revoke,
                       on_lost=lambda c, ps: event("lost", c, ps))
    deadline = time.monotonic() + args.get("timeoutMs", 120000) / 1000
    consumed = sync_commits = 0
    timed_out = stopping = False
    with open(args["out"], "w") as out:
        while True:
            stopping = stopping or os.path.exists(args["stopFile"])
            if stopping and stats["pending"] <= 0:
                break
            if time.monotonic() > deadline:
                timed_out = True
                break
            msgs = consumer.consume(num_messages=args.get("maxPollRecords", 50), timeout=0.1)
            offsets = {}
            for m in msgs:
                if m.error():
                    continue
                value = f" {m.value().decode()}" if args.get("withValues") else ""  # values without spaces
                out.write(f"{m.topic()} {m.partition()} {m.offset()}{value}\n")
                offsets[(m.topic(), m.partition())] = m.offset() + 1
                consumed += 1
            if not offsets:
                continue
            out.flush()
            tps = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
            if commit_mode == "sync":
                try:
                    consumer.commit(offsets=tps, asynchronous=False)
                    sync_commits += 1
                except KafkaException as e:  # partitions moved during a rebalance: the next owner resumes
                    stats["errors"].append(str(e))
            elif commit_mode == "async":
                stats["pending"] += 1
                consumer.commit(offsets=tps, asynchronous=True)
            print(f"PROGRESS consumed={consumed}", file=sys.stderr, flush=True)
    member_id = consumer.memberid()
    assignment = sorted(f"{tp.topic}:{tp.partition}" for tp in consumer.assignment())
    consumer.close()
    print(json.dumps({"consumed": consumed, "syncCommits": sync_commits, "asyncCommitsOk": stats["ok"],
                      "asyncCommitsFailed": stats["failed"], "commitErrors": stats["errors"],
                      "memberId": member_id, "assignment": assignment, "timedOut": timed_out}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
