"""SASL/SCRAM with real clients (issue 13): credentials live in the metadata store (cluster records,
kind `scram`), created with `runnel user create` (AlterUserScramCredentials), with confluent-kafka's
AdminClient, and offline before the first start (`--offline`); kcat, confluent-kafka, kafka-python
and the Java client authenticate with SCRAM-SHA-512 over SASL_PLAINTEXT and SCRAM-SHA-256 over
SASL_SSL; a wrong password, a deleted user, and SCRAM client-final messages with a wrong nonce or
proof fail with SASL_AUTHENTICATION_FAILED and close the connection; the runnel CLI itself speaks
SCRAM and TLS through -X and --command-config."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import time

import pytest
from confluent_kafka import Consumer, KafkaError
from confluent_kafka import TopicPartition as CkTopicPartition
from confluent_kafka.admin import (AdminClient, ScramCredentialInfo, ScramMechanism,
                                   UserScramCredentialUpsertion)

import cli_support as cli
import conftest
from conftest import unique
from runnel_interop import clients, records, wire
from runnel_interop.java import JavaError
from runnel_interop.security import (SecureBroker, closed_within, java_props, kafka_python_props, kcat_args,
                                     librdkafka_props, make_pki, serve_secure_broker)

pytestmark = [pytest.mark.needs_broker]

COUNT = 30


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def secure(runnel_bin, tmp_path_factory, pki):
    def create_early_user(sb):
        # A user created before the first start, straight into the metadata file.
        sb.process.write_config()
        cli.ok(runnel_bin, "user", "create", "early", "--mechanism", "SCRAM-SHA-512", "--password", "early-secret",
               "--offline", "--config", str(sb.process.config_path))
    yield from serve_secure_broker(runnel_bin, tmp_path_factory.mktemp("scram-broker"), pki, conftest._active,
                                   before_start=create_early_user)


def create_user(runnel_bin, secure, user, password, mechanism="SCRAM-SHA-512"):
    cli.ok(runnel_bin, "user", "create", user, "--mechanism", mechanism, "--password", password,
           brokers=secure.process.bootstrap)


def test_user_cli_create_list_delete(runnel_bin, secure):
    create_user(runnel_bin, secure, "carol", "carol-secret")
    create_user(runnel_bin, secure, "carol", "carol-secret-256", "SCRAM-SHA-256")
    listed = cli.json_out(runnel_bin, "user", "list", brokers=secure.process.bootstrap)
    by_user = {row["user"]: row["credentials"] for row in listed}
    assert sorted(c["mechanism"] for c in by_user["carol"]) == ["SCRAM-SHA-256", "SCRAM-SHA-512"]
    assert by_user["early"] == [{"mechanism": "SCRAM-SHA-512", "iterations": "4096"}]
    cli.ok(runnel_bin, "user", "delete", "carol", "--mechanism", "SCRAM-SHA-256", brokers=secure.process.bootstrap)
    listed = cli.json_out(runnel_bin, "user", "list", brokers=secure.process.bootstrap)
    assert [c["mechanism"] for row in listed if row["user"] == "carol" for c in row["credentials"]] == ["SCRAM-SHA-512"]
    # Deleting what does not exist: RESOURCE_NOT_FOUND, exit 1.
    res = cli.run(runnel_bin, "user", "delete", "carol", "--mechanism", "SCRAM-SHA-256", brokers=secure.process.bootstrap)
    assert res.returncode == 1 and "RESOURCE_NOT_FOUND" in res.stderr, res.stderr
    # Too few iterations: UNACCEPTABLE_CREDENTIAL.
    res = cli.run(runnel_bin, "user", "create", "dave", "--password", "x", "--iterations", "100",
                  brokers=secure.process.bootstrap)
    assert res.returncode == 1 and "UNACCEPTABLE_CREDENTIAL" in res.stderr, res.stderr
    # The stored record holds salt, stored key, server key and iterations, never the password.
    text = (secure.process.data_dir / "runnel-metadata.json").read_text()
    assert "stored_key" in text and "carol-secret" not in text


def test_scram_sha512_sasl_plaintext_all_clients(runnel_bin, secure, pki, java, kcat_bin, tmp_path):
    create_user(runnel_bin, secure, "sam", "sam-secret")
    bootstrap = secure.bootstrap("SASL_PLAINTEXT")
    topic = unique("scram512")
    clients.create_topic(secure.process.bootstrap, topic)
    creds = ("SCRAM-SHA-512", "sam", "sam-secret")
    rd = librdkafka_props("SASL_PLAINTEXT", pki, *creds)
    prefix = unique("ck")
    res = clients.confluent_produce(bootstrap, topic, prefix, range(COUNT), config=rd)
    assert len(res["acks"]) == COUNT and not res["errors"]
    base = clients.kcat_base(kcat_bin, bootstrap) + kcat_args(rd)
    res = subprocess.run(base + ["-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-J", "-q"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    assert len([line for line in res.stdout.splitlines() if line.startswith("{")]) == COUNT
    got = clients.kafka_python_consume(bootstrap, topic, config=kafka_python_props("SASL_PLAINTEXT", pki, *creds))
    assert sorted(r["k"] for r in got) == [records.key(prefix, i) for i in range(COUNT)]
    jp = java_props("SASL_PLAINTEXT", pki, *creds)
    result = java.run("produce", {"bootstrap": bootstrap, "topic": topic, "count": COUNT, "prefix": unique("jv"),
                                  "partition": 0, "props": jp})
    assert result["acked"] == COUNT, result
    out = tmp_path / "java-scram.jsonl"
    result = java.run("consume", {"bootstrap": bootstrap, "topic": topic, "out": str(out), "expected": 2 * COUNT,
                                  "props": jp})
    assert result["count"] == 2 * COUNT
    # The user made offline before the first start authenticates too.
    early = librdkafka_props("SASL_PLAINTEXT", pki, "SCRAM-SHA-512", "early", "early-secret")
    assert len(clients.confluent_consume(bootstrap, topic, config=early)) == 2 * COUNT


def test_scram_sha256_over_sasl_ssl_with_a_user_made_by_confluent_admin(secure, pki, java):
    admin = AdminClient({"bootstrap.servers": secure.process.bootstrap})
    fut = admin.alter_user_scram_credentials([UserScramCredentialUpsertion(
        "tess", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 8192), b"tess-secret")])
    fut["tess"].result(30)
    described = admin.describe_user_scram_credentials(["tess"])["tess"].result(30)
    info = described.scram_credential_infos
    assert [(i.mechanism, i.iterations) for i in info] == [(ScramMechanism.SCRAM_SHA_256, 8192)]
    bootstrap = secure.bootstrap("SASL_SSL")
    topic = unique("scram256")
    clients.create_topic(secure.process.bootstrap, topic)
    creds = ("SCRAM-SHA-256", "tess", "tess-secret")
    prefix = unique("ssl")
    res = clients.kafka_python_produce(bootstrap, topic, prefix, range(COUNT),
                                       config=kafka_python_props("SASL_SSL", pki, *creds))
    assert len(res["acks"]) == COUNT and not res["errors"]
    got = clients.confluent_consume(bootstrap, topic, config=librdkafka_props("SASL_SSL", pki, *creds))
    assert sorted(r["k"] for r in got) == [records.key(prefix, i) for i in range(COUNT)]
    result = java.run("produce", {"bootstrap": bootstrap, "topic": topic, "count": 5, "prefix": unique("j"),
                                  "partition": 0, "props": java_props("SASL_SSL", pki, *creds)})
    assert result["acked"] == 5


def auth_fails(bootstrap: str, props: dict, topic: str) -> None:
    errors: list = []
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("g"), "auto.offset.reset": "earliest",
                  "error_cb": errors.append, **props})
    got = []
    try:
        c.assign([CkTopicPartition(topic, 0, 0)])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not any(e.code() == KafkaError._AUTHENTICATION for e in errors):
            for m in c.consume(num_messages=100, timeout=0.5):
                (errors if m.error() else got).append(m.error() or m)
    finally:
        c.close()
    assert not got
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors


def test_scram_wrong_password_and_deleted_user_fail(runnel_bin, secure, pki, java):
    create_user(runnel_bin, secure, "una", "una-secret")
    bootstrap = secure.bootstrap("SASL_PLAINTEXT")
    topic = unique("scram-bad")
    clients.create_topic(secure.process.bootstrap, topic)
    clients.confluent_produce(secure.process.bootstrap, topic, unique("x"), range(3))
    auth_fails(bootstrap, librdkafka_props("SASL_PLAINTEXT", pki, "SCRAM-SHA-512", "una", "wrong"), topic)
    # SCRAM-SHA-256 credentials were never made for una.
    auth_fails(bootstrap, librdkafka_props("SASL_PLAINTEXT", pki, "SCRAM-SHA-256", "una", "una-secret"), topic)
    with pytest.raises(JavaError, match="SaslAuthenticationException|Authentication failed"):
        r = java.run("consume", {"bootstrap": bootstrap, "topic": topic, "out": "/dev/null", "expected": 1,
                                 "timeoutMs": 15000,
                                 "props": java_props("SASL_PLAINTEXT", pki, "SCRAM-SHA-512", "una", "wrong")})
        raise JavaError(f"consumed {r}")
    cli.ok(runnel_bin, "user", "delete", "una", "--mechanism", "SCRAM-SHA-512", brokers=secure.process.bootstrap)
    auth_fails(bootstrap, librdkafka_props("SASL_PLAINTEXT", pki, "SCRAM-SHA-512", "una", "una-secret"), topic)


# ---- raw SCRAM exchanges ------------------------------------------------------------------------------

def sasl_frame(api_key: int, version: int, correlation: int, body: bytes) -> bytes:
    return wire.frame(wire.request_header(api_key, version, correlation, "sec-test", False) + body)


def authenticate(s, correlation: int, token: bytes) -> tuple[int, str | None, bytes]:
    s.sendall(sasl_frame(36, 1, correlation, wire.nbytes(token)))
    r = wire.Reader(wire.read_frame(s, time.monotonic() + 10))
    assert r.i32() == correlation
    code, message = r.i16(), r.string()
    n = r.i32()
    return code, message, r.take(n) if n > 0 else b""


@pytest.mark.parametrize("tamper", ["nonce", "proof", "replay"])
def test_scram_client_final_with_wrong_nonce_or_proof_fails_cleanly(runnel_bin, secure, tamper):
    create_user(runnel_bin, secure, "vic", "vic-secret")
    port = secure.ports["SASL_PLAINTEXT"]

    def first_round(s):
        s.sendall(sasl_frame(17, 1, 1, wire.string("SCRAM-SHA-512")))
        r = wire.Reader(wire.read_frame(s, time.monotonic() + 10))
        assert r.i32() == 1 and r.i16() == 0
        nonce = base64.b64encode(os.urandom(18)).decode()
        bare = f"n=vic,r={nonce}"
        code, _, server_first = authenticate(s, 2, f"n,,{bare}".encode())
        assert code == 0
        attrs = dict(a.split("=", 1) for a in server_first.decode().split(","))
        return bare, server_first.decode(), attrs

    def final(bare, server_first, attrs, nonce_override=None):
        salted = hashlib.pbkdf2_hmac("sha512", b"vic-secret", base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", "sha512").digest()
        without = f"c=biws,r={nonce_override or attrs['r']}"
        auth = f"{bare},{server_first},{without}".encode()
        sig = hmac.new(hashlib.sha512(client_key).digest(), auth, "sha512").digest()
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        return without, proof

    s = wire.connect(port)
    bare, server_first, attrs = first_round(s)
    without, proof = final(bare, server_first, attrs, nonce_override=attrs["r"] + "x" if tamper == "nonce" else None)
    if tamper == "proof":
        proof = bytes([proof[0] ^ 1]) + proof[1:]
    if tamper == "replay":
        # A correct client-final from this exchange, replayed on a new connection (another server nonce).
        s.close()
        s = wire.connect(port)
        first_round(s)
    code, message, _ = authenticate(s, 3, f"{without},p={base64.b64encode(proof).decode()}".encode())
    assert code == 58, (code, message)
    assert closed_within(s, 10) < 10
    s.close()
    # The same user with the right proof still gets in.
    s = wire.connect(port)
    bare, server_first, attrs = first_round(s)
    without, proof = final(bare, server_first, attrs)
    code, message, server_final = authenticate(s, 3, f"{without},p={base64.b64encode(proof).decode()}".encode())
    assert code == 0 and server_final.startswith(b"v="), (code, message)
    s.close()


# ---- the runnel CLI with -X / --command-config --------------------------------------------------------

def test_runnel_cli_speaks_scram_and_tls(runnel_bin, secure, pki, tmp_path):
    create_user(runnel_bin, secure, "cli-user", "cli-secret")
    topic = unique("cli-sec")
    clients.create_topic(secure.process.bootstrap, topic)
    x = ["-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanism=SCRAM-SHA-512", "-X", "sasl.username=cli-user",
         "-X", "sasl.password=cli-secret", "-X", f"ssl.ca.location={pki.ca}"]
    cli.ok(runnel_bin, "produce", topic, *x, stdin="".join(f"v{i}\n" for i in range(20)),
           brokers=secure.bootstrap("SASL_SSL"))
    props = tmp_path / "client.properties"
    props.write_text("# Kafka tools' format\nsecurity.protocol=SSL\nssl.truststore.type=PEM\n"
                     f"ssl.truststore.location={pki.ca}\n")
    res = cli.ok(runnel_bin, "consume", topic, "-e", "-f", "json", "--command-config", str(props),
                 brokers=secure.bootstrap("SSL"))
    assert sorted(json.loads(line)["value"] for line in res.stdout.splitlines() if line.strip()) == sorted(
        f"v{i}" for i in range(20))
    # Wrong password: one error line naming the failure.
    bad = x[:6] + ["-X", "sasl.password=nope"] + x[8:]
    res = cli.run(runnel_bin, "topic", "list", *bad, brokers=secure.bootstrap("SASL_SSL"))
    assert res.returncode != 0 and "SASL_AUTHENTICATION_FAILED" in res.stderr, res.stderr
