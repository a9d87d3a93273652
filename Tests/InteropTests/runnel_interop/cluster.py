"""`runnel local-cluster` under test: etcd and N brokers from one command, and the faults the cluster
tests inflict on them (kill -9, SIGSTOP/SIGCONT, restart from cluster.json, etcd killed/restarted).

    c = LocalCluster(runnel_bin, workdir, overrides={"etcd.lease.ttl.ms": 3000})
    c.start()                       # polls until cluster.json exists and the servers are printed
    c.create_topic(t, 3, 3, {"min.insync.replicas": "2"})
    leader = c.leader_of(t, 0)      # Metadata v7 asked of every running node; they must agree
    c.kill(leader); c.wait_leader(t, 0, exclude={leader}); c.restart(leader); c.wait_isr(t, 0, {1, 2, 3})
    c.stop()                        # SIGTERM to what this test restarted, then to local-cluster
    c.kill_everything()             # finalizer: nothing outlives the test, whatever happened

Nodes the test restarts run as this process's children with the command line in cluster.json,
appending to the node's own log (DIR/node-<id>/broker.log). Partition state comes from raw Metadata
v7 (wire.metadata) asked of each running, unpaused node, so a test can see which node says what;
`diagnostics()` gathers the timeline, each node's view and the tails of every log for a failure
report. Every wait is a bounded poll (`poll`)."""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from . import wire

START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30


# ---- small helpers (also used by test_cluster_local.py) --------------------------------------------

def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _ephemeral_range() -> tuple[int, int]:
    try:
        lo, hi = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999


def free_range(count: int, avoid: range | list[int] | None = None) -> int:
    """A base port with `count` consecutive free loopback ports (checked now; random to avoid clashes),
    outside the kernel's ephemeral range: a killed node's port must still be free when the node
    restarts, and an outgoing connection could take it meanwhile (seen: "Address already in use")."""
    lo, hi = _ephemeral_range()
    low_end = max(1024, min(20000, lo - 2000))
    candidates = [(low_end, lo - count)] if lo - count > low_end else []
    if hi + 1 < 65535 - count:
        candidates.append((hi + 1, 65535 - count))
    assert candidates, f"no port range outside the ephemeral range {lo}-{hi}"
    for _ in range(200):
        a, b = random.choice(candidates)
        base = random.randint(a, b)
        ports = range(base, base + count)
        if avoid and (set(ports) & set(avoid)):
            continue
        if all(port_free(p) for p in ports):
            return base
    raise AssertionError(f"no {count} consecutive free loopback ports found")


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stopped(pid: int) -> bool:
    """True while `pid` is stopped by a signal (SIGSTOP)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
    except OSError:
        return False


def poll(what: str, timeout: float, probe, interval: float = 0.2):
    """Calls probe() until it returns a truthy value or `timeout` passes; returns that value.
    Exceptions count as "not yet" (a dead broker answers with errors while we poll), except
    AssertionError, which a probe raises to give up at once (e.g. a process died)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            result = probe()
            if result:
                return result
            last = f"probe returned {result!r}"
        except AssertionError:
            raise
        except Exception as e:  # noqa: BLE001
            last = f"{type(e).__name__}: {e}"
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout:.1f}s (last: {last})")
        time.sleep(interval)  # poll interval, bounded by the deadline


def tail(path: Path, chars: int = 6000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - chars))
            return f.read().decode(errors="replace")
    except OSError as e:
        return f"({path}: {e})"


_snapshots: dict[str, str] = {}


def snapshot_binary(runnel_bin: str, dest: Path) -> str:
    """A private copy of the runnel executable (and the resource bundles beside it), once per process:
    a rebuild of RUNNEL_BIN while a test runs must not change the binary a node restarts with."""
    key = os.path.realpath(runnel_bin)
    if key in _snapshots and os.path.exists(_snapshots[key]):
        return _snapshots[key]
    dest.mkdir(parents=True, exist_ok=True)
    src_dir = Path(key).parent
    for bundle in src_dir.glob("*.resources"):
        shutil.copytree(bundle, dest / bundle.name, dirs_exist_ok=True)
    out = dest / "runnel"
    shutil.copy2(key, out)
    _snapshots[key] = str(out)
    return str(out)


# ---- the cluster -------------------------------------------------------------------------------------

class NodeExited(AssertionError):
    def __init__(self, node: int, code: int, log_tail: str):
        errors = [line for line in log_tail.splitlines() if line.startswith("error:")]
        self.summary = f"exit {code}: " + (" | ".join(errors[-2:]) if errors else log_tail[-300:])
        super().__init__(f"node {node} exited with {code}:\n{log_tail}")


class LocalClusterExited(AssertionError):
    def __init__(self, code: int, output: str):
        errors = [line for line in output.splitlines() if line.startswith("error:")]
        self.summary = f"exit {code}: " + (" | ".join(errors[:2]) if errors else output[-300:])
        super().__init__(f"local-cluster exited with {code} before it was ready:\n{output}")


class LocalCluster:
    def __init__(self, runnel_bin: str, workdir: Path, nodes: int = 3, overrides: dict | None = None,
                 metrics: bool = False):
        self.workdir = Path(workdir)
        self.dir = self.workdir / "cluster"
        self.nodes = nodes
        self.port = free_range(nodes)
        self.etcd_port = free_range(2, avoid=range(self.port, self.port + nodes))
        # With `metrics`, node N serves /metrics on metrics_port + N - 1 (local-cluster --metrics-port).
        taken = [*range(self.port, self.port + nodes), self.etcd_port, self.etcd_port + 1]
        self.metrics_port = free_range(nodes, avoid=taken) if metrics else None
        self.output = self.workdir / "local-cluster.out"
        self.overrides = {"group.initial.rebalance.delay.ms": 0, **(overrides or {})}
        self.argv = [runnel_bin, "local-cluster", "--nodes", str(nodes), "--dir", str(self.dir),
                     "--port", str(self.port), "--etcd-port", str(self.etcd_port)]
        if self.metrics_port:
            self.argv += ["--metrics-port", str(self.metrics_port)]
        for k, v in self.overrides.items():
            self.argv += ["--broker-override", f"{k}={v}"]
        self.proc: subprocess.Popen | None = None
        self.restarted: dict[int, subprocess.Popen] = {}   # node id -> the process this test started
        self.etcd_proc: subprocess.Popen | None = None     # etcd restarted by this test
        self.pids: dict[int, int] = {}                     # node id -> current pid
        self.down: set[int] = set()                        # killed and not restarted
        self.paused: set[int] = set()                      # SIGSTOPped
        self.timeline: list[tuple[float, str]] = []
        self.start_failures: list[str] = []
        self.topics: dict[str, int] = {}                   # created through create_topic: partitions
        self.listeners: list = []                          # callables(text) told of every event
        self.commands: dict[int, list[str]] = {}           # node id -> command line replacing cluster.json's
        self.t0 = time.monotonic()

    # ---- start / info ----

    @property
    def ports(self) -> list[int]:
        return [self.port + i for i in range(self.nodes)]

    @property
    def ids(self) -> list[int]:
        return list(range(1, self.nodes + 1))

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def port_of(self, node: int) -> int:
        return self.port + node - 1

    def metric(self, node: int, name: str) -> float:
        """The sum of every series of metric `name` that node `node` serves on /metrics (started with
        metrics=True)."""
        import urllib.request
        assert self.metrics_port, "cluster started without metrics=True"
        url = f"http://127.0.0.1:{self.metrics_port + node - 1}/metrics"
        text = urllib.request.urlopen(url, timeout=5).read().decode()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(name + " ") or line.startswith(name + "{"))

    def event(self, text: str) -> None:
        self.timeline.append((time.monotonic() - self.t0, text))
        for listener in self.listeners:
            listener(text)

    def start(self, retries: int = 0) -> dict:
        """Starts local-cluster and polls until it is ready. With `retries`, a local-cluster that
        exits before it is ready is started again (on a fresh dir); each failure is kept in
        `start_failures` and the timeline, so a test can report it."""
        for attempt in range(retries + 1):
            try:
                return self._start_once()
            except LocalClusterExited as e:
                self.start_failures.append(str(e))
                self.event(f"local-cluster failed to start (attempt {attempt + 1}): {e.summary}")
                if attempt == retries:
                    raise
                self.kill_everything()
                self.dir.rename(self.dir.with_name(f"cluster-failed-{attempt + 1}"))
                self.output.rename(self.output.with_name(f"local-cluster-failed-{attempt + 1}.out"))
        raise AssertionError("unreachable")

    def _start_once(self) -> dict:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        cluster_file = self.dir / "cluster.json"

        def ready():
            code = self.proc.poll()
            if code is not None:
                raise LocalClusterExited(code, self.log())
            return "Bootstrap servers:" in self.output.read_text() and cluster_file.exists()
        poll("local-cluster ready (cluster.json written, bootstrap servers printed)", START_TIMEOUT_S, ready)
        info = self.info()
        self.pids = {n["id"]: n["pid"] for n in info["nodes"]}
        self.event(f"local-cluster started: nodes {self.pids}, etcd pid {info['etcd']['pid']}")
        return info

    def info(self) -> dict:
        return json.loads((self.dir / "cluster.json").read_text())

    def node(self, node: int) -> dict:
        return next(n for n in self.info()["nodes"] if n["id"] == node)

    def node_log(self, node: int) -> Path:
        return Path(self.node(node).get("log") or self.dir / f"node-{node}" / "broker.log")

    def etcd_log(self) -> Path:
        return Path(self.info()["etcd"].get("log") or self.dir / "etcd" / "etcd.log")

    def log(self) -> str:
        return tail(self.output, 8000)

    def running(self) -> list[int]:
        """Nodes whose process is alive and not paused."""
        return [n for n in self.ids if n not in self.paused and alive(self.pids[n])]

    # ---- faults ----

    def kill(self, node: int, sig: int = signal.SIGKILL) -> None:
        """Sends `sig` (default SIGKILL) to the node and, for SIGKILL, waits until it is gone."""
        pid = self.pids[node]
        if node in self.paused and sig == signal.SIGKILL:
            self.paused.discard(node)
        os.kill(pid, sig)
        self.event(f"{signal.Signals(sig).name} node {node} (pid {pid})")
        if sig == signal.SIGKILL:
            p = self.restarted.get(node)
            if p is not None:
                p.wait(10)
            poll(f"node {node} (pid {pid}) gone after SIGKILL", 10, lambda: not alive(pid))
            self.down.add(node)

    def pause(self, node: int) -> None:
        pid = self.pids[node]
        os.kill(pid, signal.SIGSTOP)
        self.paused.add(node)
        poll(f"node {node} stopped", 5, lambda: stopped(pid))
        self.event(f"SIGSTOP node {node} (pid {pid})")

    def resume(self, node: int) -> None:
        pid = self.pids[node]
        os.kill(pid, signal.SIGCONT)
        self.paused.discard(node)
        self.event(f"SIGCONT node {node} (pid {pid})")

    def command_with(self, node: int, **settings) -> list[str]:
        """The node's current command line (cluster.json's, or the one a test set with `commands`)
        with each `--override key=value` of `settings` replaced or added (keys with dots: pass a dict
        with **{"etcd.endpoints": ...})."""
        argv = list(self.commands.get(node) or self.node(node)["command"])
        for key, value in settings.items():
            item = f"{key}={value}"
            for i, a in enumerate(argv):
                if a.startswith(f"{key}=") and i > 0 and argv[i - 1] == "--override":
                    argv[i] = item
                    break
            else:
                argv += ["--override", item]
        return argv

    def stop_node(self, node: int, timeout: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM (controlled shutdown) and a bounded wait until the process is gone."""
        pid = self.pids[node]
        if node in self.paused:
            self.resume(node)
        os.kill(pid, signal.SIGTERM)
        self.event(f"SIGTERM node {node} (pid {pid})")
        p = self.restarted.get(node)
        if p is not None:
            p.wait(timeout)
        poll(f"node {node} (pid {pid}) gone after SIGTERM", timeout, lambda: not alive(pid))
        self.down.add(node)

    def restart(self, node: int, wait: bool = True, retries: int = 0,
                command: list[str] | None = None) -> subprocess.Popen:
        """Starts the node again with cluster.json's command line (output appended to its log);
        with `wait`, until it answers ApiVersions. With `retries`, a node that exits before it
        answers is started again; each such failure is kept in `start_failures` and the timeline.
        With `command`, that command line from now on (this and later restarts: `commands`)."""
        if command is not None:
            self.commands[node] = list(command)
        argv = self.commands.get(node) or self.node(node)["command"]
        assert not alive(self.pids[node]), f"node {node} (pid {self.pids[node]}) is still running"
        for attempt in range(retries + 1):
            with open(self.node_log(node), "ab") as out:
                out.write(f"\n==== restarted by the test at {time.strftime('%H:%M:%S')} ====\n".encode())
                if node in self.commands:
                    out.write(f"==== command: {' '.join(argv)}\n".encode())
                out.flush()
                p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
            self.restarted[node] = p
            self.pids[node] = p.pid
            self.down.discard(node)
            self.event(f"restarted node {node} (pid {p.pid})")
            if not wait:
                return p
            try:
                self.wait_serving(node)
                return p
            except NodeExited as e:
                self.start_failures.append(str(e))
                self.event(f"node {node} failed to restart (attempt {attempt + 1}): {e.summary}")
                if attempt == retries:
                    raise
        raise AssertionError("unreachable")

    def wait_registered(self, timeout: float = 30) -> None:
        """Polls until every running node's Metadata lists every running node as a broker: each holds its
        registration (a lease in etcd). A node that answers ApiVersions may still be registering, or may have
        lost its lease on a loaded machine and be registering again; topics created meanwhile are placed on
        the others."""
        def registered():  # a node that does not answer yet counts as "not yet" (poll)
            want = set(self.running())
            return all(set(self.metadata(n)["brokers"]) == want for n in want)
        poll(f"nodes {self.running()} registered", timeout, registered)

    def wait_serving(self, node: int, timeout: float = 45) -> None:
        def answers():
            p = self.restarted.get(node)
            if p is not None and p.poll() is not None:
                raise NodeExited(node, p.returncode, tail(self.node_log(node), 4000))
            return wire.api_versions_roundtrip(self.port_of(node), version=0, timeout=2.0)["error_code"] == wire.NONE
        poll(f"node {node} answers ApiVersions", timeout, answers)

    def kill_etcd(self) -> int:
        pid = self.etcd_proc.pid if self.etcd_proc is not None else self.info()["etcd"]["pid"]
        os.kill(pid, signal.SIGKILL)
        if self.etcd_proc is not None:
            self.etcd_proc.wait(10)
        poll(f"etcd (pid {pid}) gone", 10, lambda: not alive(pid))
        self.event(f"SIGKILL etcd (pid {pid})")
        return pid

    def restart_etcd(self) -> subprocess.Popen:
        etcd = self.info()["etcd"]
        with open(self.etcd_log(), "ab") as out:
            p = subprocess.Popen(etcd["command"], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
        self.etcd_proc = p
        self.event(f"restarted etcd (pid {p.pid})")
        return p

    # ---- partition state ----

    def metadata(self, node: int, topics: list[str] | None = None, timeout: float = 3.0) -> dict:
        return wire.metadata(self.port_of(node), topics, timeout=timeout)

    def views(self, topic: str, partition: int) -> dict[int, dict | str]:
        """What each running node says about the partition (or why it could not say)."""
        out: dict[int, dict | str] = {}
        for n in self.running():
            try:
                t = self.metadata(n, [topic])["topics"].get(topic)
                p = t and t["partitions"].get(partition)
                out[n] = p if p else f"no partition {partition} (topic error {t and t['error_code']})"
            except Exception as e:  # noqa: BLE001
                out[n] = f"{type(e).__name__}: {e}"
        return out

    def state(self, topic: str, partition: int, via: list[int] | None = None) -> dict | None:
        """The partition's state as the running nodes agree on it (leader, leader_epoch, replicas, isr),
        or None while they disagree or do not answer. `via` restricts which nodes are asked."""
        views = self.views(topic, partition)
        if via is not None:
            views = {n: v for n, v in views.items() if n in via}
        if not views or not all(isinstance(v, dict) for v in views.values()):
            return None
        keys = {(v["leader"], v["leader_epoch"], tuple(sorted(v["isr"]))) for v in views.values()}
        if len(keys) != 1:
            return None
        v = next(iter(views.values()))
        return {**v, "isr": sorted(v["isr"])}

    def leader_of(self, topic: str, partition: int, timeout: float = 20) -> int:
        return self.wait_leader(topic, partition, timeout=timeout)["leader"]

    def wait_leader(self, topic: str, partition: int, exclude: set[int] = frozenset(), timeout: float = 20,
                    min_epoch: int | None = None) -> dict:
        """Polls until the running nodes agree on a live leader not in `exclude` (and, with
        `min_epoch`, a leader epoch at least that); returns the partition state."""
        def probe():
            s = self.state(topic, partition)
            if s and s["leader"] in self.running() and s["leader"] not in exclude \
                    and (min_epoch is None or s["leader_epoch"] >= min_epoch):
                return s
            return None
        s = self._wait(f"{topic}-{partition}: a leader not in {sorted(exclude)}"
                       + (f", epoch >= {min_epoch}" if min_epoch is not None else ""), timeout, probe, topic, partition)
        return s

    def wait_isr(self, topic: str, partition: int, want: set[int], timeout: float = 30) -> dict:
        """Polls until the running nodes agree that the ISR is exactly `want`, with a leader."""
        def probe():
            s = self.state(topic, partition)
            return s if s and set(s["isr"]) == set(want) and s["leader"] in want else None
        return self._wait(f"{topic}-{partition}: ISR == {sorted(want)}", timeout, probe, topic, partition)

    def _wait(self, what: str, timeout: float, probe, topic: str, partition: int) -> dict:
        try:
            return poll(what, timeout, probe)
        except AssertionError as e:
            views = self.views(topic, partition)
            raise AssertionError(f"{e}\nnodes' views: {views}") from None

    def create_topic(self, topic: str, partitions: int, replication: int, config: dict | None = None,
                     timeout: float = 30) -> None:
        """CreateTopics through the AdminClient, then polls until every running node lists every
        partition with a leader and a full ISR."""
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "socket.timeout.ms": 5000})
        admin.create_topics([NewTopic(topic, partitions, replication, config=dict(config or {}))],
                            request_timeout=timeout)[topic].result(timeout + 5)
        self.topics[topic] = partitions
        self.event(f"created {topic} ({partitions} partitions, RF {replication}, {config or {}})")
        for p in range(partitions):
            s = self.wait_leader(topic, p, timeout=timeout)
            if len(s["replicas"]) == replication:
                self.wait_isr(topic, p, set(s["replicas"]), timeout=timeout)

    # ---- stop / cleanup / diagnostics ----

    def stop(self) -> None:
        """SIGTERM to the nodes and etcd this test restarted, then to local-cluster (which stops
        its own children); each with a bounded wait, asserting exit 0 for local-cluster."""
        for node, p in list(self.restarted.items()):
            if node in self.paused:
                self.resume(node)
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for node, p in list(self.restarted.items()):
            try:
                p.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
                raise AssertionError(f"restarted node {node} did not exit within {STOP_TIMEOUT_S}s of SIGTERM")
        for node in list(self.paused):
            self.resume(node)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(STOP_TIMEOUT_S + 15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError(f"local-cluster did not exit within {STOP_TIMEOUT_S + 15}s of SIGTERM")
            assert code == 0, f"local-cluster exited with {code}:\n{self.log()}"
        if self.etcd_proc is not None and self.etcd_proc.poll() is None:
            self.etcd_proc.send_signal(signal.SIGTERM)
            try:
                self.etcd_proc.wait(15)
            except subprocess.TimeoutExpired:
                self.etcd_proc.kill()
                self.etcd_proc.wait(10)

    def kill_everything(self) -> None:
        """Best effort, for finalizers: nothing of the cluster may outlive the test."""
        procs = list(self.restarted.values()) + [self.etcd_proc, self.proc]
        for p in procs:
            if p is not None and p.poll() is None:
                try:
                    p.kill()
                    p.wait(10)
                except Exception:  # noqa: BLE001
                    pass
        pids = list(self.pids.values())
        try:
            info = self.info()
            pids += [n["pid"] for n in info["nodes"]] + [info["etcd"]["pid"]]
        except (OSError, ValueError):
            pass
        for pid in set(pids):
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    def diagnostics(self, chars: int = 5000) -> str:
        out = ["== cluster timeline",
               *[f"  {t:7.2f}s {text}" for t, text in self.timeline]]
        if self.running():
            for topic, partitions in self.topics.items():
                for p in range(partitions):
                    out.append(f"== {topic}-{p} as each running node sees it: {self.views(topic, p)}")
        out += ["== local-cluster output", self.log()]
        for n in self.ids:
            out += [f"== node {n} log (tail, {self.node_log(n)})", tail(self.node_log(n), chars)]
        out += ["== etcd log (tail)", tail(self.etcd_log(), 2000)]
        return "\n".join(out)
