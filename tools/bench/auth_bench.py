#!/usr/bin/env python3
"""Authentication and authorization cost (issue 13), measured as the broker's own CPU so the figures
hold on a machine shared with other work:

- scram: SCRAM-SHA-512 authentications (4096 iterations) over SASL_PLAINTEXT, each on a new connection
  (SaslHandshake v1 + two SaslAuthenticate v2 rounds, raw wire, from --clients threads). Reports the
  broker's CPU-seconds per authentication and so authentications per second on one core (the target is
  >= 200), plus the wall rate these clients reached. The client's PBKDF2 is computed once per user, as
  clients cache the salted password.
- acl: durable produce (librdkafka, tools/bench/rdkafka_perf.c, 1 KiB records, acks=all) as User:ANONYMOUS
  on PLAINTEXT in three configurations, alternated per round: no authorizer, StandardAuthorizer with the
  three ACLs the producer needs, and the same plus 10,000 ACLs for other principals and topics (literal
  and prefixed). Reports MB/s and broker CPU-seconds per GB; the target is <= 3% throughput cost with
  10,000 ACLs loaded.

    .venv/bin/python tools/bench/auth_bench.py --runnel .build/release/runnel --parts scram,acl --rounds 3
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "InteropTests"))
from e2e_bench import build_driver, cpu_seconds, create_topic, free_port, produce  # noqa: E402
from runnel_interop import wire  # noqa: E402
from runnel_interop.broker import BrokerProcess  # noqa: E402

JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
        'username="admin" password="admin-secret" user_admin="admin-secret";')
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def _call(s, api: int, version: int, correlation: int, body: bytes) -> wire.Reader:
    s.sendall(wire.frame(wire.request_header(api, version, correlation, "auth-bench", False) + body))
    r = wire.Reader(wire.read_frame(s, time.monotonic() + 30))
    assert r.i32() == correlation
    return r


def scram_once(port: int, user: str, salted_cache: dict) -> None:
    """One SCRAM-SHA-512 authentication on a new connection; raises unless the broker accepts it."""
    s = wire.connect(port)
    try:
        assert _call(s, 17, 1, 1, wire.string("SCRAM-SHA-512")).i16() == 0
        nonce = base64.b64encode(os.urandom(18)).decode()
        bare = f"n={user},r={nonce}"
        r = _call(s, 36, 1, 2, wire.nbytes(f"n,,{bare}".encode()))
        assert r.i16() == 0, "server-first refused"
        r.string()
        server_first = r.take(r.i32()).decode()
        attrs = dict(a.split("=", 1) for a in server_first.split(","))
        key = (user, attrs["s"], attrs["i"])
        if key not in salted_cache:
            salted_cache[key] = hashlib.pbkdf2_hmac("sha512", f"{user}-secret".encode(), base64.b64decode(attrs["s"]),
                                                    int(attrs["i"]))
        salted = salted_cache[key]
        client_key = hmac.new(salted, b"Client Key", "sha512").digest()
        without = f"c=biws,r={attrs['r']}"
        auth = f"{bare},{server_first},{without}".encode()
        sig = hmac.new(hashlib.sha512(client_key).digest(), auth, "sha512").digest()
        proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, sig))).decode()
        r = _call(s, 36, 1, 3, wire.nbytes(f"{without},p={proof}".encode()))
        assert r.i16() == 0, "client-final refused"
    finally:
        s.close()


def bench_scram(runnel: str, work: Path, count: int, clients: int) -> dict:
    plain, sasl = free_port(), free_port()
    broker = BrokerProcess(runnel, work / "scram-broker", port=plain, configs={
        "listeners": f"PLAINTEXT://127.0.0.1:{plain},SASL_PLAINTEXT://127.0.0.1:{sasl}",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
        "connection.failed.authentication.delay.ms": 0,
    }, extra_args=["--log-level", "warning"])
    broker.start()
    try:
        users = [f"bench{i}" for i in range(clients)]
        import subprocess
        for user in users:
            subprocess.run([runnel, "user", "create", user, "--mechanism", "SCRAM-SHA-512", "--iterations", "4096",
                            "--password", f"{user}-secret", "--brokers", broker.bootstrap],
                           check=True, capture_output=True, timeout=60)
        caches = [dict() for _ in users]
        for user, cache in zip(users, caches):  # warm up: the client's PBKDF2, the broker's first auth
            scram_once(sasl, user, cache)
        per_client = count // clients
        errors: list = []

        def run(user, cache):
            try:
                for _ in range(per_client):
                    scram_once(sasl, user, cache)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))
        threads = [threading.Thread(target=run, args=(u, c)) for u, c in zip(users, caches)]
        cpu0, t0 = cpu_seconds(broker.proc.pid), time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        cpu, wall = cpu_seconds(broker.proc.pid) - cpu0, time.monotonic() - t0
        if errors:
            raise RuntimeError(f"{len(errors)} authentications failed: {errors[:3]}")
        done = per_client * clients
        return {"authentications": done, "clients": clients, "broker_cpu_s": round(cpu, 3), "wall_s": round(wall, 3),
                "broker_cpu_ms_per_auth": round(1000 * cpu / done, 3),
                "auths_per_broker_cpu_second": round(done / cpu, 1) if cpu > 0 else None,
                "wall_auths_per_s": round(done / wall, 1)}
    finally:
        broker.stop()


def acl_bindings(count: int) -> list:
    """`count` ACLs that never match the bench's principal: literal and prefixed, topics and groups."""
    from confluent_kafka.admin import AclBinding, AclOperation, AclPermissionType, ResourcePatternType, ResourceType
    out = []
    for i in range(count):
        kind = ResourceType.TOPIC if i % 3 else ResourceType.GROUP
        pattern = ResourcePatternType.PREFIXED if i % 2 else ResourcePatternType.LITERAL
        op = (AclOperation.READ, AclOperation.WRITE, AclOperation.DESCRIBE)[i % 3]
        out.append(AclBinding(kind, f"other-{i}", pattern, f"User:user{i % 500}", "*", op,
                              AclPermissionType.DENY if i % 7 == 0 else AclPermissionType.ALLOW))
    return out


def bench_acl(runnel: str, work: Path, driver: str, rounds: int, records: int, value_size: int, extra_acls: int) -> dict:
    from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType, AdminClient, ResourcePatternType,
                                       ResourceType)
    modes = ["no-authorizer", "authorizer", f"authorizer+{extra_acls}"]
    rows = {m: {"MBps": [], "cpu_s_per_GB": []} for m in modes}
    for round_index in range(rounds):
        order = modes if round_index % 2 == 0 else list(reversed(modes))
        for mode in order:
            plain, sasl = free_port(), free_port()
            configs = {"listeners": f"PLAINTEXT://127.0.0.1:{plain},SASL_PLAINTEXT://127.0.0.1:{sasl}",
                       "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS}
            if mode != "no-authorizer":
                configs.update({"authorizer.class.name": AUTHORIZER, "super.users": "User:admin"})
            broker = BrokerProcess(runnel, work / f"acl-{mode}-{round_index}", port=plain, configs=configs,
                                   extra_args=["--log-level", "warning"])
            broker.start()
            try:
                topic = f"acl-bench-{round_index}"
                admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{sasl}", "security.protocol": "SASL_PLAINTEXT",
                                     "sasl.mechanism": "PLAIN", "sasl.username": "admin", "sasl.password": "admin-secret"})
                create_topic_admin(admin, topic)
                if mode != "no-authorizer":
                    need = [AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, "User:ANONYMOUS", "*",
                                       op, AclPermissionType.ALLOW) for op in (AclOperation.WRITE, AclOperation.DESCRIBE)]
                    need.append(AclBinding(ResourceType.BROKER, "kafka-cluster", ResourcePatternType.LITERAL,
                                           "User:ANONYMOUS", "*", AclOperation.IDEMPOTENT_WRITE, AclPermissionType.ALLOW))
                    bindings = need + (acl_bindings(extra_acls) if mode != "authorizer" else [])
                    for start in range(0, len(bindings), 1000):
                        for fut in admin.create_acls(bindings[start:start + 1000], request_timeout=120).values():
                            fut.result(180)
                # Loading the ACLs (10 CreateAcls batches, each a metadata write and an authorizer reload)
                # must not bleed into the measured produce: wait until the broker is idle.
                wait_idle(broker.proc.pid)
                before = cpu_seconds(broker.proc.pid)
                result = produce(driver, f"127.0.0.1:{plain}", topic, records, value_size, idempotent=True)
                used = cpu_seconds(broker.proc.pid) - before
                gigabytes = records * value_size / 1e9
                rows[mode]["MBps"].append(result["MBps"])
                rows[mode]["cpu_s_per_GB"].append(used / gigabytes)
                del admin
                print(f"round {round_index} {mode}: {result['MBps']:.1f} MB/s, {used / gigabytes:.2f} CPU-s/GB",
                      file=sys.stderr)
            finally:
                broker.stop()
    summary = {m: {"MBps_median": statistics.median(r["MBps"]), "cpu_s_per_GB_median": statistics.median(r["cpu_s_per_GB"]),
                   **r} for m, r in rows.items()}
    base, full = summary["no-authorizer"], summary[f"authorizer+{extra_acls}"]
    summary["throughput_ratio_with_acls"] = round(full["MBps_median"] / base["MBps_median"], 3)
    summary["cpu_per_GB_ratio_with_acls"] = round(full["cpu_s_per_GB_median"] / base["cpu_s_per_GB_median"], 3)
    return summary


def wait_idle(pid: int, timeout: float = 30) -> None:
    """Until the process used under 5 % of a core over half a second (or `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(0.5)
        if cpu_seconds(pid) - before < 0.025:
            return


def create_topic_admin(admin, topic: str) -> None:
    from confluent_kafka.admin import NewTopic
    for fut in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        fut.result(30)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runnel", required=True)
    parser.add_argument("--parts", default="scram,acl")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--auths", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--value-size", type=int, default=1024)
    parser.add_argument("--acls", type=int, default=10_000)
    parser.add_argument("--json", help="write results here")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    results: dict = {"load_average_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="runnel-auth-bench-", dir=os.environ.get("BENCH_DIR", "/tmp")) as work:
        if "scram" in parts:
            results["scram"] = [bench_scram(args.runnel, Path(work) / f"s{i}", args.auths, args.clients)
                                for i in range(args.rounds)]
            print(json.dumps({"scram": results["scram"]}), file=sys.stderr)
        if "acl" in parts:
            driver, version = build_driver()
            results["acl"] = bench_acl(args.runnel, Path(work), driver, args.rounds, args.records, args.value_size,
                                       args.acls)
            results["acl"]["driver"] = f"tools/bench/rdkafka_perf.c, librdkafka {version}"
    results["load_average_end"] = os.getloadavg()[0]
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
