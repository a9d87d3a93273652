#!/usr/bin/env python3
"""Group coordinator benchmarks (issue 5), against a release build of the broker, over the raw Kafka
protocol (no client library: the driver must not be the bottleneck, and the timings must be the
coordinator's, not a client's heartbeat cadence).

  rebalance  10 members: time from the last JoinGroup sent to every JoinGroup answered, the SyncGroup
             round, a rebalance triggered by a member leaving, and a rebalance that must wait for a
             silent member (completion - rebalance timeout = the coordinator's overshoot).
  commit     OffsetCommit throughput: several connections, requests pipelined on each (as clients do),
             1 partition per request and batched; every answer is checked for error code 0. Commits
             are acknowledged only once durable (the broker's default flush.messages=1: fdatasync,
             group-committed across the requests in flight).
  load       10,000 groups with offsets (and some with members) in __consumer_offsets; the broker is
             restarted and the time until its listener accepts, and the coordinator's own load time
             (its "group coordinator loaded" log line), are reported.

    swift build -c release --product runnel
    .venv/bin/python tools/bench/group_bench.py --runnel .build/release/runnel --json /tmp/groups.json
    .venv/bin/python tools/bench/group_bench.py --runnel .build/release/runnel --only commit --seconds 10
"""
import argparse
import json
import os
import re
import selectors
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# API keys and the (non-flexible) versions this driver speaks.
OFFSET_COMMIT, JOIN_GROUP, HEARTBEAT, LEAVE_GROUP, SYNC_GROUP, CREATE_TOPICS = 8, 11, 12, 13, 14, 19
V_OFFSET_COMMIT, V_JOIN, V_HEARTBEAT, V_LEAVE, V_SYNC, V_CREATE_TOPICS = 7, 3, 2, 2, 2, 4
REBALANCE_IN_PROGRESS = 27


# ---------------------------------------------------------------- encoding

def i16(v): return struct.pack(">h", v)
def i32(v): return struct.pack(">i", v)
def i64(v): return struct.pack(">q", v)


def string(s):
    if s is None:
        return i16(-1)
    b = s.encode()
    return i16(len(b)) + b


def blob(b):
    return i32(-1) if b is None else i32(len(b)) + b


def array(items):
    return i32(len(items)) + b"".join(items)


def request(api_key, version, correlation_id, body, client_id="group-bench"):
    payload = i16(api_key) + i16(version) + i32(correlation_id) + string(client_id) + body
    return i32(len(payload)) + payload


def subscription(topics, user_data=None):
    """ConsumerProtocolSubscription v0."""
    return i16(0) + array([string(t) for t in topics]) + blob(user_data)


def assignment(topic, partitions):
    """ConsumerProtocolAssignment v0."""
    return i16(0) + array([string(topic) + array([i32(p) for p in partitions])]) + blob(None)


class Reader:
    def __init__(self, data, offset=0):
        self.data, self.pos = data, offset

    def i16(self):
        v, = struct.unpack_from(">h", self.data, self.pos); self.pos += 2; return v

    def i32(self):
        v, = struct.unpack_from(">i", self.data, self.pos); self.pos += 4; return v

    def string(self):
        n = self.i16()
        if n < 0:
            return None
        v = bytes(self.data[self.pos:self.pos + n]).decode(); self.pos += n; return v

    def blob(self):
        n = self.i32()
        if n < 0:
            return None
        v = bytes(self.data[self.pos:self.pos + n]); self.pos += n; return v


# ---------------------------------------------------------------- connections

class Conn:
    """One blocking connection: send a request, read its response (response header v0)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.next_id = 1

    def send(self, api_key, version, body):
        cid = self.next_id
        self.next_id += 1
        self.sock.sendall(request(api_key, version, cid, body))
        return cid

    def recv_exact(self, n):
        chunks, got = [], 0
        while got < n:
            chunk = self.sock.recv(n - got)
            if not chunk:
                raise ConnectionError("broker closed the connection")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def receive(self, expected_cid):
        size, = struct.unpack(">i", self.recv_exact(4))
        payload = self.recv_exact(size)
        cid, = struct.unpack_from(">i", payload, 0)
        if cid != expected_cid:
            raise RuntimeError(f"correlation id {cid}, expected {expected_cid}")
        return Reader(payload, 4)

    def call(self, api_key, version, body):
        return self.receive(self.send(api_key, version, body))

    def close(self):
        self.sock.close()


def wait_all(pending, label):
    """pending: {Conn: cid}. Reads every response (in arrival order); returns {Conn: (Reader, t)}."""
    selector = selectors.DefaultSelector()
    for conn in pending:
        selector.register(conn.sock, selectors.EVENT_READ, conn)
    answers = {}
    deadline = time.time() + 120
    while len(answers) < len(pending):
        if time.time() > deadline:
            raise RuntimeError(f"{label}: {len(answers)} of {len(pending)} answered")
        for key, _ in selector.select(timeout=1):
            conn = key.data
            answers[conn] = (conn.receive(pending[conn]), time.perf_counter())
            selector.unregister(conn.sock)
    selector.close()
    return answers


# ---------------------------------------------------------------- broker

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, binary, data_dir, overrides=(), log_path=None, port=None):
        self.port = port or free_port()
        self.log_path = log_path or os.path.join(data_dir, "broker.log")
        self.log = open(self.log_path, "a")
        args = [binary, "broker", "--override", f"listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "--override", f"log.dirs={data_dir}/data", "--override", "metrics.listener=",
                "--log-level", "info"]
        for o in overrides:
            args += ["--override", o]
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                self.accepting_s = time.perf_counter() - self.started
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"broker exited: {Path(self.log_path).read_text()[-2000:]}")
                time.sleep(0.005)
        raise RuntimeError("broker did not start")

    def rss_mb(self):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def cpu_s(self):
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)
        self.log.close()


def create_topic(port, name, partitions):
    conn = Conn(port)
    topic = string(name) + i32(partitions) + i16(1) + array([]) + array([])
    r = conn.call(CREATE_TOPICS, V_CREATE_TOPICS, array([topic]) + i32(30000) + b"\x00")
    r.i32()  # throttle
    r.i32()  # topics
    r.string()
    error = r.i16()
    conn.close()
    if error not in (0, 36):  # 36 TOPIC_ALREADY_EXISTS
        raise RuntimeError(f"CreateTopics {name}: error {error}")


# ---------------------------------------------------------------- rebalance

class Member:
    def __init__(self, port, group, topic, session_ms, rebalance_ms):
        self.conn = Conn(port)
        self.group, self.topic = group, topic
        self.session_ms, self.rebalance_ms = session_ms, rebalance_ms
        self.member_id, self.generation, self.leader, self.members = "", -1, "", []
        # Bumped to change the subscription's user data: a member rejoining with new metadata makes the
        # group rebalance whatever order the joins arrive in.
        self.round = 0

    def join_body(self):
        return (string(self.group) + i32(self.session_ms) + i32(self.rebalance_ms) + string(self.member_id)
                + string("consumer") + array([string("range") + blob(subscription([self.topic], i32(self.round)))]))

    def send_join(self):
        return self.conn.send(JOIN_GROUP, V_JOIN, self.join_body())

    def read_join(self, r):
        r.i32()
        error = r.i16()
        if error:
            raise RuntimeError(f"JoinGroup error {error}")
        self.generation = r.i32()
        r.string()
        self.leader = r.string()
        self.member_id = r.string()
        self.members = [(r.string(), r.blob()) for _ in range(r.i32())]

    def send_sync(self, partitions):
        assignments = []
        if self.member_id == self.leader:
            ids = sorted(m for m, _ in self.members)
            assignments = [string(m) + blob(assignment(self.topic, [p for p in range(partitions)
                                                                    if p % len(ids) == i]))
                           for i, m in enumerate(ids)]
        body = string(self.group) + i32(self.generation) + string(self.member_id) + array(assignments)
        return self.conn.send(SYNC_GROUP, V_SYNC, body)

    def read_sync(self, r):
        r.i32()
        error = r.i16()
        if error:
            raise RuntimeError(f"SyncGroup error {error}")
        r.blob()

    def heartbeat(self):
        r = self.conn.call(HEARTBEAT, V_HEARTBEAT, string(self.group) + i32(self.generation) + string(self.member_id))
        r.i32()
        return r.i16()

    def leave(self):
        r = self.conn.call(LEAVE_GROUP, V_LEAVE, string(self.group) + string(self.member_id))
        r.i32()
        return r.i16()


def join_round(members, new_metadata=False):
    """Every member sends JoinGroup at once; returns (last sent, all answered) perf_counter times."""
    pending = {}
    for m in members:
        m.round += new_metadata
        pending[m.conn] = m.send_join()
    last_sent = time.perf_counter()
    answers = wait_all(pending, "JoinGroup")
    for m in members:
        m.read_join(answers[m.conn][0])
    return last_sent, max(t for _, t in answers.values())


def sync_round(members, partitions):
    pending = {}
    # Followers first, then the leader (the usual order: followers park until the leader's assignment).
    for m in sorted(members, key=lambda m: m.member_id == m.leader):
        pending[m.conn] = m.send_sync(partitions)
    last_sent = time.perf_counter()
    answers = wait_all(pending, "SyncGroup")
    for m in members:
        m.read_sync(answers[m.conn][0])
    return last_sent, max(t for _, t in answers.values())


def bench_rebalance(args, work):
    data_dir = tempfile.mkdtemp(dir=work)
    broker = Broker(args.runnel, data_dir, overrides=[f"group.initial.rebalance.delay.ms={args.initial_delay_ms}"])
    results = {"members": args.members, "initial_rebalance_delay_ms": args.initial_delay_ms,
               "rounds": args.rounds}
    try:
        topic = "rebalance-topic"
        create_topic(broker.port, topic, 30)
        rows = {"initial_join_ms": [], "initial_join_overshoot_ms": [], "rejoin_ms": [], "sync_ms": [],
                "leave_to_rejoined_ms": [], "leave_rejoin_ms": [], "leave_sync_ms": [],
                "timeout_overshoot_ms": []}
        for round_index in range(args.rounds):
            group = f"rebalance-{round_index}"
            members = [Member(broker.port, group, topic, 30000, args.rebalance_timeout_ms)
                       for _ in range(args.members)]
            # 1. First join of an empty group: waits group.initial.rebalance.delay.ms by design.
            first_sent = time.perf_counter()
            last_sent, answered = join_round(members)
            rows["initial_join_ms"].append((answered - first_sent) * 1000)
            # By design the first rebalance waits the initial delay, extended once by the same delay (new
            # members arrived during it), capped by the rebalance timeout; what is left is the coordinator's.
            expected = min(args.rebalance_timeout_ms, 2 * args.initial_delay_ms if len(members) > 1 else args.initial_delay_ms)
            rows["initial_join_overshoot_ms"].append((answered - first_sent) * 1000 - expected)
            sync_round(members, 30)
            # 2. Everyone rejoins (e.g. a subscription change): completes as soon as the last member is in.
            last_sent, answered = join_round(members, new_metadata=True)
            rows["rejoin_ms"].append((answered - last_sent) * 1000)
            last_sent, answered = sync_round(members, 30)
            rows["sync_ms"].append((answered - last_sent) * 1000)
            # 3. A member leaves: the rest see REBALANCE_IN_PROGRESS on their next heartbeat and rejoin.
            leaving = members.pop()
            start = time.perf_counter()
            if leaving.leave():
                raise RuntimeError("LeaveGroup failed")
            leaving.conn.close()
            for m in members:
                if m.heartbeat() != REBALANCE_IN_PROGRESS:
                    raise RuntimeError("heartbeat after a leave did not report the rebalance")
            last_sent, answered = join_round(members)
            rows["leave_rejoin_ms"].append((answered - last_sent) * 1000)
            last_sent, synced = sync_round(members, 30)
            rows["leave_sync_ms"].append((synced - last_sent) * 1000)
            rows["leave_to_rejoined_ms"].append((synced - start) * 1000)
            # 4. A silent member: one member never rejoins, so the join waits the rebalance timeout,
            #    removes it, and answers the others. Overshoot = completion - start - timeout.
            silent = members.pop()
            start = time.perf_counter()
            last_sent, answered = join_round(members, new_metadata=True)
            rows["timeout_overshoot_ms"].append((answered - start) * 1000 - args.rebalance_timeout_ms)
            sync_round(members, 30)
            for m in members:
                m.leave()
                m.conn.close()
            silent.conn.close()
        for key, values in rows.items():
            results[key] = {"median": statistics.median(values), "max": max(values)}
        results["rebalance_timeout_ms"] = args.rebalance_timeout_ms
    finally:
        broker.stop()
    return results


# ---------------------------------------------------------------- commit

def commit_template(group, topic, partitions, offset_base):
    """An OffsetCommit v7 (no member: an admin/simple-consumer commit) and the byte positions of the
    correlation id and of each offset, so requests are patched rather than re-encoded."""
    parts = []
    for p in partitions:
        parts.append(i32(p) + i64(offset_base) + i32(-1) + string(""))
    body = (string(group) + i32(-1) + string("") + string(None)
            + array([string(topic) + array(parts)]))
    frame = bytearray(request(OFFSET_COMMIT, V_OFFSET_COMMIT, 0, body))
    header = 4 + 2 + 2 + 4 + 2 + len("group-bench")
    topic_start = header + 2 + len(group.encode()) + 4 + 2 + 2 + 4
    first = topic_start + 2 + len(topic.encode()) + 4
    offsets = [first + 4 + k * (4 + 8 + 4 + 2) for k in range(len(partitions))]
    return frame, 8, offsets


class Pipeline:
    """One connection keeping `depth` OffsetCommits in flight."""

    def __init__(self, port, groups, topic, topic_partitions, per_request):
        self.conn = Conn(port)
        self.sock = self.conn.sock
        self.sock.setblocking(False)
        self.templates = []
        for i, group in enumerate(groups):
            parts = [(i * per_request + k) % topic_partitions for k in range(per_request)]
            self.templates.append(commit_template(group, topic, parts, 0))
        self.next_template = 0
        self.cid = 0
        self.offset = 0
        self.in_flight = 0
        self.inbox = bytearray()
        self.outbox = bytearray()
        self.done = 0
        self.errors = 0
        self.per_request = per_request

    def fill(self, depth):
        while self.in_flight < depth:
            frame, cid_at, offsets = self.templates[self.next_template]
            self.next_template = (self.next_template + 1) % len(self.templates)
            self.cid += 1
            self.offset += 1
            struct.pack_into(">i", frame, cid_at, self.cid)
            for at in offsets:
                struct.pack_into(">q", frame, at, self.offset)
            self.outbox += frame
            self.in_flight += 1
        self.flush()

    def flush(self):
        if self.outbox:
            try:
                sent = self.sock.send(self.outbox)
                del self.outbox[:sent]
            except BlockingIOError:
                pass

    def on_readable(self):
        try:
            chunk = self.sock.recv(1 << 20)
        except BlockingIOError:
            return
        if not chunk:
            raise ConnectionError("broker closed a commit connection")
        self.inbox += chunk
        pos = 0
        n = len(self.inbox)
        while n - pos >= 4:
            size, = struct.unpack_from(">i", self.inbox, pos)
            if n - pos - 4 < size:
                break
            self.check(pos + 4)
            pos += 4 + size
            self.in_flight -= 1
            self.done += 1
        del self.inbox[:pos]

    def check(self, at):
        # corr(4) throttle(4) topics(4) name(2+n) partitions(4) [index(4) error(2)]*
        r = Reader(self.inbox, at + 8)
        for _ in range(r.i32()):
            r.string()
            for _ in range(r.i32()):
                r.i32()
                if r.i16() != 0:
                    self.errors += 1


def run_commits(port, topic, topic_partitions, connections, depth, per_request, groups_per_conn, seconds, tag):
    pipes = [Pipeline(port, [f"{tag}-c{c}-g{g}" for g in range(groups_per_conn)], topic, topic_partitions, per_request)
             for c in range(connections)]
    selector = selectors.DefaultSelector()
    for p in pipes:
        selector.register(p.sock, selectors.EVENT_READ, p)
        p.fill(depth)
    start = time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        for key, _ in selector.select(timeout=0.5):
            key.data.on_readable()
            key.data.fill(depth)
        for p in pipes:
            p.flush()
    elapsed = time.perf_counter() - start
    done = sum(p.done for p in pipes)
    errors = sum(p.errors for p in pipes)
    for p in pipes:
        p.conn.close()
    selector.close()
    return {"requests_per_s": done / elapsed, "offsets_per_s": done * per_request / elapsed,
            "partition_errors": errors, "requests": done}


def bench_commit(args, work):
    data_dir = tempfile.mkdtemp(dir=work)
    broker = Broker(args.runnel, data_dir)
    results = {"durability": "flush.messages=1 (broker default): each acknowledged commit is fdatasynced, "
                             "group-committed across in-flight appends",
               "connections": args.connections, "depth": args.depth, "seconds": args.seconds}
    try:
        topic = "commit-topic"
        create_topic(broker.port, topic, 64)
        run_commits(broker.port, topic, 64, args.connections, args.depth, 1, 10, 1.0, "warmup")
        for per_request in (1, args.batch):
            cpu_before = broker.cpu_s()
            r = run_commits(broker.port, topic, 64, args.connections, args.depth, per_request,
                            args.groups_per_conn, args.seconds, f"b{per_request}")
            r["broker_cpu_s_per_s"] = (broker.cpu_s() - cpu_before) / args.seconds
            results[f"partitions_per_request_{per_request}"] = r
        results["broker_rss_mb"] = broker.rss_mb()
    finally:
        broker.stop()
    return results


# ---------------------------------------------------------------- load

LOAD_LINE = re.compile(r"group coordinator loaded.*")


def populate(port, groups, offsets_per_group, member_groups, topic, topic_partitions):
    """Commits offsets for `groups` groups (one request per group, pipelined) and gives `member_groups`
    of them a member (a group metadata record with a subscription and an assignment)."""
    conns = 4
    pipes = []
    per_conn = (groups + conns - 1) // conns
    for c in range(conns):
        names = [f"load-g{g}" for g in range(c * per_conn, min(groups, (c + 1) * per_conn))]
        pipes.append(Pipeline(port, names, topic, topic_partitions, offsets_per_group))
    selector = selectors.DefaultSelector()
    for p in pipes:
        selector.register(p.sock, selectors.EVENT_READ, p)
        p.target = len(p.templates)
        p.sent = 0
    def top_up(p):
        while p.in_flight < 64 and p.sent < p.target:
            p.fill(p.in_flight + 1)
            p.sent += 1
    for p in pipes:
        top_up(p)
    deadline = time.time() + 600
    while sum(p.done for p in pipes) < groups and time.time() < deadline:
        for key, _ in selector.select(timeout=0.5):
            key.data.on_readable()
            top_up(key.data)
        for p in pipes:
            p.flush()
    selector.close()
    if sum(p.errors for p in pipes):
        raise RuntimeError("offset commits failed while populating")
    for p in pipes:
        p.conn.close()
    # Member groups: join (no initial delay for these: the broker runs with delay 0 while populating).
    batch = 50
    for start in range(0, member_groups, batch):
        members = [Member(port, f"load-g{g}", topic, 30000, 30000) for g in range(start, min(member_groups, start + batch))]
        pending = {m.conn: m.send_join() for m in members}
        answers = wait_all(pending, "JoinGroup")
        for m in members:
            m.read_join(answers[m.conn][0])
        pending = {m.conn: m.send_sync(topic_partitions) for m in members}
        answers = wait_all(pending, "SyncGroup")
        for m in members:
            m.read_sync(answers[m.conn][0])
            m.conn.close()


def bench_load(args, work):
    data_dir = tempfile.mkdtemp(dir=work)
    results = {"groups": args.load_groups, "offsets_per_group": args.load_offsets,
               "groups_with_a_member": args.load_member_groups}
    broker = Broker(args.runnel, data_dir, overrides=["group.initial.rebalance.delay.ms=0"])
    try:
        topic = "load-topic"
        create_topic(broker.port, topic, 64)
        started = time.perf_counter()
        populate(broker.port, args.load_groups, args.load_offsets, args.load_member_groups, topic, 64)
        results["populate_s"] = time.perf_counter() - started
    finally:
        broker.stop()
    size = sum(f.stat().st_size for f in Path(data_dir, "data").glob("__consumer_offsets-*/*.log"))
    results["consumer_offsets_MB"] = size / 1e6
    accept, loads = [], []
    for _ in range(args.rounds):
        log_path = os.path.join(data_dir, f"restart-{len(accept)}.log")
        broker = Broker(args.runnel, data_dir, log_path=log_path)
        accept.append(broker.accepting_s * 1000)
        broker.stop()
        text = Path(log_path).read_text()
        line = LOAD_LINE.search(text)
        if not line:
            raise RuntimeError("no 'group coordinator loaded' line in the broker log")
        results["log_line"] = line.group(0)
        found = re.search(r"load_ms=(\d+(?:\.\d+)?)", line.group(0))
        if found:
            loads.append(float(found.group(1)))
        groups = re.search(r"groups=(\d+)", line.group(0))
        if groups:
            results["groups_loaded"] = int(groups.group(1))
    results["start_to_accepting_ms"] = {"median": statistics.median(accept), "max": max(accept)}
    if loads:
        results["coordinator_load_ms"] = {"median": statistics.median(loads), "max": max(loads)}
    # After a crash (kill -9): the log tails are recovered before the groups load.
    broker = Broker(args.runnel, data_dir, log_path=os.path.join(data_dir, "before-crash.log"))
    broker.proc.kill()
    broker.proc.wait()
    broker.log.close()
    log_path = os.path.join(data_dir, "after-crash.log")
    broker = Broker(args.runnel, data_dir, log_path=log_path)
    results["after_kill9_start_to_accepting_ms"] = broker.accepting_s * 1000
    broker.stop()
    found = re.search(r"group coordinator loaded.*load_ms=(\d+(?:\.\d+)?)", Path(log_path).read_text())
    if found:
        results["after_kill9_coordinator_load_ms"] = float(found.group(1))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runnel", required=True)
    parser.add_argument("--only", choices=["rebalance", "commit", "load"], action="append")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--initial-delay-ms", type=int, default=3000)
    parser.add_argument("--rebalance-timeout-ms", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--depth", type=int, default=256, help="OffsetCommits sent ahead per connection")
    parser.add_argument("--groups-per-conn", type=int, default=25)
    parser.add_argument("--batch", type=int, default=10, help="partitions per request, batched run")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--load-groups", type=int, default=10_000)
    parser.add_argument("--load-offsets", type=int, default=5, help="committed partitions per group")
    parser.add_argument("--load-member-groups", type=int, default=1000)
    parser.add_argument("--json")
    args = parser.parse_args()
    which = args.only or ["rebalance", "commit", "load"]
    results = {}
    with tempfile.TemporaryDirectory(prefix="runnel-group-bench-", dir=os.environ.get("BENCH_DIR", "/tmp")) as work:
        if "rebalance" in which:
            results["rebalance"] = bench_rebalance(args, work)
        if "commit" in which:
            results["commit"] = bench_commit(args, work)
        if "load" in which:
            results["load"] = bench_load(args, work)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
