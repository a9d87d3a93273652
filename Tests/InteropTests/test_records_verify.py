"""The exact-verification helper itself (no broker): it accepts precisely the records sent and
rejects a duplicate, a missing record, a foreign record, a changed value or header, a gap in the
offsets and a reordering — so the client tests that rely on it can fail."""
from __future__ import annotations

import copy

import pytest

from runnel_interop import records


def sent(n=20, prefix="p", client="c"):
    return [{"p": 0, "o": i, "k": records.key(prefix, i), "v": records.value(prefix, i, 50),
             "h": [list(h) for h in records.headers(i, client)]} for i in range(n)]


def test_accepts_exactly_what_was_sent():
    records.verify(sent(), "p", range(20), 50, "c")


def test_value_scheme_is_stable():
    assert records.key("t", 42) == "t-0000042"
    assert records.value("t", 42, 30) == "t:value:42:ghijklmnopqrstuvwxy"
    assert len(records.value("t", 7, 100)) == 100


def mutate(fn):
    rs = sent()
    fn(rs)
    return rs


@pytest.mark.parametrize("name,fn,message", [
    ("duplicate", lambda rs: rs.append({**copy.deepcopy(rs[3]), "o": 20}), "more than once"),
    ("missing", lambda rs: rs.pop(), "missing"),
    ("foreign", lambda rs: rs.append({**copy.deepcopy(rs[0]), "k": "p-0000099", "v": records.value("p", 99, 50),
                                      "h": [["idx", "99"], ["client", "c"]], "o": 20}), "unexpected"),
    ("value", lambda rs: rs[5].__setitem__("v", "x"), "value of record 5"),
    ("header", lambda rs: rs[6]["h"].pop(), "headers of record 6"),
    ("gap", lambda rs: rs[-1].__setitem__("o", 25), "not contiguous"),
    ("order", lambda rs: (rs[1].__setitem__("o", 2), rs[2].__setitem__("o", 1)), "produce order"),
])
def test_rejects(name, fn, message):
    with pytest.raises(AssertionError, match=message):
        records.verify(mutate(fn), "p", range(20), 50, "c")
