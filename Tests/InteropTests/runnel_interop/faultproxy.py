"""A fault-injecting TCP proxy for the cluster fault tests: a loopback forwarder, run in-process on a
thread with its own asyncio event loop, that a test switches between

  heal()                 forward everything (the initial state); connections stalled or blackholed by
                         a cut resume: a blackholed connection is connected to the target now and
                         what the client sent meanwhile is delivered first (a healed partition)
  cut(existing=..., new=...)
      existing="close"   abort the connections open now (the peers see a reset)
      existing="stall"   keep them open but forward nothing either way (a partition: the peers see
                         silence until their own timeouts)
      new="blackhole"    accept new connections and never forward what they send (closest to a
                         partition: a connect succeeds, then nothing answers)
      new="refuse"       accept and reset them at once (a closed port)
  delay(seconds, match=None)
                         hold every chunk `seconds` before forwarding it, both ways, order kept (a slow
                         link; bandwidth is not limited); with `match`, only connections whose
                         classification (see below) makes match(label) true

Kafka-aware classification (`kafka=True`): the proxy reads the client_id of each connection's first
request header (api_key, api_version, correlation_id, client_id), so a test can treat one client
differently, e.g. the replica fetcher of node 2 (client_id "runnel-replica-2") on a leader's proxy.

    with FaultProxy(target_port) as p:       # p.port is the loopback port to point clients at
        p.cut(); ...; p.heal(); p.delay(3.0, match=lambda cid: cid == "runnel-replica-2")

`events` records what the proxy did (cuts, heals, connections, classification) with monotonic times,
for failure reports."""
from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time

CHUNK = 64 * 1024


class _Conn:
    def __init__(self, proxy: "FaultProxy", reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.proxy = proxy
        self.client_r, self.client_w = reader, writer
        self.up_r: asyncio.StreamReader | None = None
        self.up_w: asyncio.StreamWriter | None = None
        self.label: str | None = None          # the Kafka client_id, when classified
        self.pending = bytearray()             # client bytes read while blackholed
        self.tasks: list[asyncio.Task] = []
        self.closed = False
        self.peer = writer.get_extra_info("peername")

    def delay_s(self) -> float:
        d, match = self.proxy._delay, self.proxy._delay_match
        if d <= 0:
            return 0.0
        if match is None:
            return d
        return d if (self.label is not None and match(self.label)) else 0.0

    def abort(self) -> None:
        if self.closed:
            return
        self.closed = True
        for w in (self.client_w, self.up_w):
            if w is not None:
                try:
                    w.transport.abort()
                except Exception:  # noqa: BLE001
                    pass
        for t in self.tasks:
            t.cancel()
        self.proxy._conns.discard(self)


class FaultProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1", port: int = 0, name: str = "proxy",
                 kafka: bool = False):
        self.target = (target_host, target_port)
        self.name = name
        self.kafka = kafka
        self.requested_port = port
        self.port: int | None = None
        self.events: list[tuple[float, str]] = []
        self._conns: set[_Conn] = set()
        self._mode = "pass"                  # pass | cut
        self._new = "blackhole"
        self._delay = 0.0
        self._delay_match = None
        self._gate: asyncio.Event | None = None   # set while forwarding is allowed
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.t0 = time.monotonic()
        self.stats = {"accepted": 0, "blackholed": 0, "refused": 0, "aborted": 0, "bytes": 0}

    # ---- lifecycle ----

    def start(self) -> "FaultProxy":
        self._thread = threading.Thread(target=self._run, name=f"faultproxy-{self.name}", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise AssertionError(f"fault proxy {self.name} did not start within 10s")
        if self._error is not None:
            raise AssertionError(f"fault proxy {self.name} failed to start: {self._error}")
        self._event(f"listening on 127.0.0.1:{self.port} -> {self.target[0]}:{self.target[1]}")
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)

        async def serve():
            self._gate = asyncio.Event()
            self._gate.set()
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self.requested_port))
            self._server = await asyncio.start_server(self._accept, sock=sock, backlog=128)
            self.port = sock.getsockname()[1]
        try:
            loop.run_until_complete(serve())
        except BaseException as e:  # noqa: BLE001
            self._error = e
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            for c in list(self._conns):
                c.abort()
            pending = asyncio.all_tasks(loop)
            for t in pending:
                t.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def close(self) -> None:
        """Stops listening, aborts every connection, ends the thread (idempotent; for finalizers)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        async def shutdown():
            if self._server is not None:
                self._server.close()
            for c in list(self._conns):
                c.abort()
        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(5)
        except Exception:  # noqa: BLE001 - best effort
            pass
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._event("closed")

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- faults (called from the test's thread) ----

    def _call(self, fn) -> None:
        async def run():
            fn()
        asyncio.run_coroutine_threadsafe(run(), self._loop).result(5)

    def cut(self, existing: str = "close", new: str = "blackhole") -> None:
        assert existing in ("close", "stall") and new in ("blackhole", "refuse"), (existing, new)

        def do():
            self._mode, self._new = "cut", new
            self._gate.clear()
            n = 0
            if existing == "close":
                for c in list(self._conns):
                    c.abort()
                    n += 1
                self.stats["aborted"] += n
            self._event(f"cut (existing: {existing}{f', {n} aborted' if n else ''}; new: {new})")
        self._call(do)

    def heal(self) -> None:
        def do():
            self._mode = "pass"
            self._gate.set()
            waiting = [c for c in self._conns if c.up_w is None and not c.closed]
            for c in waiting:
                c.tasks.append(asyncio.ensure_future(self._connect_upstream(c)))
            self._event(f"healed ({len(waiting)} blackholed connections connected now)")
        self._call(do)

    def delay(self, seconds: float, match=None) -> None:
        def do():
            self._delay, self._delay_match = float(seconds), match
            self._event(f"delay {seconds}s" + (" (matching connections only)" if match else ""))
        self._call(do)

    def labels(self) -> list[str | None]:
        return [c.label for c in list(self._conns)]

    # ---- internals (on the proxy's loop) ----

    def _event(self, text: str) -> None:
        self.events.append((time.monotonic() - self.t0, f"{self.name}: {text}"))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        c = _Conn(self, reader, writer)
        self.stats["accepted"] += 1
        if self._mode == "cut" and self._new == "refuse":
            self.stats["refused"] += 1
            sock = writer.get_extra_info("socket")
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
            except OSError:
                pass
            writer.transport.abort()
            return
        self._conns.add(c)
        if self._mode == "cut":
            self.stats["blackholed"] += 1
            c.tasks.append(asyncio.ensure_future(self._blackhole(c)))
            return
        await self._connect_upstream(c)

    async def _blackhole(self, c: _Conn) -> None:
        """Reads and keeps what the client sends until healed (then it is forwarded) or closed."""
        try:
            while c.up_w is None and not c.closed:
                data = await c.client_r.read(CHUNK)
                if not data:
                    c.abort()
                    return
                if c.up_w is not None:  # healed meanwhile: the pump forwards from here on
                    c.pending += data
                    return
                c.pending += data
        except (asyncio.CancelledError, ConnectionError, OSError):
            return

    async def _connect_upstream(self, c: _Conn) -> None:
        if c.closed or c.up_w is not None:
            return
        try:
            c.up_r, c.up_w = await asyncio.wait_for(asyncio.open_connection(*self.target), 5)
        except (OSError, asyncio.TimeoutError) as e:
            self._event(f"upstream connect failed: {e}")
            c.abort()
            return
        # Stop the blackhole reader before the pump takes over the client's stream.
        for t in list(c.tasks):
            if t is not asyncio.current_task():
                t.cancel()
        c.tasks = [t for t in c.tasks if t is asyncio.current_task()]
        if c.pending:
            c.up_w.write(bytes(c.pending))
            if self.kafka and c.label is None:
                self._classify(c, bytes(c.pending))
            c.pending.clear()
        c.tasks.append(asyncio.ensure_future(self._pump(c, c.client_r, c.up_w, upstream=True)))
        c.tasks.append(asyncio.ensure_future(self._pump(c, c.up_r, c.client_w, upstream=False)))

    def _classify(self, c: _Conn, data: bytes) -> None:
        # size i32, api_key i16, api_version i16, correlation_id i32, client_id (i16 length + bytes)
        if len(data) < 14:
            return
        n = struct.unpack(">h", data[12:14])[0]
        if n < 0:
            c.label = ""
        elif len(data) >= 14 + n:
            c.label = data[14:14 + n].decode(errors="replace")
        if c.label is not None:
            self._event(f"connection from {c.peer} classified as {c.label!r}")

    async def _pump(self, c: _Conn, src: asyncio.StreamReader, dst: asyncio.StreamWriter, upstream: bool) -> None:
        """Copies src to dst, waiting at the gate (stalled while cut) and per-chunk delay, order kept:
        a reader task stamps each chunk with its due time, this task writes it when due."""
        queue: asyncio.Queue = asyncio.Queue()
        head = bytearray()

        async def read():
            try:
                while True:
                    await self._gate.wait()
                    data = await src.read(CHUNK)
                    if self.kafka and upstream and c.label is None:
                        head.extend(data)
                        self._classify(c, bytes(head))
                    await queue.put((time.monotonic() + c.delay_s(), data))
                    if not data:
                        return
            except (asyncio.CancelledError, ConnectionError, OSError):
                await queue.put((0.0, b""))

        reader = asyncio.ensure_future(read())
        c.tasks.append(reader)
        try:
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._gate.wait()
                if not data:
                    break
                dst.write(data)
                self.stats["bytes"] += len(data)
                await dst.drain()
        except (asyncio.CancelledError, ConnectionError, OSError):
            pass
        finally:
            if not c.closed:
                c.abort()
