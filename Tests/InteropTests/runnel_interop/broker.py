"""A `runnel broker` process under test: free loopback port, its own data dir and TOML config,
stdout/stderr to a log file, readiness = the port accepts and an ApiVersions round trip works
(polled against a deadline), graceful stop with SIGTERM (must exit 0 within a bound), SIGKILL,
and restart on the same port and data dir."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from . import wire

START_TIMEOUT_S = float(os.environ.get("RUNNEL_INTEROP_START_TIMEOUT", "30"))
STOP_TIMEOUT_S = float(os.environ.get("RUNNEL_INTEROP_STOP_TIMEOUT", "20"))


class BrokerError(AssertionError):
    """The broker did not start, answer, or stop as required. The message carries the log tail."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


class BrokerProcess:
    """One broker. `configs` are extra Kafka-named settings written to the TOML file."""

    def __init__(self, binary: str, workdir: Path, configs: dict | None = None,
                 port: int | None = None, extra_args: list[str] | None = None):
        self.binary = os.path.abspath(binary)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.data_dir = self.workdir / "data"
        self.data_dir.mkdir(exist_ok=True)
        self.config_path = self.workdir / "runnel.toml"
        self.configs = dict(configs or {})
        self.extra_args = list(extra_args or [])
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.log_paths: list[Path] = []
        self.exit_codes: list[int] = []

    # ---- configuration --------------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def write_config(self) -> None:
        settings = {
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "log.dirs": str(self.data_dir),
            # Several brokers run at once in the suite: no fixed metrics port.
            "metrics.listener": "",
            "group.initial.rebalance.delay.ms": 0,
        }
        settings.update(self.configs)
        lines = ["# written by the Runnel interop harness (Tests/InteropTests)"]
        lines += [f'"{k}" = {toml_value(v)}' for k, v in settings.items()]
        self.config_path.write_text("\n".join(lines) + "\n")

    # ---- lifecycle ------------------------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        return self.log_paths[-1]

    def start(self, timeout: float = START_TIMEOUT_S) -> "BrokerProcess":
        if self.proc is not None and self.proc.poll() is None:
            raise BrokerError("broker already running")
        self.write_config()
        self.starts += 1
        log = self.workdir / f"broker-{self.starts}.log"
        self.log_paths.append(log)
        with open(log, "wb") as f:
            self.proc = subprocess.Popen(
                [self.binary, "broker", "--config", str(self.config_path), *self.extra_args],
                stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.workdir, start_new_session=True)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> dict:
        """Polls until an ApiVersions round trip succeeds; fails early if the process exits."""
        deadline = time.monotonic() + timeout
        last = "no attempt"
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                self.exit_codes.append(code)
                raise BrokerError(f"broker exited with code {code} before it was ready\n{self.log_tail()}")
            try:
                resp = wire.api_versions_roundtrip(self.port, version=0, timeout=2.0)
                if resp["error_code"] == wire.NONE and resp["api_versions"]:
                    # The other listeners bind right after this one: ready once each accepts connections.
                    closed = [port for port in self.listener_ports() if port != self.port and not self._accepts(port)]
                    if not closed:
                        return resp
                    last = f"listeners on ports {closed} not accepting yet"
                else:
                    last = f"ApiVersions answered error {resp['error_code']} with {len(resp['api_versions'])} APIs"
            except (OSError, ValueError, TimeoutError, ConnectionError) as e:
                last = f"{type(e).__name__}: {e}"
            time.sleep(0.05)  # poll interval, bounded by the deadline above
        self.kill()
        raise BrokerError(f"broker not ready within {timeout}s (last: {last})\n{self.log_tail()}")

    def listener_ports(self) -> list[int]:
        """The ports of every listener in the `listeners` config (none when it is not set)."""
        ports = []
        for entry in str(self.configs.get("listeners", "")).split(","):
            tail = entry.rsplit(":", 1)
            if len(tail) == 2 and tail[1].strip().isdigit():
                ports.append(int(tail[1]))
        return ports

    @staticmethod
    def _accepts(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return True
        except OSError:
            return False

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM; asserts the broker exits with code 0 within `timeout` seconds."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise BrokerError(f"broker did not exit within {timeout}s of SIGTERM\n{self.log_tail()}")
        code = self.proc.returncode
        self.exit_codes.append(code)
        self.proc = None
        if code != 0:
            raise BrokerError(f"broker exited with code {code} after SIGTERM (expected 0)\n{self.log_tail()}")
        return code

    def kill(self) -> None:
        """SIGKILL, as a crash would; waits for the process to be gone."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.exit_codes.append(self.proc.returncode)
        self.proc = None

    def restart(self, graceful: bool = True, timeout: float = START_TIMEOUT_S) -> "BrokerProcess":
        """Stops (SIGTERM, exit 0 asserted) or kills, then starts again on the same port and data dir."""
        if graceful:
            self.stop()
        else:
            self.kill()
        return self.start(timeout)

    def rss_kib(self) -> int:
        """Resident set size of the broker process, from /proc."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return -1

    def log_tail(self, max_bytes: int = 16000) -> str:
        parts = []
        for p in self.log_paths[-2:]:
            try:
                data = p.read_bytes()
            except OSError:
                continue
            parts.append(f"---- {p} (last {min(len(data), max_bytes)} of {len(data)} bytes) ----\n"
                         + data[-max_bytes:].decode(errors="replace"))
        return "\n".join(parts) or "(no broker log)"
