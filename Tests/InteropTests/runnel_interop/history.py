"""A history checker for the cluster tests, in the spirit of Jepsen's Kafka workload.

A test records, thread-safely, everything its clients did:
  send(producer, value)                  a send attempt; `value` is unique per record (e.g. "p1-42"),
                                         the producer's own sends are numbered in call order
  ack(value, partition, offset)          the broker acknowledged it there
  fail(value, error, definite=...)       the send failed; `definite` when the error guarantees the
                                         record was not written (else "maybe written", e.g. a timeout)
  read(consumer, partition, offset, value)  a consumer saw it during the run
  final(partition, offset, value)        one record of the final full read of the topic, from the
                                         beginning of every partition to its high watermark
  fault(text)                            a note on the timeline (kills, restarts, leader changes)
and `check()` returns a Report of anomalies, each with examples and the value's whole story:

  lost          acknowledged, absent from the final read
  duplicated    one value at two offsets (final read, consumer reads, or two acknowledgements)
  reordered     within one idempotent producer and partition, send order != offset order
                (in the final read, and among the acknowledgements)
  phantom       a consumer read it at (partition, offset) during the run, but the final read has
                nothing or something else there (read-but-later-gone, or moved)
  inconsistent  acknowledged at (partition, offset), the final read has another value there
                (or none: the offset is past the end of the partition)
  unexpected    a value read that was never sent
  failed_present  a definite failure whose value is in the final read anyway
  unresolved    a send with neither an acknowledgement nor an error at check time

No broker needed: test_history_checker.py feeds it synthetic histories.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

ANOMALIES = ("lost", "duplicated", "reordered", "phantom", "inconsistent", "unexpected",
             "failed_present", "unresolved")


@dataclass
class Send:
    producer: str
    seq: int                      # position among this producer's sends (call order)
    value: str
    partition: int | None         # partition asked for (None: the partitioner chose)
    at: float
    ack: tuple[int, int] | None = None       # (partition, offset)
    acks: list[tuple[int, int]] = field(default_factory=list)   # every acknowledgement seen
    ack_at: float | None = None
    error: str | None = None
    definite: bool = False
    error_at: float | None = None


@dataclass
class Report:
    counts: dict[str, int]
    examples: dict[str, list[str]]
    summary: str

    @property
    def ok(self) -> bool:
        return not any(self.counts[a] for a in ANOMALIES)

    def anomalies(self) -> dict[str, int]:
        return {a: n for a, n in self.counts.items() if a in ANOMALIES and n}

    def __str__(self) -> str:
        lines = [self.summary]
        for a in ANOMALIES:
            n = self.counts[a]
            if n:
                lines.append(f"{a.upper()}: {n}")
                lines += [f"  {e}" for e in self.examples[a]]
        return "\n".join(lines)


class History:
    def __init__(self, max_examples: int = 8):
        self._lock = threading.Lock()
        self.t0 = time.monotonic()
        self.sends: dict[str, Send] = {}
        self._seq: dict[str, int] = defaultdict(int)
        self.idempotent: dict[str, bool] = {}
        self.reads: list[tuple[str, int, int, str, float]] = []   # consumer, partition, offset, value, at
        self.finals: dict[int, dict[int, str]] = defaultdict(dict)  # partition -> offset -> value
        self.final_dupes: list[tuple[int, int, str, str]] = []      # same offset read twice, different values
        self.final_done = False
        self.faults: list[tuple[float, str]] = []
        self.unknown_acks: list[tuple[str, int, int]] = []
        self.max_examples = max_examples
        # check() over 200,000 records takes tens of seconds: its report is kept until something new
        # is recorded (reports, diagnostics and teardown ask again).
        self._version = 0
        self._checked: tuple[int, "Report"] | None = None

    # ---- recording (thread-safe; callable from delivery callbacks) --------------------------------

    def now(self) -> float:
        return time.monotonic() - self.t0

    def producer(self, name: str, idempotent: bool) -> None:
        """Declares a producer; reorder checks apply to idempotent ones only."""
        with self._lock:
            self._version += 1
            self.idempotent[name] = idempotent

    def send(self, producer: str, value: str, partition: int | None = None, at: float | None = None) -> None:
        """`at`: when it was sent (history time), if not now (e.g. a paced producer in another process)."""
        with self._lock:
            self._version += 1
            if value in self.sends:
                raise ValueError(f"value {value!r} sent twice: values must be unique per record")
            self.idempotent.setdefault(producer, False)
            seq = self._seq[producer]
            self._seq[producer] = seq + 1
            self.sends[value] = Send(producer, seq, value, partition, self.now() if at is None else at)

    def ack(self, value: str, partition: int, offset: int, at: float | None = None) -> None:
        with self._lock:
            self._version += 1
            s = self.sends.get(value)
            if s is None:
                self.unknown_acks.append((value, partition, offset))
                return
            s.acks.append((partition, offset))
            if s.ack is None:
                s.ack, s.ack_at = (partition, offset), self.now() if at is None else at

    def fail(self, value: str, error: str, definite: bool = False) -> None:
        with self._lock:
            self._version += 1
            s = self.sends.get(value)
            if s is None:
                return
            s.error, s.definite, s.error_at = str(error), definite, self.now()

    def read(self, consumer: str, partition: int, offset: int, value: str) -> None:
        with self._lock:
            self._version += 1
            self.reads.append((consumer, partition, offset, value, self.now()))

    def final(self, partition: int, offset: int, value: str) -> None:
        with self._lock:
            self._version += 1
            prev = self.finals[partition].get(offset)
            if prev is not None and prev != value:
                self.final_dupes.append((partition, offset, prev, value))
            self.finals[partition][offset] = value

    def final_complete(self) -> None:
        """Marks the final read as done (check() refuses to call records lost without it)."""
        with self._lock:
            self._version += 1
            self.final_done = True

    def fault(self, text: str) -> None:
        with self._lock:
            self._version += 1
            self.faults.append((self.now(), text))

    # ---- checking ---------------------------------------------------------------------------------

    def story(self, value: str) -> str:
        """Everything the history knows about one value, for examples."""
        s = self.sends.get(value)
        parts = [repr(value)]
        if s is None:
            parts.append("never sent")
        else:
            parts.append(f"sent by {s.producer} #{s.seq} at {s.at:.2f}s"
                         + (f" to p{s.partition}" if s.partition is not None else ""))
            if s.ack is not None:
                extra = f" (acks: {s.acks})" if len(s.acks) > 1 else ""
                parts.append(f"acked p{s.ack[0]}@{s.ack[1]} at {s.ack_at:.2f}s{extra}")
            if s.error is not None:
                parts.append(f"failed ({'definite' if s.definite else 'maybe written'}) at "
                             f"{s.error_at:.2f}s: {s.error}")
        seen = [(c, p, o, t) for c, p, o, v, t in self.reads if v == value]
        if seen:
            parts.append("read " + ", ".join(f"by {c} p{p}@{o} at {t:.2f}s" for c, p, o, t in seen[:4])
                         + (f" (+{len(seen) - 4} more)" if len(seen) > 4 else ""))
        finals = [(p, o) for p, offs in self.finals.items() for o, v in offs.items() if v == value]
        parts.append("final: " + (", ".join(f"p{p}@{o}" for p, o in sorted(finals)) if finals else "absent"))
        near = [f"{t:.2f}s {text}" for t, text in self.faults
                if s is not None and s.at - 5 <= t <= (s.ack_at or s.error_at or s.at) + 5]
        if near:
            parts.append("faults nearby: " + "; ".join(near[:4]))
        return "; ".join(parts)

    def check(self) -> Report:
        with self._lock:
            if self._checked is None or self._checked[0] != self._version:
                self._checked = (self._version, self._check())
            return self._checked[1]

    def _check(self) -> Report:
        # (sort key, text, value whose story follows the text): stories are told for examples only
        # (a story scans the reads; 100,000 lost records must not cost 100,000 scans).
        found: dict[str, list[tuple[object, str, str | None]]] = {a: [] for a in ANOMALIES}

        def add(kind: str, key, text: str, story_of: str | None = None) -> None:
            found[kind].append((key, text, story_of))

        # Where each value sits in the final read.
        final_at: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for p, offs in self.finals.items():
            for o, v in offs.items():
                final_at[v].append((p, o))
        for p, o, a, b in self.final_dupes:
            add("inconsistent", (p, o), f"the final read saw two values at p{p}@{o}: {a!r} and {b!r}")

        # lost / inconsistent / duplicated acks / failed_present / unresolved
        for v, s in self.sends.items():
            if s.ack is not None:
                if self.final_done and not final_at.get(v):
                    add("lost", s.ack_at, "LOST ", v)
                distinct = sorted(set(s.acks))
                if len(distinct) > 1:
                    add("duplicated", distinct, f"acknowledged at {len(distinct)} positions: ", v)
                for p, o in distinct:
                    there = self.finals.get(p, {}).get(o)
                    # Another value at the acknowledged offset, or the value moved elsewhere. (Acked,
                    # absent everywhere and nothing at that offset is "lost" alone.)
                    if self.final_done and there != v and (there is not None or final_at.get(v)):
                        add("inconsistent", (p, o), f"acked at p{p}@{o}, final read has {there!r} there: ", v)
            elif s.error is None:
                add("unresolved", s.at, "UNRESOLVED ", v)
            if s.error is not None and s.definite and s.ack is None and final_at.get(v):
                add("failed_present", s.error_at, "failed definitely but present: ", v)
        for v, p, o in self.unknown_acks:
            add("unexpected", (p, o), f"acknowledgement p{p}@{o} for a value never sent: {v!r}")

        # duplicated: one value at two offsets of the final read, or of the consumer reads
        for v, places in final_at.items():
            if len(places) > 1:
                add("duplicated", sorted(places)[0], f"at {len(places)} offsets in the final read "
                    f"{sorted(places)}: ", v)
        read_at: dict[str, set[tuple[int, int]]] = defaultdict(set)
        for c, p, o, v, _ in self.reads:
            read_at[v].add((p, o))
        for v, places in read_at.items():
            if len(places) > 1 and set(final_at.get(v, [])) != places:
                add("duplicated", sorted(places)[0], f"consumers read it at {len(places)} offsets "
                    f"{sorted(places)}: ", v)

        # unexpected: read values nobody sent
        for v in set(read_at) | set(final_at):
            if v not in self.sends:
                where = sorted(read_at.get(v, set()) | set(final_at.get(v, [])))
                add("unexpected", where[0], f"{v!r} read at {where} but never sent")

        # phantom: read during the run, nothing or something else at that offset in the final read
        if self.final_done:
            reported: set[tuple[int, int, str]] = set()
            for c, p, o, v, t in self.reads:
                there = self.finals.get(p, {}).get(o)
                if there != v and (p, o, v) not in reported:
                    reported.add((p, o, v))
                    now = (f"{there!r}" if there is not None else "nothing")
                    add("phantom", (p, o), f"{c} read p{p}@{o} at {t:.2f}s; final read has {now} "
                        "there: ", v)

        # reordered: per idempotent producer and partition, seq order must equal offset order
        for name, idem in self.idempotent.items():
            if not idem:
                continue
            by_part: dict[int, list[tuple[int, int, str]]] = defaultdict(list)   # final: (offset, seq, value)
            acked: dict[int, list[tuple[int, int, str]]] = defaultdict(list)     # acks: (seq, offset, value)
            for v, s in self.sends.items():
                if s.producer != name:
                    continue
                for p, o in final_at.get(v, []):
                    by_part[p].append((o, s.seq, v))
                if s.ack is not None:
                    acked[s.ack[0]].append((s.seq, s.ack[1], v))
            for p, rows in by_part.items():
                rows.sort()
                for (o1, q1, v1), (o2, q2, v2) in zip(rows, rows[1:]):
                    if q2 < q1:
                        add("reordered", (p, o1), f"{name} p{p}: final read has #{q1} {v1!r} at {o1} "
                            f"before #{q2} {v2!r} at {o2}")
            for p, rows in acked.items():
                rows.sort()
                for (q1, o1, v1), (q2, o2, v2) in zip(rows, rows[1:]):
                    if o2 <= o1:
                        add("reordered", (p, o1), f"{name} p{p}: #{q1} {v1!r} acked at {o1} but later "
                            f"#{q2} {v2!r} acked at {o2}")

        counts = {a: len(found[a]) for a in ANOMALIES}
        examples = {}
        for a in ANOMALIES:
            try:
                items = sorted(found[a], key=lambda kv: kv[0])
            except TypeError:
                items = sorted(found[a], key=lambda kv: repr(kv[0]))
            ex = [text + (self.story(v) if v is not None else "") for _, text, v in items[:self.max_examples]]
            if len(items) > self.max_examples:
                ex.append(f"... and {len(items) - self.max_examples} more")
            examples[a] = ex
        acked = sum(1 for s in self.sends.values() if s.ack is not None)
        failed = sum(1 for s in self.sends.values() if s.ack is None and s.error is not None)
        final_n = sum(len(offs) for offs in self.finals.values())
        counts.update(sent=len(self.sends), acked=acked, failed=failed, reads=len(self.reads), final=final_n)
        summary = (f"history: {len(self.sends)} sent, {acked} acked, {failed} failed, "
                   f"{len(self.sends) - acked - failed} unresolved, {len(self.reads)} reads, {final_n} in the "
                   f"final read" + ("" if self.final_done else " (INCOMPLETE: lost/phantom not checked)")
                   + f"; {len(self.faults)} faults")
        if self.faults:
            summary += "\ntimeline: " + "; ".join(f"{t:.2f}s {text}" for t, text in self.faults[:30])
        return Report(counts, examples, summary)
