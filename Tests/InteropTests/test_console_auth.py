"""Console authentication (issue 14 item 2): with SASL listeners and an authorizer, every console page
asks for HTTP Basic credentials of a SASL user of the broker — PLAIN JAAS users and SCRAM credentials
(checked by deriving the password's salted form with the stored salt and iterations) — answers 401
with a Basic challenge otherwise, and shows each principal only what its ACLs allow: topics it may
not DESCRIBE are absent, the message browser needs READ, write actions need the ACL their Kafka
request would. /metrics, /health and /ready stay open. Pages are checked in headless Chromium."""
from __future__ import annotations

import base64
import urllib.error
import urllib.parse
import urllib.request

import pytest
from confluent_kafka import Producer

import cli_support as cli
import conftest
from conftest import missing_prerequisite, unique
from runnel_interop import browser, clients, metrics
from runnel_interop.security import serve_sasl_broker

pytestmark = pytest.mark.needs_broker

USERS = {"admin": "admin-secret", "alice": "alice-secret"}
INJECT_KEY = '<script id="injected-key">document.title="pwned"</script>'
INJECT_VALUE = '<img id="injected-value" src=x onerror="document.title=\'pwned\'">'


@pytest.fixture(scope="module")
def secured(runnel_bin, tmp_path_factory):
    if not browser.chromium_path():
        missing_prerequisite("chromium not installed (Debian package chromium: scripts/install-deps)")
    brokers = serve_sasl_broker(runnel_bin, tmp_path_factory.mktemp("console-auth"), conftest._active, USERS, {
        **metrics.metrics_configs(),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:admin;User:ANONYMOUS",  # the harness's PLAINTEXT set-up acts as ANONYMOUS
        "console.read.only": False,
    })
    b = next(brokers)
    try:
        readable, described, hidden = unique("ca-readable"), unique("ca-described"), unique("ca-hidden")
        for t in (readable, described, hidden):
            clients.create_topic(b.bootstrap, t, partitions=1)
        p = Producer({"bootstrap.servers": b.bootstrap})
        p.produce(readable, key=INJECT_KEY.encode(), value=INJECT_VALUE.encode(), partition=0)
        p.produce(readable, key=b"plain-key", value=b"plain-value", partition=0)
        assert p.flush(30) == 0
        cli.ok(runnel_bin, "user", "create", "carol", "--mechanism", "SCRAM-SHA-512", "--password", "carol-secret",
               brokers=b.bootstrap)
        for args in (["--allow-principal", "User:alice", "--operation", "Read", "--topic", readable],
                     ["--allow-principal", "User:alice", "--operation", "Describe", "--topic", described],
                     ["--allow-principal", "User:carol", "--operation", "Describe", "--topic", described]):
            cli.ok(runnel_bin, "acl", "add", *args, brokers=b.bootstrap)
        yield {"broker": b, "base": f"http://{b.configs['metrics.listener']}", "readable": readable,
               "described": described, "hidden": hidden}
    finally:
        brokers.close()  # stops the broker (the generator's finally)


def get(ctx, path: str, user: str | None = None, password: str | None = None, method: str = "GET",
        form: dict | None = None, **query) -> tuple[int, dict, str]:
    """(status, headers, body) of one request, with Basic credentials when `user` is given."""
    address = ctx["base"] + path + ("?" + urllib.parse.urlencode(query) if query else "")
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(address, data=data, method=method)
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    if method == "POST":
        req.add_header("Origin", ctx["base"])
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode(errors="replace")


def dom_as(ctx, user: str, password: str, path: str, **query) -> browser.Node:
    """The page as Chromium builds it, credentials in the URL (Chromium sends them as Basic)."""
    host = ctx["base"].removeprefix("http://")
    address = f"http://{user}:{password}@{host}{path}" + ("?" + urllib.parse.urlencode(query) if query else "")
    return browser.dump_dom(address)


def test_401_without_or_with_wrong_credentials(secured):
    for path in ("/", "/topics", "/groups", "/messages"):
        code, headers, _ = get(secured, path)
        assert code == 401, path
        assert headers.get("WWW-Authenticate", "").startswith("Basic realm="), headers
    assert get(secured, "/topics", "alice", "wrong")[0] == 401
    assert get(secured, "/topics", "nobody", "alice-secret")[0] == 401
    assert get(secured, "/topics", "carol", "wrong")[0] == 401          # SCRAM user, wrong password
    assert get(secured, "/topics", "carol", "carol-secret")[0] == 200   # SCRAM user, derived key matches
    assert get(secured, "/topics", "alice", "alice-secret")[0] == 200   # PLAIN user
    # The operational endpoints stay open (documented in docs/operations.md).
    for path in ("/metrics", "/health", "/ready"):
        assert get(secured, path)[0] == 200, path
    log = secured["broker"].log_path.read_text(errors="replace")
    assert "console authentication failed" in log and "user=nobody" in log


def test_each_principal_sees_only_what_its_acls_allow(secured):
    readable, described, hidden = secured["readable"], secured["described"], secured["hidden"]
    dom = dom_as(secured, "alice", "alice-secret", "/topics")
    shown = {n.attrs["data-topic"] for n in dom.find_all("tr") if "data-topic" in n.attrs}
    assert readable in shown and described in shown and hidden not in shown
    assert dom.by_id("principal").text == "User:alice"
    dom = dom_as(secured, "carol", "carol-secret", "/topics")
    assert {n.attrs["data-topic"] for n in dom.find_all("tr") if "data-topic" in n.attrs} == {described}
    dom = dom_as(secured, "admin", "admin-secret", "/topics")
    assert {readable, described, hidden} <= {n.attrs["data-topic"] for n in dom.find_all("tr") if "data-topic" in n.attrs}
    # A topic the principal may not DESCRIBE is as absent as one that does not exist.
    assert get(secured, "/topic", "alice", "alice-secret", name=hidden)[0] == 404
    assert get(secured, "/messages", "alice", "alice-secret", topic=hidden)[0] == 404
    # The message browser needs READ.
    code, _, body = get(secured, "/messages", "alice", "alice-secret", topic=described)
    assert code == 403 and "reading" in body
    dom = dom_as(secured, "alice", "alice-secret", "/messages", topic=readable, partition=0, offset=0)
    assert "plain-value" in dom.text


def test_injection_stays_text_for_an_authenticated_principal(secured):
    dom = dom_as(secured, "alice", "alice-secret", "/messages", topic=secured["readable"], partition=0, offset=0)
    assert INJECT_KEY in dom.text
    assert not [n for n in dom.iter() if (n.attrs.get("id") or "").startswith("injected")]


def test_write_actions_need_the_acl_of_their_kafka_request(secured):
    name = unique("ca-created")
    code, _, body = get(secured, "/topics/create", "alice", "alice-secret", method="POST", form={"name": name})
    assert code == 403 and "ACLs" in body
    code, _, body = get(secured, "/topics/create", "admin", "admin-secret", method="POST", form={"name": name})
    assert code == 200 and name in body
    code, _, _ = get(secured, "/topic/config", "alice", "alice-secret", method="POST",
                     form={"name": secured["readable"], "key": "retention.ms", "value": "1000"})
    assert code == 403
