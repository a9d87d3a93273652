"""Fixtures for the Runnel interop suite.

`runnel_bin`   the broker executable from $RUNNEL_BIN; tests that need it are skipped, with the
               reason, when it is unset, missing, or has no `broker` subcommand yet. Every missing
               prerequisite (broker binary, Java and its jars, kcat) fails instead of skipping
               under CI=true (or RUNNEL_INTEROP_REQUIRE_BROKER=1).
`broker`       one broker per test module (fast), stopped with SIGTERM at module end (exit 0 and
               a bounded shutdown are asserted).
`group_broker` like `broker`, allowing 1 s sessions (group.min.session.timeout.ms) for group tests.
`txn_broker`   like `broker`, with TXN_BROKER_CONFIGS (small transaction log, quick timeouts).
`fresh_broker` a factory for brokers owned by one test (restart and bad-input tests).
`java`         the compiled tools/interop/java client (javac once per source hash).
On failure, the tail of every broker log the test used is attached to the report.
"""
from __future__ import annotations

import itertools
import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runnel_interop import java as java_support  # noqa: E402
from runnel_interop.broker import BrokerProcess  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
# A whole-suite time budget: against a broker that hangs, per-test timeouts alone could add up to
# hours (CI allows 90 minutes for everything). Past the budget, remaining tests fail at once.
BUDGET_S = float(os.environ.get("RUNNEL_INTEROP_BUDGET", "1500"))
_session_start = time.monotonic()
_active: list[BrokerProcess] = []
_names = itertools.count(1)


def prerequisites_required() -> bool:
    """True where a missing prerequisite is a failure, not a skip: CI, or on request."""
    return os.environ.get("CI") == "true" or os.environ.get("RUNNEL_INTEROP_REQUIRE_BROKER") == "1"


def missing_prerequisite(why: str) -> None:
    """Skips the test with the reason on a developer machine; fails it under CI=true."""
    if prerequisites_required():
        pytest.fail(f"missing prerequisite (CI=true makes this a failure): {why}", pytrace=False)
    pytest.skip(why)


@contextlib.contextmanager
def running_cluster(runnel_bin: str, workdir, nodes: int = 3, metrics: bool = False, **overrides):
    """A local cluster (etcd + `nodes` brokers via `runnel local-cluster`) with `overrides` as broker
    settings, started for the `with` body and killed after it, whatever happened. etcd missing is a
    missing prerequisite."""
    import shutil
    from runnel_interop.cluster import LocalCluster
    if not shutil.which("etcd"):
        missing_prerequisite("etcd not installed (Debian package etcd-server: scripts/install-deps)")
    c = LocalCluster(runnel_bin, workdir, nodes=nodes, overrides=overrides, metrics=metrics)
    try:
        c.start()
        yield c
    finally:
        c.kill_everything()


def unique(prefix: str) -> str:
    """A topic / prefix name unique within this pytest run."""
    return f"{prefix}-{os.getpid()}-{next(_names)}"


@pytest.fixture(scope="session")
def runnel_bin() -> str:
    fail = missing_prerequisite
    path = os.environ.get("RUNNEL_BIN")
    if not path:
        fail("RUNNEL_BIN is not set: point it at the runnel executable (scripts/test does)")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        fail(f"RUNNEL_BIN={path} is not an executable file (build first: swift build)")
    try:
        res = subprocess.run([path, "broker", "--help"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        fail(f"RUNNEL_BIN={path} broker --help could not run: {e}")
    if res.returncode != 0:
        first = (res.stderr or res.stdout).strip().splitlines()[:1]
        fail(f"RUNNEL_BIN={path} has no working `broker` subcommand yet "
             f"(`broker --help` exited {res.returncode}: {first[0] if first else ''})")
    return path


def _start(runnel_bin: str, workdir: Path, **kw) -> BrokerProcess:
    b = BrokerProcess(runnel_bin, workdir, **kw)
    _active.append(b)
    try:
        b.start()
    except BaseException:
        _active.remove(b)
        raise
    return b


@pytest.fixture(scope="module")
def broker(runnel_bin, tmp_path_factory):
    b = _start(runnel_bin, tmp_path_factory.mktemp("broker"))
    yield b
    if b in _active:
        _active.remove(b)
    b.stop()


# Group tests kill members and wait for their sessions to expire: allow sessions down to 1 s
# (Kafka's default group.min.session.timeout.ms is 6 s).
GROUP_BROKER_CONFIGS = {"group.min.session.timeout.ms": 1000}


@pytest.fixture(scope="module")
def group_broker(runnel_bin, tmp_path_factory):
    """Like `broker`, with GROUP_BROKER_CONFIGS (short sessions allowed) for consumer-group tests."""
    b = _start(runnel_bin, tmp_path_factory.mktemp("group-broker"), configs=GROUP_BROKER_CONFIGS)
    yield b
    if b in _active:
        _active.remove(b)
    b.stop()


# Transaction tests (test_transactions_*.py): a small transaction state log on one broker, short
# sessions, and quick expiry of timed-out transactions.
TXN_BROKER_CONFIGS = {
    "transaction.state.log.num.partitions": 4,
    "transaction.state.log.replication.factor": 1,
    "transaction.state.log.min.isr": 1,
    "transaction.max.timeout.ms": 120000,
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": 500,
    "group.min.session.timeout.ms": 1000,
}


@pytest.fixture(scope="module")
def txn_broker(runnel_bin, tmp_path_factory):
    """Like `broker`, with TXN_BROKER_CONFIGS, for the transaction tests."""
    b = _start(runnel_bin, tmp_path_factory.mktemp("txn-broker"), configs=TXN_BROKER_CONFIGS)
    yield b
    if b in _active:
        _active.remove(b)
    b.stop()


@pytest.fixture
def fresh_broker(runnel_bin, tmp_path):
    """Factory: fresh_broker(configs={...}) starts a broker owned by this test."""
    mine: list[BrokerProcess] = []

    def make(configs: dict | None = None) -> BrokerProcess:
        b = _start(runnel_bin, tmp_path / f"broker-{len(mine) + 1}", configs=configs)
        mine.append(b)
        return b
    # (a broker that failed to start was already killed by BrokerProcess.wait_ready)

    yield make
    errors = []
    for b in mine:
        if b in _active:
            _active.remove(b)
        try:
            if b.running():
                b.stop()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("broker shutdown failed:\n" + "\n".join(errors))


@pytest.fixture(scope="session")
def java_classes() -> Path:
    why = java_support.missing_prerequisites()
    if why:
        missing_prerequisite(why)
    return java_support.compile_client()


@pytest.fixture
def java(java_classes, tmp_path) -> java_support.JavaClient:
    return java_support.JavaClient(java_classes, tmp_path / "java")


@pytest.fixture(scope="session")
def kcat_bin() -> str:
    path = shutil.which("kcat")
    if not path:
        missing_prerequisite("kcat not installed (Debian package kcat: scripts/install-deps)")
    return path


def _kill_active_brokers(*_):
    """Brokers run in their own session; never leave one behind when pytest itself is stopped."""
    for b in list(_active):
        try:
            b.kill()
        except Exception:  # noqa: BLE001 - best effort while exiting
            pass


def pytest_sessionstart(session):
    import atexit
    import signal
    atexit.register(_kill_active_brokers)

    def on_term(signum, frame):
        _kill_active_brokers()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)


def _module_group(module: Path) -> str:
    """The scheduling unit of a test module: the module itself, or "cluster" for every module that
    starts a local cluster (etcd + 3 brokers), so two of those never run at once on the 2 cores."""
    text = module.read_text()
    if module.name.startswith("test_cluster_") or "running_cluster(" in text or "LocalCluster(" in text:
        return "cluster"
    return str(module)


def pytest_xdist_make_scheduler(config, log):
    """scripts/test runs the suite on two pytest-xdist workers (`-n 2 --dist loadgroup`). xdist's own
    loadgroup reads `xdist_group` marks through a node-id suffix that pytest 9 no longer honours, so
    the grouping is done here: a scope scheduler whose scopes are _module_group's (a module runs on
    one worker, its module-scoped brokers start once; the cluster modules share one worker)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling
    root = Path(str(config.rootpath))

    class ModuleGroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _module_group(root / nodeid.split("::", 1)[0])

    return ModuleGroupScheduling(config, log)


def pytest_runtest_setup(item):
    spent = time.monotonic() - _session_start
    if spent > BUDGET_S:
        pytest.fail(f"interop suite time budget exceeded ({spent:.0f}s > RUNNEL_INTEROP_BUDGET={BUDGET_S:.0f}s); "
                    "earlier tests are hanging: see their failures", pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for b in list(_active):
            report.sections.append((f"broker log {b.workdir.name} (port {b.port})", b.log_tail()))


# Where the suite's time went, per xdist worker and per scheduling group (_module_group), summed from the
# test reports the controller receives (setup, call and teardown; a module's broker start counts in its
# first test's setup). The longest worker bounds the suite's wall time: the summary shows whether the
# cluster group's worker is the critical path.
_busy_by_worker: dict[str, float] = {}
_busy_by_group: dict[str, float] = {}
_rootpath: list[Path] = []
_group_of: dict[str, str] = {}


def pytest_configure(config):
    _rootpath.append(Path(str(config.rootpath)))


def pytest_runtest_logreport(report):
    node = getattr(report, "node", None)  # the xdist worker, on the controller
    worker = getattr(getattr(node, "gateway", None), "id", "main")
    _busy_by_worker[worker] = _busy_by_worker.get(worker, 0.0) + report.duration
    name = report.nodeid.split("::", 1)[0]
    if name not in _group_of:
        module = _rootpath[0] / name if _rootpath else None
        group = "?" if module is None or not module.is_file() else _module_group(module)
        _group_of[name] = group if group in ("cluster", "?") else Path(group).name
    group = _group_of[name]
    _busy_by_group[group] = _busy_by_group.get(group, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    if not _busy_by_worker:
        return
    wall = time.monotonic() - _session_start
    workers = ", ".join(f"{w} {s:.0f}s" for w, s in sorted(_busy_by_worker.items()))
    top = sorted(_busy_by_group.items(), key=lambda kv: -kv[1])[:6]
    groups = ", ".join(f"{g} {s:.0f}s" for g, s in top)
    terminalreporter.write_line(f"== busy time by worker ({wall:.0f}s wall): {workers}; largest groups: {groups}")
