"""ACL authorization with real clients (issue 13): StandardAuthorizer semantics over ACLs kept in
the metadata store, managed with `runnel acl` (kafka-acls.sh flags, authenticated with -X) and with
confluent-kafka's AdminClient. The matrix below is the documented outcome (docs/security.md) for
each API × resource × allow / deny / no ACL, with prefixed patterns and a deny overriding an allow;
the principals authenticate with SASL/PLAIN."""
from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka import TopicPartition as CkTopicPartition
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType, AdminClient,
                                   ConfigResource, NewTopic, OffsetSpec, ResourcePatternType, ResourceType)

import cli_support as cli
import conftest
from conftest import unique
from runnel_interop import wire
from runnel_interop.broker import BrokerProcess, free_port
from runnel_interop.java import JavaError
from runnel_interop.security import java_props, plain_jaas, serve_sasl_broker

pytestmark = [pytest.mark.needs_broker]

USERS = {"admin": "admin-secret", "alice": "alice-secret", "bob": "bob-secret", "mallory": "mallory-secret"}
JAAS = plain_jaas(USERS)


@pytest.fixture(scope="module")
def acl_broker(runnel_bin, tmp_path_factory):
    yield from serve_sasl_broker(runnel_bin, tmp_path_factory.mktemp("acl-broker"), conftest._active, USERS, {
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:admin",
        "auto.create.topics.enable": False,
    })


def props(user: str) -> dict:
    return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.username": user,
            "sasl.password": USERS[user]}


def boot(b) -> str:
    return f"127.0.0.1:{b.sasl_port}"


def admin(b, user="admin") -> AdminClient:
    return AdminClient({"bootstrap.servers": boot(b), "socket.timeout.ms": 10000, **props(user)})


def create_topics(b, *names: str) -> None:
    a = admin(b)
    futs = a.create_topics([NewTopic(n, 1, 1) for n in names], operation_timeout=30)
    for fut in futs.values():
        fut.result(30)


def acl_cli(runnel_bin, b, *args, user="admin"):
    x = [a for k, v in props(user).items() for a in ("-X", f"{k}={v}")]
    return cli.run(runnel_bin, "acl", *args, *x, brokers=boot(b))


def produce_error(b, user: str, topic: str, idempotent: bool = False):
    """The error name of producing one record (None when acknowledged)."""
    result: list = []
    p = Producer({"bootstrap.servers": boot(b), "enable.idempotence": idempotent, "acks": "all",
                  "message.timeout.ms": 10000, "socket.timeout.ms": 10000, **props(user)})
    p.produce(topic, b"v", on_delivery=lambda err, msg: result.append(err))
    try:
        p.flush(20)
    except KafkaException as e:  # a fatal error (idempotence PID refused) is raised, not reported
        return e.args[0].name()
    assert result, "no delivery report"
    return None if result[0] is None else result[0].name()


def consume(b, user: str, topic: str, group: str | None = None, timeout: float = 15):
    """(records, error name) reading the topic from the beginning."""
    conf = {"bootstrap.servers": boot(b), "auto.offset.reset": "earliest", "enable.auto.commit": False,
            "enable.partition.eof": True, **props(user)}
    # Without a group of its own the consumer assigns, in a group everyone may use (User:* below).
    conf["group.id"] = group or unique("assign-")
    reported: list = []
    conf["error_cb"] = reported.append  # librdkafka reports some authorization failures here
    c = Consumer(conf)
    got, error = [], None
    try:
        if group:
            c.subscribe([topic])
        else:
            c.assign([CkTopicPartition(topic, 0, 0)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and error is None:
            denials = [e for e in reported if "AUTHORIZATION" in e.name()]
            if denials:
                error = denials[0].name()
                break
            for m in c.consume(num_messages=100, timeout=0.5):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        return got, None
                    error = m.error().name()
                else:
                    got.append(m.value())
    finally:
        c.close()
    return got, error


def list_offsets_error(b, user: str, topic: str) -> int:
    """ListOffsets v1 for partition 0 on a SASL/PLAIN-authenticated raw connection: its error code."""
    s = wire.connect(b.sasl_port)
    try:
        def call(api, version, correlation, body):
            s.sendall(wire.frame(wire.request_header(api, version, correlation, "acl-test", False) + body))
            r = wire.Reader(wire.read_frame(s, time.monotonic() + 10))
            assert r.i32() == correlation
            return r
        assert call(17, 1, 1, wire.string("PLAIN")).i16() == 0
        assert call(36, 1, 2, wire.nbytes(f"\0{user}\0{USERS[user]}".encode())).i16() == 0
        body = wire.i32(-1) + wire.i32(1) + wire.string(topic) + wire.i32(1) + wire.i32(0) + wire.i64(-1)
        r = call(2, 1, 3, body)
        assert r.i32() == 1 and r.string() == topic and r.i32() == 1 and r.i32() == 0
        return r.i16()
    finally:
        s.close()


def test_acl_matrix(runnel_bin, acl_broker, java):
    b = acl_broker
    t_allow, t_none, t_deny = unique("acl-allow"), unique("acl-none"), unique("acl-deny")
    prefix = unique("app") + "-"
    t_pre = prefix + "orders"
    create_topics(b, t_allow, t_none, t_deny, t_pre)
    for t in (t_allow, t_none, t_deny, t_pre):
        assert produce_error(b, "admin", t) is None  # the super user may do anything

    # ACLs with kafka-acls.sh's flags, authenticated as the super user.
    for args in (
        ["--allow-principal", "User:alice", "--operation", "Write", "--operation", "Read", "--topic", t_allow],
        ["--allow-principal", "User:alice", "--operation", "All", "--topic", t_deny],
        ["--deny-principal", "User:alice", "--operation", "Write", "--topic", t_deny],
        ["--allow-principal", "User:bob", "--operation", "Read", "--topic", prefix, "--resource-pattern-type", "prefixed"],
        ["--allow-principal", "User:bob", "--operation", "Read", "--group", "bob-group"],
        ["--allow-principal", "User:alice", "--operation", "Create", "--cluster"],
        ["--allow-principal", "User:*", "--operation", "Read", "--group", "assign-", "--resource-pattern-type", "prefixed"],
    ):
        res = acl_cli(runnel_bin, b, "add", *args)
        assert res.returncode == 0, res.stderr
    listed = cli.json_out(runnel_bin, "acl", "list", "--topic", t_deny,
                          *[a for k, v in props("admin").items() for a in ("-X", f"{k}={v}")], brokers=boot(b))
    assert sorted((r["principal"], r["operation"], r["permission"]) for r in listed) == [
        ("User:alice", "All", "ALLOW"), ("User:alice", "Write", "DENY")]

    # Produce (WRITE on the topic; idempotence off, so no IdempotentWrite is needed)
    assert produce_error(b, "alice", t_allow) is None                         # literal allow
    assert produce_error(b, "alice", t_none) == "TOPIC_AUTHORIZATION_FAILED"  # no ACL, allow.everyone.if.no.acl.found=false
    assert produce_error(b, "alice", t_deny) == "TOPIC_AUTHORIZATION_FAILED"  # deny Write wins over allow All
    assert produce_error(b, "bob", t_pre) == "TOPIC_AUTHORIZATION_FAILED"     # prefixed Read does not grant Write
    # Idempotent producer: IdempotentWrite on the cluster, or Write on some topic (KIP-679)
    assert produce_error(b, "alice", t_allow, idempotent=True) is None
    assert produce_error(b, "bob", t_pre, idempotent=True) in ("CLUSTER_AUTHORIZATION_FAILED", "TOPIC_AUTHORIZATION_FAILED")

    # Fetch (READ on the topic)
    got, err = consume(b, "alice", t_allow)
    assert err is None and len(got) >= 2
    got, err = consume(b, "bob", t_pre)                                       # prefixed allow
    assert err is None and len(got) == 1
    # No ACL for mallory: Metadata and Fetch answer TOPIC_AUTHORIZATION_FAILED; librdkafka's assign()
    # waits silently on it, the Java consumer raises it.
    got, err = consume(b, "mallory", t_allow, timeout=5)
    assert got == []
    with pytest.raises(JavaError, match="TopicAuthorizationException"):
        java.run("consume", {"bootstrap": boot(b), "topic": t_allow, "out": "/dev/null", "expected": 1,
                             "timeoutMs": 15000,
                             "props": java_props("SASL_PLAINTEXT", None, "PLAIN", "mallory", USERS["mallory"])})
    got, err = consume(b, "alice", t_deny)                                    # deny Write does not deny Read
    assert err is None and len(got) == 1

    # Consumer groups (READ on the group)
    got, err = consume(b, "bob", t_pre, group="bob-group")
    assert err is None and len(got) == 1
    got, err = consume(b, "bob", t_pre, group="other-group")
    assert got == [] and err == "GROUP_AUTHORIZATION_FAILED"

    # Metadata lists only topics the principal may DESCRIBE (implied by Read/Write/All)
    as_alice, as_bob, as_admin = admin(b, "alice"), admin(b, "bob"), admin(b)
    seen = set(as_alice.list_topics(timeout=20).topics)
    assert {t_allow, t_deny} <= seen and t_none not in seen and t_pre not in seen
    seen_by_bob = set(as_bob.list_topics(timeout=20).topics)
    assert t_pre in seen_by_bob and t_allow not in seen_by_bob

    # CreateTopics: CREATE on the cluster (alice) or on the topic; DeleteTopics: DELETE on the topic
    new = unique("acl-new")
    as_alice.create_topics([NewTopic(new, 1, 1)])[new].result(30)
    bob_admin = admin(b, "bob")
    name = unique("acl-bob")
    futures = bob_admin.create_topics([NewTopic(name, 1, 1)], operation_timeout=10, request_timeout=15)
    with pytest.raises(KafkaException) as denied:
        futures[name].result(30)
    assert denied.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    with pytest.raises(KafkaException) as denied:
        as_alice.delete_topics([t_allow], operation_timeout=10)[t_allow].result(30)
    assert denied.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED

    # ACL administration needs ALTER / DESCRIBE on the cluster
    res = acl_cli(runnel_bin, b, "add", "--allow-principal", "User:bob", "--operation", "All", "--topic", "*", user="bob")
    assert res.returncode == 1 and "CLUSTER_AUTHORIZATION_FAILED" in res.stderr, res.stderr
    flt = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY,
                           AclPermissionType.ANY)
    # (confluent-kafka 2.16's describe_acls reports a top-level error as an empty list: the CLI shows it)
    assert as_bob.describe_acls(flt).result(30) == []
    res = acl_cli(runnel_bin, b, "list", user="bob")
    assert res.returncode == 1 and "CLUSTER_AUTHORIZATION_FAILED" in res.stderr, res.stderr
    assert len(as_admin.describe_acls(flt).result(30)) == 8

    # The Java client sees the same outcome
    with pytest.raises(JavaError, match="TopicAuthorizationException|not authorized"):
        r = java.run("produce", {"bootstrap": boot(b), "topic": t_none, "count": 1, "prefix": unique("j"),
                                 "partition": 0, "idempotence": False, "maxBlockMs": 10000,
                                 "deliveryTimeoutMs": 10000, "requestTimeoutMs": 5000,
                                 "props": java_props("SASL_PLAINTEXT", None, "PLAIN", "alice", USERS["alice"])})
        if r["acked"] == 0 and "TopicAuthorization" in str(r["errors"]):
            raise JavaError(f"TopicAuthorizationException: {r['errors']}")
        raise AssertionError(f"Java produce was not refused: {r}")

    # DescribeConfigs needs DescribeConfigs (implied by AlterConfigs, not by Read or Write)
    config_resource = ConfigResource(ConfigResource.Type.TOPIC, t_allow)
    with pytest.raises(KafkaException) as denied:
        as_alice.describe_configs([config_resource])[config_resource].result(30)
    assert denied.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert "retention.ms" in as_admin.describe_configs([config_resource])[config_resource].result(30)
    # ListOffsets needs Describe on the topic
    tp = CkTopicPartition(t_allow, 0)
    with pytest.raises(KafkaException):  # librdkafka stops at Metadata (bob may not Describe it)
        as_bob.list_offsets({tp: OffsetSpec.latest()})[tp].result(30)
    assert list_offsets_error(b, "bob", t_allow) == 29       # TOPIC_AUTHORIZATION_FAILED on the wire
    assert list_offsets_error(b, "alice", t_allow) == 0
    assert as_alice.list_offsets({tp: OffsetSpec.latest()})[tp].result(30).offset >= 2
    # ListGroups shows only the groups the principal may Describe
    got, err = consume(b, "admin", t_allow, group="admin-only")
    assert err is None
    c = Consumer({"bootstrap.servers": boot(b), "group.id": "admin-only", **props("admin")})
    c.commit(offsets=[CkTopicPartition(t_allow, 0, 1)], asynchronous=False)
    c.close()
    admin_groups = {g.group_id for g in as_admin.list_consumer_groups().result(30).valid}
    bob_groups = {g.group_id for g in as_bob.list_consumer_groups().result(30).valid}
    assert "admin-only" in admin_groups and "admin-only" not in bob_groups and bob_groups <= admin_groups

    # Removing the deny lets alice write; removing every ACL of a topic leaves it to nobody but admin.
    res = acl_cli(runnel_bin, b, "remove", "--deny-principal", "User:alice", "--operation", "Write", "--topic", t_deny)
    assert res.returncode == 0 and "Removed 1 ACL" in res.stdout, res.stderr
    deadline = time.monotonic() + 10
    while produce_error(b, "alice", t_deny) is not None:
        assert time.monotonic() < deadline, "alice still denied after the deny ACL was removed"
    topic_filter = AclBindingFilter(ResourceType.TOPIC, t_allow, ResourcePatternType.LITERAL, None, None,
                                    AclOperation.ANY, AclPermissionType.ANY)
    deleted = as_admin.delete_acls([topic_filter])[topic_filter].result(30)
    assert sorted(d.operation for d in deleted) == [AclOperation.READ, AclOperation.WRITE]
    assert produce_error(b, "alice", t_allow) == "TOPIC_AUTHORIZATION_FAILED"
    # Denials are logged with principal, client address, resource and operation.
    log = b.log_path.read_text(errors="replace")
    assert "authorization denied" in log and "principal=User:mallory" in log and f"resource=Topic:{t_allow}" in log


def test_acl_apis_answer_security_disabled_without_an_authorizer(runnel_bin, broker):
    # DescribeAcls v1 on the wire (confluent-kafka 2.16 reports this answer as an empty list).
    s = wire.connect(broker.port)
    body = wire.i8(1) + wire.string(None) + wire.i8(1) + wire.string(None) + wire.string(None) + wire.i8(1) + wire.i8(1)
    s.sendall(wire.frame(wire.request_header(29, 1, 5, "acl-test", False) + body))
    r = wire.Reader(wire.read_frame(s, time.monotonic() + 10))
    s.close()
    assert r.i32() == 5 and r.i32() == 0 and r.i16() == 54  # correlation, throttle, SECURITY_DISABLED
    res = cli.run(runnel_bin, "acl", "add", "--allow-principal", "User:x", "--operation", "Read", "--topic", "t",
                  brokers=broker.bootstrap)
    assert res.returncode == 1 and "SECURITY_DISABLED" in res.stderr


def test_mtls_certificate_subject_is_the_principal_acls_govern(runnel_bin, tmp_path_factory):
    """ssl.client.auth=required with a mapping rule: CN=alice,OU=eng,… becomes User:alice."""
    from runnel_interop.security import librdkafka_props, make_pki
    pki = make_pki(tmp_path_factory.mktemp("acl-pki"))
    plain, mtls, sasl = free_port(), free_port(), free_port()
    b = BrokerProcess(runnel_bin, tmp_path_factory.mktemp("acl-mtls-broker"), port=plain, configs={
        "listeners": f"PLAINTEXT://127.0.0.1:{plain},SSL://127.0.0.1:{mtls},SASL_PLAINTEXT://127.0.0.1:{sasl}",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
        "ssl.keystore.location": str(pki.broker_keystore), "ssl.truststore.location": str(pki.ca),
        "ssl.client.auth": "required", "ssl.principal.mapping.rules": "RULE:^CN=([^,]+),OU=eng.*$/$1/L,DEFAULT",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:admin",
    })
    b.sasl_port = sasl
    conftest._active.append(b)
    b.start()
    try:
        allowed, other = unique("mtls-allowed"), unique("mtls-other")
        create_topics(b, allowed, other)
        res = acl_cli(runnel_bin, b, "add", "--allow-principal", "User:alice", "--operation", "Write", "--topic", allowed)
        assert res.returncode == 0, res.stderr
        conf = librdkafka_props("SSL", pki, client_cert=True)

        def produce(topic):
            result: list = []
            p = Producer({"bootstrap.servers": f"127.0.0.1:{mtls}", "enable.idempotence": False,
                          "message.timeout.ms": 10000, **conf})
            p.produce(topic, b"v", on_delivery=lambda err, msg: result.append(err))
            p.flush(20)
            return None if result[0] is None else result[0].name()
        assert produce(allowed) is None
        assert produce(other) == "TOPIC_AUTHORIZATION_FAILED"
        assert "principal=User:alice resource=Topic:" + other in b.log_path.read_text(errors="replace")
    finally:
        conftest._active.remove(b)
        b.stop()


def java_admin(java, b, user: str, *ops: dict) -> list[dict]:
    """Runs AdminClient operations as `user`; one {"ok", "result" | "error"} per op."""
    props = {**java_props("SASL_PLAINTEXT", None, "PLAIN", user, USERS[user]),
             "default.api.timeout.ms": "20000", "request.timeout.ms": "10000"}
    r = java.run("admin", {"bootstrap": boot(b), "ops": list(ops), "props": props})
    return r["results"]


def java_outcome(java, b, user: str, op: dict):
    """The op's result, or its exception's simple name."""
    (res,) = java_admin(java, b, user, op)
    return res["result"] if res["ok"] else res["error"]


def test_acl_matrix_offsets_transactions_and_cluster_apis(runnel_bin, acl_broker, java):
    """The rows of docs/security.md's matrix for group offsets (topic checks as well as the group's),
    transactions, the cluster-level admin APIs and `authorized_operations` (KIP-430), each outcome as
    Kafka's KafkaApis decides it, seen by the Java AdminClient and producer."""
    b = acl_broker
    topic, group, txn, txn_denied = unique("mx-t"), unique("mx-g"), unique("mx-txn"), unique("mx-txn-d")
    create_topics(b, topic)
    assert produce_error(b, "admin", topic) is None
    for args in (
        # alice: READ on the topic and the group (DESCRIBE is implied by both)
        ["--allow-principal", "User:alice", "--operation", "Read", "--topic", topic],
        ["--allow-principal", "User:alice", "--operation", "Read", "--group", group],
        # bob: READ on the group only
        ["--allow-principal", "User:bob", "--operation", "Read", "--group", group],
        # mallory: DESCRIBE on the topic, DELETE on the group, DESCRIBE on the cluster
        ["--allow-principal", "User:mallory", "--operation", "Describe", "--topic", topic],
        ["--allow-principal", "User:mallory", "--operation", "Delete", "--group", group],
        ["--allow-principal", "User:mallory", "--operation", "Describe", "--cluster"],
        # bob may DESCRIBE the committed transaction; alice may WRITE txn_denied but not the topic
        ["--allow-principal", "User:bob", "--operation", "Describe", "--transactional-id", txn],
        ["--allow-principal", "User:alice", "--operation", "Write", "--transactional-id", txn_denied],
    ):
        res = acl_cli(runnel_bin, b, "add", *args)
        assert res.returncode == 0, res.stderr

    commit = {"op": "alterConsumerGroupOffsets", "group": group, "topic": topic, "offset": 1}
    fetch = {"op": "listConsumerGroupOffsets", "group": group}
    # OffsetCommit: READ on the group, then READ on the topic (per-topic TOPIC_AUTHORIZATION_FAILED)
    assert java_outcome(java, b, "alice", commit) is None
    assert java_outcome(java, b, "bob", commit) == "TopicAuthorizationException"
    assert java_outcome(java, b, "mallory", commit) == "GroupAuthorizationException"
    # OffsetFetch: DESCRIBE on the group; topics the principal may not DESCRIBE are left out
    assert java_outcome(java, b, "alice", fetch) == {f"{topic}:0": 1}
    assert java_outcome(java, b, "bob", fetch) == {}
    # OffsetDelete: DELETE on the group, then READ on the topic
    delete_offsets = {"op": "deleteConsumerGroupOffsets", "group": group, "topic": topic}
    assert java_outcome(java, b, "alice", delete_offsets) == "GroupAuthorizationException"
    assert java_outcome(java, b, "mallory", delete_offsets) == "TopicAuthorizationException"
    assert java_outcome(java, b, "alice", fetch) == {f"{topic}:0": 1}  # nothing was deleted
    # DeleteRecords: DELETE on the topic
    delete_records = {"op": "deleteRecords", "topic": topic, "partition": 0, "beforeOffset": 0}
    assert java_outcome(java, b, "alice", delete_records) == "TopicAuthorizationException"
    assert java_outcome(java, b, "admin", delete_records) == {"lowWatermark": 0}
    # DescribeProducers: READ on the topic (mallory may DESCRIBE it, so Metadata answers)
    assert java_outcome(java, b, "mallory", {"op": "describeProducers", "topic": topic}) == "TopicAuthorizationException"
    assert isinstance(java_outcome(java, b, "alice", {"op": "describeProducers", "topic": topic}), list)

    # Cluster-level admin APIs: CLUSTER_AUTHORIZATION_FAILED without the cluster ACL, served for the super user
    for op in ({"op": "electLeaders", "topic": topic}, {"op": "listPartitionReassignments"},
               {"op": "alterPartitionReassignments", "partitions": [{"topic": topic, "partition": 0, "replicas": [1]}]},
               {"op": "describeLogDirs", "brokers": [1]}, {"op": "describeUserScramCredentials"}):
        res = java_admin(java, b, "alice", op)[0]
        assert "ClusterAuthorizationException" in str(res), (op, res)
        res = java_admin(java, b, "admin", op)[0]
        assert "ClusterAuthorization" not in str(res), (op, res)

    # authorized_operations, as Kafka computes the bitfield
    assert java_outcome(java, b, "admin", {"op": "clusterAuthorizedOperations"}) == sorted(
        ["ALTER", "ALTER_CONFIGS", "CLUSTER_ACTION", "CREATE", "DESCRIBE", "DESCRIBE_CONFIGS", "IDEMPOTENT_WRITE"])
    assert java_outcome(java, b, "mallory", {"op": "clusterAuthorizedOperations"}) == ["DESCRIBE"]
    assert java_outcome(java, b, "alice", {"op": "clusterAuthorizedOperations"}) == []  # no DESCRIBE on the cluster
    assert java_outcome(java, b, "alice", {"op": "topicAuthorizedOperations", "topic": topic}) == ["DESCRIBE", "READ"]
    assert java_outcome(java, b, "mallory", {"op": "topicAuthorizedOperations", "topic": topic}) == ["DESCRIBE"]
    assert java_outcome(java, b, "alice", {"op": "groupAuthorizedOperations", "group": group}) == ["DESCRIBE", "READ"]
    assert java_outcome(java, b, "mallory", {"op": "groupAuthorizedOperations", "group": group}) == ["DELETE", "DESCRIBE"]
    # librdkafka reads the same bitfield
    from confluent_kafka import TopicCollection
    as_alice = admin(b, "alice")  # kept referenced until the future completes
    described = as_alice.describe_topics(TopicCollection([topic]), include_authorized_operations=True)
    assert sorted(o.name for o in described[topic].result(30).authorized_operations) == ["DESCRIBE", "READ"]

    # Transactions: the super user commits one; ListTransactions shows it only to who may DESCRIBE it
    r = java.run("txn", {"mode": "produce", "bootstrap": boot(b), "topic": topic, "prefix": unique("tx"),
                         "partition": 0, "transactionalId": txn,
                         "transactions": [{"start": 0, "count": 2, "end": "commit"}],
                         "props": java_props("SASL_PLAINTEXT", None, "PLAIN", "admin", USERS["admin"])})
    assert r["transactions"][0]["ok"], r
    listed = {t["transactionalId"] for t in java_outcome(java, b, "bob", {"op": "listTransactions"})}
    assert txn in listed
    assert txn not in {t["transactionalId"] for t in java_outcome(java, b, "alice", {"op": "listTransactions"})}
    assert java_outcome(java, b, "bob", {"op": "describeTransactions", "transactionalId": txn})["state"] == "CompleteCommit"
    assert java_outcome(java, b, "alice", {"op": "describeTransactions", "transactionalId": txn}) \
        == "TransactionalIdAuthorizationException"
    # AddPartitionsToTxn: WRITE on the transactional id is not enough without WRITE on the topic
    r = java.run("txn", {"mode": "produce", "bootstrap": boot(b), "topic": topic, "prefix": unique("tx"),
                         "partition": 0, "transactionalId": txn_denied, "maxBlockMs": 10000,
                         "transactions": [{"start": 0, "count": 1, "end": "commit"}],
                         "props": java_props("SASL_PLAINTEXT", None, "PLAIN", "alice", USERS["alice"])})
    assert not r["transactions"][0]["ok"] and "TopicAuthorization" in str(r["transactions"][0]), r
