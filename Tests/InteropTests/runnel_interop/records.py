"""The deterministic record scheme shared by every client in the suite, and exact verification.
Record i of a run with prefix P: key "P-0000042", value "P:value:42:" padded to `value_size` with
an alphabet rotated by i, headers [("idx", "42"), ("client", <client>)] (kcat cannot set headers
per record, so its runs use fixed headers). tools/interop/java/RecordScheme.java is the Java twin.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

PAD = "abcdefghijklmnopqrstuvwxyz0123456789"


def key(prefix: str, i: int) -> str:
    return f"{prefix}-{i:07d}"


def value(prefix: str, i: int, size: int) -> str:
    head = f"{prefix}:value:{i}:"
    if len(head) >= size:
        return head
    rot = i % len(PAD)
    block = PAD[rot:] + PAD[:rot]
    need = size - len(head)
    return head + (block * (need // len(block) + 1))[:need]


def headers(i: int, client: str) -> list[tuple[str, str]]:
    return [("idx", str(i)), ("client", client)]


def index_of(prefix: str, k: str) -> int:
    if not k.startswith(prefix + "-"):
        raise AssertionError(f"foreign key {k!r} (expected prefix {prefix!r})")
    return int(k[len(prefix) + 1:])


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def verify(records: list[dict], prefix: str, expected_indices, value_size: int, client: str | None,
           fixed_headers: list[tuple[str, str]] | None = None, single_partition_in_order: bool = True,
           first_offset: int = 0) -> None:
    """Exact verification of consumed records, each a dict {p, o, k, v, h: [[k, v], ...], ts?}.

    - every expected index appears exactly once, and nothing else appears;
    - each record's value and headers are exactly the scheme's;
    - offsets in each partition are unique and contiguous from the partition's first offset, and
      with `single_partition_in_order` record at offset first_offset+n is index expected[n].
    """
    expected = list(expected_indices)
    seen = Counter()
    problems = []
    for r in records:
        i = index_of(prefix, r["k"])
        seen[i] += 1
        if r["v"] != value(prefix, i, value_size):
            problems.append(f"offset {r['o']}: value of record {i} differs: {r['v'][:60]!r}")
        want_h = fixed_headers if fixed_headers is not None else headers(i, client)
        got_h = [tuple(h) for h in r["h"]]
        if got_h != [tuple(h) for h in want_h]:
            problems.append(f"offset {r['o']}: headers of record {i} are {got_h}, expected {want_h}")
        if len(problems) >= 10:
            break
    dupes = {i: c for i, c in seen.items() if c > 1}
    missing = [i for i in expected if i not in seen]
    extra = sorted(set(seen) - set(expected))
    assert not problems, "record content mismatches:\n" + "\n".join(problems)
    assert not dupes, f"{len(dupes)} records seen more than once, e.g. {sorted(dupes.items())[:5]}"
    assert not missing, f"{len(missing)} of {len(expected)} records missing, e.g. {missing[:10]}"
    assert not extra, f"{len(extra)} unexpected records, e.g. {extra[:10]}"
    assert len(records) == len(expected), f"{len(records)} records, expected {len(expected)}"

    by_partition: dict[int, list[int]] = {}
    for r in records:
        by_partition.setdefault(r["p"], []).append(r["o"])
    for p, offs in by_partition.items():
        offs.sort()
        start = first_offset if single_partition_in_order else offs[0]
        assert offs == list(range(start, start + len(offs))), (
            f"partition {p}: offsets not contiguous from {start}: first {offs[:5]}, last {offs[-5:]}")
    if single_partition_in_order:
        assert set(by_partition) == {0} or len(by_partition) == 1, f"records in {sorted(by_partition)}"
        ordered = sorted(records, key=lambda r: r["o"])
        got = [index_of(prefix, r["k"]) for r in ordered]
        assert got == expected, "records are not in produce order: first difference at offset " + str(
            next(first_offset + n for n, (a, b) in enumerate(zip(got, expected)) if a != b))
