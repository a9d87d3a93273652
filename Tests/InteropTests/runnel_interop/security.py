"""Security fixtures for the interop tests: a CA and certificates made with openssl (EC P-256,
SANs for 127.0.0.1 and localhost), a broker with several listeners at once (PLAINTEXT for the
harness, SSL, SSL with required client certificates, SASL_PLAINTEXT, SASL_SSL), and the client
properties each client family takes for each protocol."""
from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .broker import BrokerProcess, free_port


def _run(*cmd: str, cwd: Path) -> None:
    res = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {res.returncode}: {res.stderr[-2000:]}")


@dataclass
class Pki:
    dir: Path
    ca: Path             # CA certificate (PEM): every client's trust store
    broker_keystore: Path  # broker key + certificate chain in one PEM file (ssl.keystore.location)
    client_cert: Path    # client certificate (CN=alice,OU=eng,O=Runnel)
    client_key: Path     # its PKCS#8 key
    client_keystore: Path  # key + certificate in one PEM (Java's ssl.keystore.type=PEM)
    rogue_cert: Path     # a client certificate from a CA the broker does not trust
    rogue_key: Path


def make_pki(d: Path) -> Pki:
    """A CA, a broker certificate for 127.0.0.1/localhost, a client certificate, and a rogue client."""
    if not shutil.which("openssl"):
        raise AssertionError("openssl not found (Debian package openssl: scripts/install-deps)")
    d.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _run("openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=Runnel Test CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    _run("openssl", "req", "-x509", *ec, "-keyout", "rogue-ca.key", "-out", "rogue-ca.pem", "-days", "2",
         "-subj", "/CN=Rogue CA", "-addext", "basicConstraints=critical,CA:TRUE", cwd=d)

    def issue(name: str, subj: str, ca: str, ext: str) -> None:
        _run("openssl", "req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subj, cwd=d)
        (d / f"{name}.ext").write_text(ext)
        _run("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)

    issue("broker", "/CN=localhost/O=Runnel", "ca",
          "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n")
    issue("client", "/O=Runnel/OU=eng/CN=alice", "ca", "extendedKeyUsage=clientAuth\n")
    issue("rogue", "/CN=mallory", "rogue-ca", "extendedKeyUsage=clientAuth\n")
    (d / "broker-keystore.pem").write_text((d / "broker.key").read_text() + (d / "broker.pem").read_text()
                                           + (d / "ca.pem").read_text())
    (d / "client-keystore.pem").write_text((d / "client.key").read_text() + (d / "client.pem").read_text())
    return Pki(d, d / "ca.pem", d / "broker-keystore.pem", d / "client.pem", d / "client.key",
               d / "client-keystore.pem", d / "rogue.pem", d / "rogue.key")


JAAS_PLAIN = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
              'username="admin" password="admin-secret" '
              'user_admin="admin-secret" user_alice="alice-secret";')


class SecureBroker:
    """One broker with PLAINTEXT (harness), SSL, MTLS (SSL, client certificates required),
    SASL_PLAINTEXT and SASL_SSL listeners."""

    def __init__(self, binary: str, workdir: Path, pki: Pki, extra: dict | None = None):
        self.pki = pki
        self.ports = {name: free_port() for name in ["PLAINTEXT", "SSL", "MTLS", "SASL_PLAINTEXT", "SASL_SSL"]}
        p = self.ports
        listeners = ",".join(f"{name}://127.0.0.1:{port}" for name, port in p.items())
        configs = {
            "listeners": listeners,
            "listener.security.protocol.map":
                "PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(pki.broker_keystore),
            "ssl.truststore.location": str(pki.ca),
            "listener.name.mtls.ssl.client.auth": "required",
            "listener.name.mtls.ssl.principal.mapping.rules":
                "RULE:^CN=([^,]+),OU=eng.*$/$1/L,DEFAULT",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS_PLAIN,
            "listener.name.sasl_ssl.plain.sasl.jaas.config": JAAS_PLAIN,
            "connections.max.idle.ms": 60000,
            # Failed authentications from 127.0.0.1 add up across tests, and the clients retry many times:
            # no delay here (each bad-credentials test waited ~60 s at the 5 s cap). The growing delay has
            # its own test on its own broker (test_security.py::test_repeated_failures_from_one_address_wait_longer).
            "connection.failed.authentication.delay.ms": 0,
        }
        configs.update(extra or {})
        self.process = BrokerProcess(binary, workdir, configs=configs, port=p["PLAINTEXT"])

    def bootstrap(self, listener: str) -> str:
        return f"127.0.0.1:{self.ports[listener]}"


# ---- client properties per family -----------------------------------------------------------------

def librdkafka_props(protocol: str, pki: Pki, mechanism: str | None = None, user: str | None = None,
                     password: str | None = None, client_cert: bool = False) -> dict:
    """confluent-kafka / kcat (-X) properties."""
    props = {"security.protocol": protocol}
    if "SSL" in protocol:
        props["ssl.ca.location"] = str(pki.ca)
        if client_cert:
            props["ssl.certificate.location"] = str(pki.client_cert)
            props["ssl.key.location"] = str(pki.client_key)
    if mechanism:
        props.update({"sasl.mechanism": mechanism, "sasl.username": user, "sasl.password": password})
    return props


def java_props(protocol: str, pki: Pki, mechanism: str | None = None, user: str | None = None,
               password: str | None = None, client_cert: bool = False) -> dict:
    """The Java client's properties (PEM trust and key stores)."""
    props = {"security.protocol": protocol}
    if "SSL" in protocol:
        props.update({"ssl.truststore.type": "PEM", "ssl.truststore.location": str(pki.ca)})
        if client_cert:
            props.update({"ssl.keystore.type": "PEM", "ssl.keystore.location": str(pki.client_keystore)})
    if mechanism:
        module = ("org.apache.kafka.common.security.plain.PlainLoginModule" if mechanism == "PLAIN"
                  else "org.apache.kafka.common.security.scram.ScramLoginModule")
        props.update({"sasl.mechanism": mechanism,
                      "sasl.jaas.config": f'{module} required username="{user}" password="{password}";'})
    return props


def kafka_python_props(protocol: str, pki: Pki, mechanism: str | None = None, user: str | None = None,
                       password: str | None = None, client_cert: bool = False) -> dict:
    props: dict = {"security_protocol": protocol}
    if "SSL" in protocol:
        props["ssl_cafile"] = str(pki.ca)
        if client_cert:
            props.update({"ssl_certfile": str(pki.client_cert), "ssl_keyfile": str(pki.client_key)})
    if mechanism:
        props.update({"sasl_mechanism": mechanism, "sasl_plain_username": user, "sasl_plain_password": password})
    return props


def kcat_args(props: dict) -> list[str]:
    out: list[str] = []
    for k, v in props.items():
        out += ["-X", f"{k}={v}"]
    return out


# ---- raw sockets ------------------------------------------------------------------------------------

def tls_socket(port: int, pki: Pki, timeout: float = 5.0, client_cert: bool = False) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    if client_cert:
        ctx.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def closed_within(sock: socket.socket, seconds: float) -> float:
    """Reads until the peer closes; returns how long that took (fails past `seconds`)."""
    start = time.monotonic()
    sock.settimeout(0.5)
    while time.monotonic() - start < seconds:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, ssl.SSLError, OSError):
            return time.monotonic() - start
        if not data:
            return time.monotonic() - start
    raise AssertionError(f"connection still open after {seconds}s")


def serve_secure_broker(binary: str, workdir: Path, pki: Pki, active: list, before_start=None):
    """Generator for a module fixture: starts a SecureBroker (after `before_start(sb)`, e.g. offline
    user creation), registers it in the harness's `active` list, yields it, and stops it."""
    sb = SecureBroker(binary, workdir, pki)
    if before_start is not None:
        before_start(sb)
    active.append(sb.process)
    sb.process.start()
    try:
        yield sb
    finally:
        if sb.process in active:
            active.remove(sb.process)
        sb.process.stop()


def reissue_broker_keystore(pki: Pki, cn: str) -> str:
    """A new broker key and certificate (subject CN=cn, same SANs, same CA) written over the key store;
    returns the new certificate's serial number as openssl prints it."""
    d = pki.dir
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _run("openssl", "req", *ec, "-keyout", "broker2.key", "-out", "broker2.csr", "-subj", f"/CN={cn}/O=Runnel", cwd=d)
    _run("openssl", "x509", "-req", "-in", "broker2.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "broker2.pem", "-days", "2", "-extfile", "broker.ext", cwd=d)
    tmp = d / "broker-keystore.pem.new"
    tmp.write_text((d / "broker2.key").read_text() + (d / "broker2.pem").read_text() + (d / "ca.pem").read_text())
    os.replace(tmp, pki.broker_keystore)  # atomically, as a certificate renewal tool does
    return cn


def plain_jaas(users: dict[str, str]) -> str:
    """A PLAIN JAAS config holding `users` (Kafka's `user_NAME="password"` entries)."""
    return ("org.apache.kafka.common.security.plain.PlainLoginModule required "
            + " ".join(f'user_{u}="{p}"' for u, p in users.items()) + ";")


def serve_sasl_broker(binary: str, workdir: Path, active: list, users: dict[str, str], configs: dict | None = None):
    """Generator for a module fixture: a broker with a PLAINTEXT listener (the harness's) and a
    SASL_PLAINTEXT one (PLAIN `users`; its port is `.sasl_port`), plus `configs`; registered in the
    harness's `active` list while it runs."""
    plain, sasl = free_port(), free_port()
    b = BrokerProcess(binary, workdir, port=plain, configs={
        "listeners": f"PLAINTEXT://127.0.0.1:{plain},SASL_PLAINTEXT://127.0.0.1:{sasl}",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": plain_jaas(users),
        **(configs or {}),
    })
    b.sasl_port = sasl
    active.append(b)
    b.start()
    try:
        yield b
    finally:
        if b in active:
            active.remove(b)
        b.stop()
