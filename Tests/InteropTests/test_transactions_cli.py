"""`runnel txn` and `runnel consume --isolation` against a hanging transaction (confluent-kafka producer
that begins, writes and never ends): `txn list` and `txn describe` show it Ongoing with its partition,
`txn producers` shows where it starts, `consume --isolation read_committed -e` stops before it (the last
stable offset) while read_uncommitted reads everything; `txn abort --start-offset` (kafka-transactions.sh
semantics: DescribeProducers finds the producer, WriteTxnMarkers ABORT to the leader) ends it, after which
read_committed moves past it and never shows its records. Mistakes are one-line errors with exit 1 / 2."""
from __future__ import annotations

import pytest
from confluent_kafka import KafkaException

import cli_support as cli
from conftest import unique
from runnel_interop import clients, records
from runnel_interop import txn as T

pytestmark = pytest.mark.needs_broker


def consume(runnel_bin, b, topic, isolation) -> list[int]:
    res = cli.ok(runnel_bin, "consume", topic, "-e", "-f", "json", "--isolation", isolation, brokers=b.bootstrap)
    return [records.index_of(topic, r["key"]) for r in cli.json_lines(res.stdout)]


@pytest.mark.timeout(120)
def test_cli_shows_and_aborts_a_hanging_transaction(runnel_bin, txn_broker):
    b = txn_broker
    t, tid = unique("cli-txn"), unique("cli-txn-tid")
    clients.create_topic(b.bootstrap, t, partitions=1)
    clients.confluent_produce(b.bootstrap, t, t, range(0, 5), config={"enable.idempotence": True})
    hanging = T.confluent_txn_producer(b.bootstrap, tid, **{"transaction.timeout.ms": 90000})
    hanging.begin_transaction()
    for i in range(5, 10):
        hanging.produce(t, key=records.key(t, i).encode(), value=records.value(t, i, 100).encode(), partition=0)
    assert hanging.flush(30) == 0
    clients.confluent_produce(b.bootstrap, t, t, range(10, 15), config={"enable.idempotence": True})
    try:
        listed = cli.json_out(runnel_bin, "txn", "list", brokers=b.bootstrap)
        mine = [x for x in listed if x["transactionalId"] == tid]
        assert len(mine) == 1 and mine[0]["state"] == "Ongoing", listed
        pid = mine[0]["producerId"]
        assert tid in {x["transactionalId"] for x in cli.json_out(runnel_bin, "txn", "list", "--state", "Ongoing",
                                                                  brokers=b.bootstrap)}
        assert tid not in {x["transactionalId"] for x in cli.json_out(runnel_bin, "txn", "list", "--state", "CompleteCommit",
                                                                      brokers=b.bootstrap)}
        assert [x["transactionalId"] for x in cli.json_out(runnel_bin, "txn", "list", "--producer-id", str(pid),
                                                           brokers=b.bootstrap)] == [tid]
        table = cli.ok(runnel_bin, "txn", "list", brokers=b.bootstrap).stdout
        assert table.splitlines()[0].split() == ["TRANSACTIONAL-ID", "COORDINATOR", "PRODUCER-ID", "STATE"]
        assert any(line.split()[0] == tid and line.split()[-1] == "Ongoing" for line in table.splitlines()[1:]), table

        described = cli.json_out(runnel_bin, "txn", "describe", tid, brokers=b.bootstrap)
        d = described["transaction"]
        assert (d["state"], d["producerId"], d["transactionTimeoutMs"]) == ("Ongoing", pid, 90000), d
        assert d["partitions"] == [{"topic": t, "partition": 0}], d
        assert d["transactionStartTimeMs"] > 0 and described["durationMs"] >= 0
        table = cli.ok(runnel_bin, "txn", "describe", tid, brokers=b.bootstrap).stdout
        assert "Ongoing" in table and f"{t}-0" in table, table

        producers = cli.json_out(runnel_bin, "txn", "producers", "--topic", t, "--partition", "0", brokers=b.bootstrap)
        ours = [x for x in producers if x["producerId"] == pid]
        assert len(ours) == 1 and ours[0]["currentTransactionStartOffset"] == 5, producers

        # read_committed stops at the hanging transaction; read_uncommitted reads everything.
        assert consume(runnel_bin, b, t, "read_committed") == list(range(5))
        assert consume(runnel_bin, b, t, "read_uncommitted") == list(range(15))

        bad = cli.run(runnel_bin, "txn", "abort", "--topic", t, "--partition", "0", "--start-offset", "7", brokers=b.bootstrap)
        cli.assert_one_line_error(bad, 1, "offset 7")
        usage = cli.run(runnel_bin, "txn", "abort", "--topic", t, "--partition", "0", brokers=b.bootstrap)
        assert usage.returncode == 2 and "--start-offset" in usage.stderr, usage.stderr

        aborted = cli.json_out(runnel_bin, "txn", "abort", "--topic", t, "--partition", "0", "--start-offset", "5",
                               brokers=b.bootstrap)
        assert aborted["aborted"]["producerId"] == pid, aborted
        assert consume(runnel_bin, b, t, "read_committed") == [*range(5), *range(10, 15)]
        assert consume(runnel_bin, b, t, "read_uncommitted") == list(range(15))
        producers = cli.json_out(runnel_bin, "txn", "producers", "--topic", t, "--partition", "0", brokers=b.bootstrap)
        assert [x["currentTransactionStartOffset"] for x in producers if x["producerId"] == pid] == [None]
        fate = T.check_views(b.port, t, 0, [{"p": 0, "o": o} for o in range(5)] + [{"p": 0, "o": o} for o in range(10, 15)])
        assert fate["aborted"] == set(range(5, 10)), fate
    finally:
        try:
            hanging.abort_transaction(10)
        except KafkaException:
            pass  # the coordinator may refuse: the partition's transaction was aborted behind its back


@pytest.mark.timeout(60)
def test_cli_txn_errors_are_one_line(runnel_bin, txn_broker):
    b = txn_broker
    res = cli.run(runnel_bin, "txn", "describe", unique("no-such-tid"), brokers=b.bootstrap)
    cli.assert_one_line_error(res, 1, "transactional")
    res = cli.run(runnel_bin, "txn", "producers", "--topic", unique("no-such-topic"), "--partition", "0", brokers=b.bootstrap)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    res = cli.run(runnel_bin, "txn", "abort", "--topic", "x", "--partition", "0", "--start-offset", "1",
                  "--producer-id", "5", brokers=b.bootstrap)
    assert res.returncode == 2 and "not both" in res.stderr, res.stderr
    res = cli.run(runnel_bin, "consume", "x", "--isolation", "serializable", brokers=b.bootstrap)
    cli.assert_one_line_error(res, 2, "isolation")
