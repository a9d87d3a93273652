"""ApiVersions over a raw socket, the first thing every client sends: v0 and v3 answer with the
same ranges, every advertised range lies inside what Kafka 4.3's schemas allow, the APIs clients
need to produce and consume are there, and an unknown ApiVersions version gets
UNSUPPORTED_VERSION in the v0 format with the broker's ranges (so a newer client can downgrade)."""
from __future__ import annotations

import pytest

from runnel_interop import wire

pytestmark = pytest.mark.needs_broker

REQUIRED = {0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 18: "ApiVersions"}


def test_v0_and_v3_advertise_the_same_kafka_compatible_ranges(broker):
    v0 = wire.api_versions_roundtrip(broker.port, version=0, correlation_id=100)
    v3 = wire.api_versions_roundtrip(broker.port, version=3, correlation_id=101)
    assert (v0["correlation_id"], v0["error_code"]) == (100, 0)
    assert (v3["correlation_id"], v3["error_code"]) == (101, 0)
    assert v0["api_versions"] == v3["api_versions"]
    apis = v3["api_versions"]
    missing = {k: n for k, n in REQUIRED.items() if k not in apis}
    assert not missing, f"required APIs not advertised: {missing}"
    # Upper bounds: no version past the 4.3 schemas (nothing to generate it from). Lower bounds:
    # Kafka 4 dropped old versions (KIP-896); accepting more is a documented choice, not checked
    # here, but every range must reach into Kafka 4.3's.
    outside = {wire.api_name(k): (lo, hi) for k, (lo, hi) in apis.items()
               if k not in wire.KAFKA_43_VERSIONS or hi > wire.KAFKA_43_VERSIONS[k][1]
               or hi < wire.KAFKA_43_VERSIONS[k][0] or lo > hi}
    assert not outside, f"ranges outside Kafka 4.3's: {outside}"
    assert apis[18][0] == 0 and apis[18][1] >= 3, "ApiVersions must span v0..v3+ (clients start at v3/v4)"


@pytest.mark.parametrize("version", [5, 99, 32767])
def test_unknown_api_versions_version_answers_unsupported_version_in_v0_format(broker, version):
    resp = wire.api_versions_roundtrip(broker.port, version=version, correlation_id=4242)
    assert resp["correlation_id"] == 4242
    assert resp["error_code"] == wire.UNSUPPORTED_VERSION
    assert 18 in resp["api_versions"], "the error answer must still list ApiVersions' range"
    assert resp["api_versions"][18][1] >= 3


def test_several_requests_on_one_connection_are_answered_in_order(broker):
    import time
    deadline = time.monotonic() + 10
    with wire.connect(broker.port) as s:
        s.sendall(b"".join(wire.api_versions_request(v, 500 + n) for n, v in enumerate([0, 1, 2, 3, 3, 0])))
        got = [wire.Reader(wire.read_frame(s, deadline)).i32() for _ in range(6)]
    assert got == [500, 501, 502, 503, 504, 505]
