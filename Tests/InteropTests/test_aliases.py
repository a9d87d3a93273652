"""Topic aliases (a Runnel extension): `runnel alias` end to end, aliases managed by the Java and
kafka-python admin clients through plain config requests, librdkafka / kafka-python / Java producing,
consuming and committing through an alias (the broker acts on the target and answers under the
alias, with the target's topic id), producers following a swap at their next metadata refresh, and
bad input: cycles, missing targets, names colliding with topics, racing swaps (exactly one wins)."""
from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import cli_support as cli
from conftest import unique
from runnel_interop import clients, records

pytestmark = pytest.mark.needs_broker


def make_topics(bootstrap: str, *names: str, partitions: int = 1) -> None:
    for name in names:
        clients.create_topic(bootstrap, name, partitions=partitions)


def topic_id(runnel_bin, bootstrap, name) -> str:
    return cli.json_out(runnel_bin, "topic", "describe", name, brokers=bootstrap)[0]["topicId"]


def alias_target(runnel_bin, bootstrap, alias) -> str:
    return cli.json_out(runnel_bin, "alias", "describe", alias, brokers=bootstrap)["target"]


def test_alias_lifecycle_with_the_cli(runnel_bin, broker):
    b = broker.bootstrap
    v1, v2, alias = unique("al-v1"), unique("al-v2"), unique("al-serving")
    make_topics(b, v1, v2, partitions=2)
    res = cli.ok(runnel_bin, "alias", "create", alias, "--to", v1, brokers=b)
    assert f"Created alias {alias} -> {v1}." in res.stdout
    assert {"alias": alias, "target": v1} in cli.json_out(runnel_bin, "alias", "list", brokers=b)
    described = cli.json_out(runnel_bin, "alias", "describe", alias, brokers=b)
    assert described == {"alias": alias, "target": v1, "topicId": topic_id(runnel_bin, b, v1), "partitions": 2}
    # The alias is not a topic of its own in the topic listing (pattern subscribers would read twice).
    assert alias not in [t["name"] for t in cli.json_out(runnel_bin, "topic", "list", brokers=b)]

    cli.assert_one_line_error(cli.run(runnel_bin, "alias", "swap", alias, "--to", v2, "--expect", v2, brokers=b),
                              1, f"points to '{v1}', not '{v2}'")
    assert alias_target(runnel_bin, b, alias) == v1
    swapped = cli.json_out(runnel_bin, "alias", "swap", alias, "--to", v2, "--expect", v1, brokers=b)
    assert swapped == {"alias": alias, "from": v1, "to": v2, "offsets": {}}
    described = cli.json_out(runnel_bin, "alias", "describe", alias, brokers=b)
    assert (described["target"], described["topicId"]) == (v2, topic_id(runnel_bin, b, v2))

    cli.ok(runnel_bin, "alias", "delete", alias, "--expect", v2, brokers=b)
    assert alias not in [a["alias"] for a in cli.json_out(runnel_bin, "alias", "list", brokers=b)]
    cli.assert_one_line_error(cli.run(runnel_bin, "alias", "delete", alias, brokers=b), 1, "no alias")


def test_bad_alias_changes_are_refused_with_clear_errors(runnel_bin, broker):
    b = broker.bootstrap
    v1, v2, alias = unique("bad-v1"), unique("bad-v2"), unique("bad-serving")
    make_topics(b, v1, v2)
    cli.ok(runnel_bin, "alias", "create", alias, "--to", v1, brokers=b)
    cases = [
        (["alias", "create", unique("chain"), "--to", alias], "itself an alias"),           # alias to an alias
        (["alias", "swap", alias, "--to", alias], "itself an alias"),                        # a cycle of one
        (["alias", "create", unique("dangling"), "--to", unique("missing")], "no such topic"),
        (["alias", "swap", alias, "--to", unique("missing")], "no such topic"),
        (["alias", "create", v2, "--to", v1], "is a topic"),                                 # name taken by a topic
        (["alias", "create", alias, "--to", v2], "already exists"),
        (["alias", "create", "__consumer_offsets_x", "--to", v1], "internal"),
        (["alias", "create", "bad name!", "--to", v1], "illegal"),
        (["alias", "create", unique("internal"), "--to", "__consumer_offsets"], "internal topic"),
        (["topic", "create", alias], "is an alias"),                                         # CreateTopics
        (["topic", "delete", v1], "target of alias"),                                        # DeleteTopics
        (["topic", "delete", alias], "is an alias"),
        (["alias", "describe", v1], "is a topic, not an alias"),
    ]
    for args, needle in cases:
        res = cli.run(runnel_bin, *args, brokers=b)
        cli.assert_one_line_error(res, 1, needle)
    assert alias_target(runnel_bin, b, alias) == v1
    # --force deletes the aliases pointing at the topic, then the topic.
    cli.ok(runnel_bin, "topic", "delete", v1, "--force", brokers=b)
    assert alias not in [a["alias"] for a in cli.json_out(runnel_bin, "alias", "list", brokers=b)]


def test_racing_swaps_exactly_one_wins(runnel_bin, broker):
    b = broker.bootstrap
    v1, alias = unique("race-v1"), unique("race-serving")
    targets = [unique(f"race-t{i}") for i in range(6)]
    make_topics(b, v1, *targets)
    cli.ok(runnel_bin, "alias", "create", alias, "--to", v1, brokers=b)
    cmds = [[runnel_bin, "alias", "swap", alias, "--to", t, "--expect", v1, "--brokers", b] for t in targets]
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in cmds]
    outcomes = [(p.wait(timeout=60), p.stderr.read()) for p in procs]
    winners = [t for t, (code, _) in zip(targets, outcomes) if code == 0]
    assert len(winners) == 1, outcomes
    for code, stderr in outcomes:
        if code != 0:
            assert any(why in stderr for why in ("someone swapped first", "changed it first", "changed concurrently")), stderr
    assert alias_target(runnel_bin, b, alias) == winners[0]


def test_java_admin_manages_an_alias_with_config_requests(broker, java, runnel_bin):
    b = broker.bootstrap
    v1, v2, alias = unique("jadm-v1"), unique("jadm-v2"), unique("jadm-serving")
    clients.create_topic(b, v1, partitions=3, configs={"retention.ms": 3600000})
    make_topics(b, v2)
    r = java.run("admin", {"bootstrap": b, "ops": [
        {"op": "incrementalAlterConfigs", "name": alias, "set": {"runnel.alias.target": v1}},
        {"op": "describeConfigs", "topics": [alias]},
        {"op": "describeTopics", "names": [alias]},
        {"op": "incrementalAlterConfigs", "name": alias,
         "set": {"runnel.alias.target": v2, "runnel.alias.expected.target": v2}},
        {"op": "incrementalAlterConfigs", "name": alias, "set": {"retention.ms": "1"}},
        {"op": "createTopics", "topics": [{"name": alias, "partitions": 1}]},
    ]})
    res = r["results"]
    assert res[0]["ok"], res[0]
    configs = res[1]["result"][f"topic:{alias}"]["value"]
    assert configs["runnel.alias.target"]["value"] == v1
    assert configs["retention.ms"]["value"] == "3600000"  # the target's configs
    desc = res[2]["result"][alias]["value"]
    assert len(desc["partitions"]) == 3, desc
    assert not res[3]["ok"] and "someone changed it first" in res[3]["message"], res[3]
    assert not res[4]["ok"] and "is an alias" in res[4]["message"], res[4]
    created = res[5]["result"][alias]
    assert not created["ok"] and created["error"] == "TopicExistsException" and "is an alias" in created["message"], created
    assert alias_target(runnel_bin, b, alias) == v1


def test_kafka_python_admin_reads_and_sets_an_alias(broker, runnel_bin):
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
    b = broker.bootstrap
    v1, alias = unique("kpadm-v1"), unique("kpadm-serving")
    make_topics(b, v1)
    admin = KafkaAdminClient(bootstrap_servers=b, request_timeout_ms=15000)
    try:
        # kafka-python checks config names against what the broker describes; the alias is new.
        answer = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, alias, configs={"runnel.alias.target": v1})],
                                     raise_on_unknown=False, incremental=True)
        assert answer == {"topic": {alias: "OK"}}, answer
        assert alias_target(runnel_bin, b, alias) == v1
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, alias)])
        assert described["topic"][alias]["runnel.alias.target"]["value"] == v1, described
    finally:
        admin.close()


def test_clients_produce_consume_and_commit_through_an_alias(broker, java, tmp_path, runnel_bin, kcat_bin):
    b = broker.bootstrap
    target, alias = unique("thru-v1"), unique("thru-serving")
    make_topics(b, target)
    cli.ok(runnel_bin, "alias", "create", alias, "--to", target, brokers=b)
    # librdkafka and kafka-python (both by name) and Java write through the alias...
    res = clients.confluent_produce(b, alias, "ck", range(50))
    assert not res["errors"] and len(res["acks"]) == 50
    res = clients.kafka_python_produce(b, alias, "kp", range(50))
    assert not res["errors"] and len(res["acks"]) == 50
    r = java.run("produce", {"bootstrap": b, "topic": alias, "count": 50, "prefix": "jv", "partition": 0})
    assert r["acked"] == 50, r
    # ...the records are in the target...
    in_target = clients.confluent_consume(b, target)
    assert [m["o"] for m in in_target] == list(range(150))
    # ...and read back through the alias by every client, the same records at the same offsets.
    assert clients.confluent_consume(b, alias) == in_target
    assert [(m["o"], m["k"]) for m in clients.kafka_python_consume(b, alias)] == [(m["o"], m["k"]) for m in in_target]
    out = tmp_path / "java.jsonl"
    r = java.run("consume", {"bootstrap": b, "topic": alias, "out": str(out)})
    assert r["count"] == 150 and not r["timedOut"]
    assert [(m["o"], m["k"]) for m in records.read_jsonl(out)] == [(m["o"], m["k"]) for m in in_target]
    # A group committing on the alias commits the target's offsets (and reads them back under the alias).
    from kafka import KafkaConsumer, TopicPartition
    group = unique("thru-g")
    c = KafkaConsumer(bootstrap_servers=b, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest")
    try:
        tp = TopicPartition(alias, 0)
        c.assign([tp])
        from kafka.structs import OffsetAndMetadata
        c.commit({tp: OffsetAndMetadata(120, "", -1)})
        assert c.committed(tp) == 120
    finally:
        c.close()
    report = cli.json_out(runnel_bin, "group", "describe", group, brokers=b)
    assert [(o["topic"], o["committedOffset"]) for o in report["offsets"]] == [(target, 120)]
    # kcat's metadata shows the alias with the target's partitions.
    md = clients.kcat_metadata(kcat_bin, b, alias)
    assert [t["topic"] for t in md["topics"]] == [alias] and len(md["topics"][0]["partitions"]) == 1


@pytest.mark.parametrize("client", ["java", "librdkafka"])
def test_a_producer_follows_a_swap_at_its_next_metadata_refresh(client, broker, java, runnel_bin):
    b = broker.bootstrap
    v1, v2, alias = unique("follow-v1"), unique("follow-v2"), unique("follow-serving")
    make_topics(b, v1, v2)
    cli.ok(runnel_bin, "alias", "create", alias, "--to", v1, brokers=b)
    # Java paces at 100 records/s: 1,000 leave it sending for seconds after the swap even when the
    # swap's CLI process is slow to start on a loaded machine (400 could all be sent before it).
    count, prefix = (1000 if client == "java" else 400), unique("fp")
    if client == "java":
        proc = java.start("produce", {"bootstrap": b, "topic": alias, "count": count, "prefix": prefix, "partition": 0,
                                      "ratePerSec": 100, "progressEvery": 10, "props": {"metadata.max.age.ms": 500}})
        try:
            proc.wait_acked(100, timeout=60)
            cli.ok(runnel_bin, "alias", "swap", alias, "--to", v2, "--expect", v1, brokers=b)
            sent_by_swap = proc.acked  # the producer keeps sending (paced) while the swap runs
            r = proc.result(timeout=120)
        finally:
            proc.kill()
        assert r["acked"] == count and r["failed"] == 0, r
    else:
        state = {}

        def between(n, acks, producer):
            time.sleep(0.01)
            if n == 100:
                producer.flush(30)
                cli.ok(runnel_bin, "alias", "swap", alias, "--to", v2, "--expect", v1, brokers=b)
                state["sent_by_swap"] = n  # this producer waits for the swap

        res = clients.confluent_produce(b, alias, prefix, range(count), between=between,
                                        config={"topic.metadata.refresh.interval.ms": 500})
        assert not res["errors"] and len(res["acks"]) == count, res["errors"]
        sent_by_swap = state["sent_by_swap"]
    got_v1 = [records.index_of(prefix, m["k"]) for m in clients.confluent_consume(b, v1)]
    got_v2 = [records.index_of(prefix, m["k"]) for m in clients.confluent_consume(b, v2)]
    # Every record exactly once, in order: the first ones in v1, then (from a metadata refresh after
    # the swap on) the rest in v2.
    assert got_v1 + got_v2 == list(range(count)), (len(got_v1), len(got_v2))
    assert len(got_v1) >= 100 and len(got_v2) > 0
    # At about 100 records/s and a 500 ms metadata refresh, the producer moved within one refresh
    # (plus 1.5 s of slack for a loaded machine) of the swap's answer.
    assert len(got_v1) <= sent_by_swap + 200, (len(got_v1), sent_by_swap)


@pytest.mark.parametrize("client", ["java", "librdkafka"])
def test_a_consumer_started_after_a_swap_reads_the_new_target(client, broker, java, tmp_path, runnel_bin):
    b = broker.bootstrap
    v1, v2, alias = unique("after-v1"), unique("after-v2"), unique("after-serving")
    make_topics(b, v1, v2)
    assert not clients.confluent_produce(b, v1, "old", range(30))["errors"]
    assert not clients.confluent_produce(b, v2, "new", range(40))["errors"]
    cli.ok(runnel_bin, "alias", "create", alias, "--to", v1, brokers=b)
    assert len(clients.confluent_consume(b, alias)) == 30
    cli.ok(runnel_bin, "alias", "swap", alias, "--to", v2, brokers=b)
    if client == "java":
        out = tmp_path / "after.jsonl"
        r = java.run("consume", {"bootstrap": b, "topic": alias, "out": str(out)})
        got = records.read_jsonl(out)
        assert r["count"] == 40 and r["endOffsets"] == {"0": 40}, r
    else:
        got = clients.confluent_consume(b, alias)
    assert [records.index_of("new", m["k"]) for m in got] == list(range(40))


def test_aliases_are_cluster_metadata_every_broker_resolves(runnel_bin, tmp_path_factory):
    from conftest import running_cluster
    with running_cluster(runnel_bin, tmp_path_factory.mktemp("alias-cluster"), nodes=3) as c:
        nodes = [f"127.0.0.1:{p}" for p in c.ports]
        everyone = ",".join(nodes)
        v1, v2, v3, alias = unique("cl-v1"), unique("cl-v2"), unique("cl-v3"), unique("cl-serving")
        for name in (v1, v2, v3):
            cli.ok(runnel_bin, "topic", "create", name, "-p", "2", "-r", "3", brokers=everyone)
        cli.ok(runnel_bin, "alias", "create", alias, "--to", v1, brokers=nodes[0])
        deadline = time.monotonic() + 30
        for node in nodes:  # every broker's image has the alias (it lives in etcd)
            while True:
                res = cli.run(runnel_bin, "alias", "describe", alias, "--format", "json", brokers=node)
                if res.returncode == 0:
                    break
                assert time.monotonic() < deadline, res.stderr
                time.sleep(0.1)
        res = clients.confluent_produce(nodes[1], alias, "cl", range(20), partition=None)
        assert not res["errors"] and len(res["acks"]) == 20
        assert len(clients.confluent_consume(everyone, v1, partitions=(0, 1))) == 20
        # Two swaps through two different brokers, from the same state: exactly one wins.
        procs = [subprocess.Popen([runnel_bin, "alias", "swap", alias, "--to", t, "--expect", v1, "--brokers", n],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for t, n in ((v2, nodes[1]), (v3, nodes[2]))]
        codes = [p.wait(timeout=60) for p in procs]
        assert sorted(codes) == [0, 1], [p.stderr.read() for p in procs]
        winner = v2 if codes[0] == 0 else v3
        assert alias_target(runnel_bin, nodes[0], alias) == winner
        # The topic an alias points to cannot be deleted through any broker.
        cli.assert_one_line_error(cli.run(runnel_bin, "topic", "delete", winner, brokers=nodes[2]), 1, "target of alias")


def test_replay_through_an_alias_starts_the_group_on_the_target(runnel_bin, broker):
    b = broker.bootstrap
    target, alias, group = unique("rp-v1"), unique("rp-serving"), unique("rp-g")
    make_topics(b, target, partitions=2)
    for p in range(2):
        assert not clients.confluent_produce(b, target, "rp", range(10), partition=p, ts_base=1_000_000, ts_step=1000)["errors"]
    cli.ok(runnel_bin, "alias", "create", alias, "--to", target, brokers=b)
    started = cli.json_lines(cli.ok(runnel_bin, "replay", "--topic", alias, "--from", "@1004000", "--group", group,
                                    "--format", "json", brokers=b).stdout)[0]
    assert [(p["start"], p["end"]) for p in started["partitions"]] == [(4, 10), (4, 10)]
    report = cli.json_out(runnel_bin, "group", "describe", group, brokers=b)
    assert sorted((o["topic"], o["partition"], o["committedOffset"]) for o in report["offsets"]) == \
        [(target, 0, 4), (target, 1, 4)]
