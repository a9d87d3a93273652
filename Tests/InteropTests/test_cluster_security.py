"""A secured cluster (issues 12 and 13): three brokers from `runnel local-cluster` whose replication runs
over an inter-broker listener of its own (`inter.broker.listener.name=INTERNAL`, SASL_SSL with PLAIN:
TLS from openssl-made certificates, the brokers authenticating as User:broker), clients on PLAINTEXT
and on the SASL_SSL listener, and an ACL authorizer whose ACLs live in etcd.

Checks: an RF=3, acks=all topic keeps a full ISR and every record is readable, with the followers'
fetch connections on the INTERNAL ports only (the brokers' "follower connected to leader" log lines, and
/proc/net/tcp); a plaintext client on the INTERNAL port gets nowhere; an ACL created through one broker governs a SASL user on every broker; a broker whose
inter-broker password is wrong never joins the ISR (its fetches are refused) while the others go on."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as CkTopicPartition
from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType, AdminClient, ResourcePatternType,
                                   ResourceType)

from conftest import missing_prerequisite, unique
from runnel_interop.cluster import LocalCluster, free_range, poll
from runnel_interop.security import make_pki

pytestmark = pytest.mark.needs_broker

USERS = {"broker": "broker-secret", "alice": "alice-secret"}
JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
        'username="broker" password="broker-secret" '
        + " ".join(f'user_{u}="{p}"' for u, p in USERS.items()) + ";")


def _established_remote_ports() -> list[int]:
    """Remote ports of the ESTABLISHED IPv4 TCP connections on this machine (/proc/net/tcp)."""
    ports = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "01":  # TCP_ESTABLISHED
            ports.append(int(fields[2].split(":")[1], 16))
    return ports


@pytest.fixture(scope="module")
def secure_cluster(runnel_bin, tmp_path_factory):
    import shutil
    if not shutil.which("etcd"):
        missing_prerequisite("etcd not installed (Debian package etcd-server: scripts/install-deps)")
    work = tmp_path_factory.mktemp("secure-cluster")
    pki = make_pki(work / "pki")
    c = LocalCluster(runnel_bin, work, nodes=3, overrides={
        "etcd.lease.ttl.ms": 3000,
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,INTERNAL:SASL_SSL",
        "inter.broker.listener.name": "INTERNAL",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "listener.name.internal.plain.sasl.jaas.config": JAAS,
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(pki.broker_keystore),
        "ssl.truststore.location": str(pki.ca),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        # The brokers authenticate as User:broker; the harness's PLAINTEXT clients are User:ANONYMOUS.
        "super.users": "User:broker;User:ANONYMOUS",
    })
    # Each node's INTERNAL listener: {port+offset} on top of its Kafka port (local-cluster expands it).
    internal_base = free_range(3, avoid=range(c.port, c.port + 3))
    offset = internal_base - c.port
    c.argv += ["--broker-override",
               f"listeners=PLAINTEXT://127.0.0.1:{{port}},INTERNAL://127.0.0.1:{{port+{offset}}}"]
    c.internal_ports = [internal_base + i for i in range(3)]
    c.pki = pki
    try:
        c.start()
        yield c
    finally:
        c.kill_everything()


def _alice(c, port: int) -> dict:
    return {"bootstrap.servers": f"127.0.0.1:{port}", "security.protocol": "SASL_SSL",
            "ssl.ca.location": str(c.pki.ca), "sasl.mechanism": "PLAIN", "sasl.username": "alice",
            "sasl.password": USERS["alice"], "socket.timeout.ms": 10000}


def _produce(conf: dict, topic: str, values: list[bytes], timeout_ms: int = 20000) -> list:
    """Produces with acks=all; the delivery errors (None for acknowledged records)."""
    results: list = []
    p = Producer({**conf, "acks": "all", "message.timeout.ms": timeout_ms})
    for v in values:
        p.produce(topic, v, on_delivery=lambda err, msg: results.append(err))
    p.flush(30)
    return results


def _read(conf: dict, topic: str, partition: int, want: int, timeout: float = 20) -> tuple[list[bytes], str | None]:
    """Up to `want` values from the start of one partition, and the first error's name."""
    c = Consumer({**conf, "group.id": unique("sec-read"), "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    got: list[bytes] = []
    try:
        c.assign([CkTopicPartition(topic, partition, 0)])
        deadline = time.monotonic() + timeout
        while len(got) < want and time.monotonic() < deadline:
            for m in c.consume(num_messages=want, timeout=0.5):
                if m.error():
                    return got, m.error().name()
                got.append(m.value())
    finally:
        c.close()
    return got, None


def test_replication_runs_over_the_sasl_ssl_inter_broker_listener(secure_cluster):
    c = secure_cluster
    # Before any client touches them, the INTERNAL ports only see the brokers' own connections.
    topic = unique("secure-rf3")
    c.create_topic(topic, partitions=3, replication=3, config={"min.insync.replicas": "2"})
    values = [f"v{i}".encode() for i in range(300)]
    errors = _produce({"bootstrap.servers": c.bootstrap}, topic, values)
    assert errors == [None] * len(values), {str(e) for e in errors if e is not None}
    for p in range(3):
        state = c.wait_isr(topic, p, {1, 2, 3})
        assert sorted(state["isr"]) == [1, 2, 3], state

    connected = []
    for node in c.ids:
        connected += [int(m.group(1)) for m in re.finditer(r"follower connected to leader.*?127\.0\.0\.1:(\d+)",
                                                            c.node_log(node).read_text())]
    assert connected and set(connected) <= set(c.internal_ports), (connected, c.internal_ports, c.ports)
    remote = _established_remote_ports()
    to_internal = [p for p in remote if p in c.internal_ports]
    assert len(set(to_internal)) == 3, (c.internal_ports, remote)  # every leader is fetched from over INTERNAL
    # The followers' high watermarks reached the end: each node, read as the leader after a kill,
    # would serve them; here simply every node's view says all 300 are committed.
    got = []
    for p in range(3):
        part, err = _read({"bootstrap.servers": c.bootstrap}, topic, p, want=300, timeout=10)
        assert err in (None, "_PARTITION_EOF"), err
        got += part
    assert sorted(got) == sorted(values)

    # A plaintext client on the INTERNAL port is turned away (it is a TLS listener).
    p = Producer({"bootstrap.servers": f"127.0.0.1:{c.internal_ports[0]}", "message.timeout.ms": 3000,
                  "socket.timeout.ms": 2000})
    result: list = []
    p.produce(topic, b"x", on_delivery=lambda err, msg: result.append(err))
    p.flush(10)
    assert result and result[0] is not None, result


def test_an_acl_created_through_one_broker_governs_every_broker(secure_cluster):
    c = secure_cluster
    topic = unique("secure-acl")
    c.create_topic(topic, partitions=1, replication=3)
    leader = c.leader_of(topic, 0)
    # alice may do nothing yet: denied on the leader's SASL_SSL (INTERNAL) listener.
    denied = _produce(_alice(c, c.internal_ports[leader - 1]), topic, [b"before"], timeout_ms=5000)
    assert denied and denied[0] is not None and denied[0].name() == "TOPIC_AUTHORIZATION_FAILED", denied

    # The ACLs are created through another broker than the leader.
    other = next(n for n in c.ids if n != leader)
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{c.port_of(other)}", "socket.timeout.ms": 10000})
    bindings = [AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, "User:alice", "*",
                           op, AclPermissionType.ALLOW) for op in (AclOperation.WRITE, AclOperation.READ)]
    bindings.append(AclBinding(ResourceType.GROUP, "sec-read", ResourcePatternType.PREFIXED, "User:alice", "*",
                               AclOperation.READ, AclPermissionType.ALLOW))
    for fut in admin.create_acls(bindings, request_timeout=20).values():
        fut.result(30)

    # Every broker applies them from etcd: alice produces through the leader and reads through each node.
    def allowed():
        errs = _produce(_alice(c, c.internal_ports[leader - 1]), topic, [b"after"], timeout_ms=5000)
        return errs == [None]
    poll("alice may produce once the ACL reached the leader", 20, allowed)
    for node in c.ids:
        got, err = poll(f"alice reads through node {node}", 20,
                        lambda: (lambda r: r if r[0] else None)(_read(_alice(c, c.internal_ports[node - 1]),
                                                                     topic, 0, want=1, timeout=5)))
        assert got[:1] == [b"after"] and err is None, (node, got, err)


def test_a_broker_with_a_wrong_inter_broker_password_never_joins_the_isr(secure_cluster):
    c = secure_cluster
    topic = unique("secure-badpw")
    c.create_topic(topic, partitions=1, replication=3)
    victim = next(n for n in c.ids if n != c.leader_of(topic, 0))
    bad_jaas = JAAS.replace('password="broker-secret"', 'password="wrong"', 1)
    c.stop_node(victim)
    c.wait_isr(topic, 0, set(c.ids) - {victim}, timeout=30)
    # The others keep serving acks=all (min.insync.replicas 1 by default) while the victim is back
    # with a password the leader refuses.
    c.commands[victim] = c.command_with(victim, **{"listener.name.internal.plain.sasl.jaas.config": bad_jaas})
    c.restart(victim)
    errors = _produce({"bootstrap.servers": c.bootstrap}, topic, [f"r{i}".encode() for i in range(50)])
    assert errors == [None] * 50
    log = c.node_log(victim)
    poll(f"node {victim} logs that its leader refused its authentication", 20,
         lambda: any("replica fetch failed" in line and "authenticat" in line.lower()
                     for line in log.read_text().splitlines()))
    state = c.state(topic, 0)
    assert victim not in state["isr"], state
