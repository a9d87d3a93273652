"""Consumer-group members as separate processes, so a test can SIGKILL one: the Java
`group-consume` program, the confluent-kafka member script (confluent_member.py) and kcat -G.
Each writes consumed records as "topic partition offset" lines to its own file; the Java and
confluent members also report rebalance callbacks (`EVENT {json}`) and progress on stderr.
Also: a paced background producer, a bounded `wait_until`, and the group's view from the broker
(DescribeGroups with decoded assignments, OffsetFetch) over a raw connection. The scenarios built on
these are in group_scenarios.py."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from confluent_kafka import Producer

from . import group_wire
from .wire import Reader

CONFLUENT_MEMBER = Path(__file__).resolve().parent / "confluent_member.py"
KAFKA_PYTHON_MEMBER = Path(__file__).resolve().parent / "kafka_python_member.py"


def wait_until(pred, timeout: float, what: str, detail=lambda: ""):
    """Polls `pred` (every 50 ms) until it returns a truthy value; fails with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{detail()}")
        time.sleep(0.05)  # poll interval, bounded by the deadline above


class MemberProcess:
    """One group member process. `kind` is "java", "confluent", "kafka-python" or "kcat"."""

    def __init__(self, name: str, kind: str, cmd: list[str], workdir: Path):
        self.name, self.kind = name, kind
        self.out_path = workdir / f"{name}.records"
        self.stop_path = workdir / f"{name}.stop"
        self.events: list[dict] = []
        self.stderr_lines: list[str] = []
        self.progress = 0
        self._lock = threading.Lock()
        if kind == "kcat":
            self._out_file = open(self.out_path, "wb")
            stdout = self._out_file
        else:
            self._out_file = None
            stdout = subprocess.PIPE
        self.proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True)
        self._stdout: list[str] = []
        self._t_err = threading.Thread(target=self._read_err, daemon=True)
        self._t_err.start()
        self._t_out = None
        if stdout is subprocess.PIPE:
            self._t_out = threading.Thread(target=lambda: self._stdout.append(self.proc.stdout.read()), daemon=True)
            self._t_out.start()

    def _read_err(self) -> None:
        for line in self.proc.stderr:
            with self._lock:
                self.stderr_lines.append(line)
                if line.startswith("EVENT "):
                    e = json.loads(line[6:])
                    e["at"] = time.monotonic()
                    self.events.append(e)
                elif line.startswith("PROGRESS consumed="):
                    # A client's own stderr output (librdkafka `debug`) may run into the line.
                    digits = line.split("=", 1)[1].split("%", 1)[0].strip()
                    if digits.isdigit():
                        self.progress = int(digits)

    def events_since(self, t: float) -> list[dict]:
        with self._lock:
            return [e for e in self.events if e["at"] >= t and e["type"] in ("assigned", "revoked", "lost")]

    def owned(self) -> set[str]:
        """Partitions "topic:p" owned after the reported callbacks (incremental or eager)."""
        owned: set[str] = set()
        with self._lock:
            for e in self.events:
                if e["type"] == "assigned":
                    owned |= set(e["partitions"])
                elif e["type"] in ("revoked", "lost"):
                    owned -= set(e["partitions"])
        return owned

    def records(self) -> list[tuple[str, int, int]]:
        if not self.out_path.exists():
            return []
        out = []
        for line in self.out_path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3:  # a line cut by SIGKILL mid-write is ignored
                out.append((parts[0], int(parts[1]), int(parts[2])))
        return out

    def running(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._close_out()

    def stop(self, timeout: float = 60) -> dict:
        """Asks the member to finish (stop file; SIGTERM for kcat) and returns its JSON result."""
        if self.kind == "kcat":
            self.proc.send_signal(signal.SIGTERM)
        else:
            self.stop_path.touch()
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"member {self.name} did not stop within {timeout}s\n{self.tail()}") from None
        self._t_err.join(10)
        self._close_out()
        if self._t_out is None:
            assert code == 0, f"member {self.name} exited {code}\n{self.tail()}"
            return {}
        self._t_out.join(10)
        lines = [l for l in "".join(self._stdout).splitlines() if l.strip()]
        assert code == 0 and lines, f"member {self.name} exited {code}\n{self.tail()}"
        return json.loads(lines[-1])

    def _close_out(self) -> None:
        if self._out_file is not None:
            self._out_file.close()
            self._out_file = None

    def tail(self, n: int = 30) -> str:
        with self._lock:
            return f"---- {self.name} stderr ----\n" + "".join(self.stderr_lines[-n:])


def java_member(java, name: str, workdir: Path, bootstrap: str, group: str, topics: list[str],
                **kw) -> MemberProcess:
    args = {"bootstrap": bootstrap, "group": group, "topics": topics, "clientId": name,
            "out": str(workdir / f"{name}.records"), "stopFile": str(workdir / f"{name}.stop"), **kw}
    cmd = java.command("group-consume", args)
    # Group members move few records: C1-only JIT starts the JVM (and so the join) sooner.
    return MemberProcess(name, "java", [cmd[0], "-XX:TieredStopAtLevel=1", *cmd[1:]], workdir)


def _python_member(script: Path, kind: str, name: str, workdir: Path, bootstrap: str, group: str,
                   topics: list[str], **kw) -> MemberProcess:
    args = {"bootstrap": bootstrap, "group": group, "topics": topics, "clientId": name,
            "out": str(workdir / f"{name}.records"), "stopFile": str(workdir / f"{name}.stop"), **kw}
    argfile = workdir / f"{name}.json"
    argfile.write_text(json.dumps(args))
    return MemberProcess(name, kind, [sys.executable, str(script), f"@{argfile}"], workdir)


def confluent_member(name: str, workdir: Path, bootstrap: str, group: str, topics: list[str],
                     **kw) -> MemberProcess:
    return _python_member(CONFLUENT_MEMBER, "confluent", name, workdir, bootstrap, group, topics, **kw)


def kafka_python_member(name: str, workdir: Path, bootstrap: str, group: str, topics: list[str],
                        **kw) -> MemberProcess:
    return _python_member(KAFKA_PYTHON_MEMBER, "kafka-python", name, workdir, bootstrap, group, topics, **kw)


def kcat_member(kcat: str, name: str, workdir: Path, bootstrap: str, group: str, topics: list[str],
                props: dict) -> MemberProcess:
    # No -o: in -G mode kcat would apply it to every assigned partition, overriding committed offsets.
    cmd = [kcat, "-b", bootstrap, "-G", group, "-u", "-X", "auto.offset.reset=earliest", "-f", "%t %p %o\n",
           "-X", f"client.id={name}"]
    for k, v in props.items():
        cmd += ["-X", f"{k}={v}"]
    return MemberProcess(name, "kcat", cmd + topics, workdir)


class PacedProducer:
    """Produces keyed records round-robin over `partitions` of `topic` at about `rate` records/s in a
    background thread until stopped; `produced()` gives {(topic, p): records acknowledged}."""

    def __init__(self, bootstrap: str, topic: str, partitions: int, rate: int = 300):
        self.topic, self.partitions, self.rate = topic, partitions, rate
        self._p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all",
                            "socket.timeout.ms": 10000, "message.timeout.ms": 30000})
        self._acked: dict[tuple[str, int], int] = {}
        self._errors: list[str] = []
        self._stop = threading.Event()
        self.sent = 0
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _cb(self, err, msg):
        if err is not None:
            self._errors.append(str(err))
        else:
            tp = (msg.topic(), msg.partition())
            self._acked[tp] = max(self._acked.get(tp, 0), msg.offset() + 1)

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.is_set():
            due = int((time.monotonic() - start) * self.rate)
            while self.sent < due:
                self._p.produce(self.topic, key=f"k-{self.sent}".encode(), value=f"v-{self.sent}".encode(),
                                partition=self.sent % self.partitions, on_delivery=self._cb)
                self.sent += 1
            self._p.poll(0.02)

    def stop(self, timeout: float = 30) -> dict[tuple[str, int], int]:
        self._stop.set()
        self._t.join(timeout)
        left = self._p.flush(timeout)
        assert left == 0 and not self._errors, f"producer: {left} undelivered, errors {self._errors[:5]}"
        return dict(self._acked)


# ---- the broker's view ----------------------------------------------------------------------------

def decode_assignment(data: bytes) -> list[str]:
    """ConsumerProtocolAssignment (any version) → ["topic:p", ...]."""
    r = Reader(data)
    out = []
    try:
        r.i16()
        for _ in range(r.i32()):
            topic = r.take(r.i16()).decode()
            for _ in range(r.i32()):
                out.append(f"{topic}:{r.i32()}")
    except (ValueError, UnicodeDecodeError):
        return []  # not a consumer assignment (raw tests assign arbitrary bytes)
    return sorted(out)


def describe_group(port: int, group: str) -> dict:
    """DescribeGroups v4: {"state", "protocol", "members": {client id: {"member_id", "instance_id",
    "assignment": [...]}}, "all": [every member, with its client id]} (client ids name the member
    processes; assignments are decoded as ConsumerProtocolAssignment, [] if they are not)."""
    conn = group_wire.GroupConnection(port)
    try:
        payload = conn.call(group_wire.DESCRIBE_GROUPS, group_wire.describe_groups_body([group]))
    finally:
        conn.close()
    [g] = group_wire.parse_describe_groups(payload)
    members = {m["client_id"]: {"member_id": m["member_id"], "instance_id": m["instance_id"],
                                "assignment": decode_assignment(m["assignment"])} for m in g["members"]}
    everyone = [{"member_id": m["member_id"], "instance_id": m["instance_id"], "client_id": m["client_id"],
                 "assignment": decode_assignment(m["assignment"])} for m in g["members"]]
    return {"error": g["error"], "state": g["state"], "protocol": g["protocol"], "members": members,
            "all": everyone}


def committed(port: int, group: str, topic: str, partitions: int) -> dict[tuple[str, int], int]:
    """OffsetFetch v5: {(topic, p): committed offset or -1}."""
    conn = group_wire.GroupConnection(port)
    try:
        res = conn.fetch_offsets(group, topic, list(range(partitions)))
    finally:
        conn.close()
    assert res["error"] == 0, f"OffsetFetch error {res['error']}"
    return {tp: off for tp, (off, err) in res["partitions"].items()}


def balanced(view: dict, names: list[str], partitions: set[str]) -> bool:
    """Stable, exactly these members, disjoint assignments covering `partitions`, sizes within one."""
    if view["state"] != "Stable" or sorted(view["members"]) != sorted(names):
        return False
    sets = [set(m["assignment"]) for m in view["members"].values()]
    sizes = [len(s) for s in sets]
    return (set().union(*sets) == partitions and sum(sizes) == len(partitions)
            and max(sizes) - min(sizes) <= 1)


def group_detail(port: int, group: str, members):
    """A failure-message callable: the broker's view of the group and each member's stderr tail."""
    def show():
        try:
            view = describe_group(port, group)
        except Exception as e:  # noqa: BLE001 - diagnostics only
            view = f"DescribeGroups failed: {e}"
        return f"group: {view}\n" + "\n".join(m.tail() for m in members)
    return show


def wait_balanced(port: int, group: str, names: list[str], partitions: set[str], timeout: float, show) -> dict:
    def ready():
        v = describe_group(port, group)
        return v if balanced(v, names, partitions) else None
    return wait_until(ready, timeout, f"members {names} to share {len(partitions)} partitions", show)
