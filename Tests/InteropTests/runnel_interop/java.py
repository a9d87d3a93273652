"""Compiles tools/interop/java (plain javac, classpath = the jars scripts/install-deps fetched)
into a cache dir keyed by the sources' hash, and runs `JavaClient <subcommand>` with JSON args."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SOURCES = ROOT / "tools" / "interop" / "java"
JARS = Path(os.environ.get("RUNNEL_INTEROP_JARS", ROOT / ".cache" / "jars"))
CACHE = Path(os.environ.get("RUNNEL_INTEROP_CACHE", ROOT / ".cache" / "interop"))
JAR_NAMES = ["kafka-clients-4.3.0.jar", "lz4-java-1.10.2.jar", "zstd-jni-1.5.6-10.jar",
             "slf4j-api-2.0.18.jar", "snappy-java-1.1.1.7.jar"]
JVM_FLAGS = ["-XX:+UseSerialGC", "-Xmx768m", "-Xss512k"]


class JavaError(AssertionError):
    pass


def missing_prerequisites() -> str | None:
    if not shutil.which("javac") or not shutil.which("java"):
        return "javac/java not found (install openjdk-17-jdk-headless: scripts/install-deps)"
    missing = [j for j in JAR_NAMES if not (JARS / j).is_file()]
    if missing:
        return f"jars missing in {JARS}: {', '.join(missing)} (run scripts/install-deps)"
    return None


def classpath_jars() -> str:
    return ":".join(str(JARS / j) for j in JAR_NAMES)


def compile_client() -> Path:
    """javac into CACHE/java-<hash>; reused while sources and jars are unchanged."""
    files = sorted(SOURCES.glob("*.java"))
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    h.update(classpath_jars().encode())
    out = CACHE / f"java-{h.hexdigest()[:16]}"
    if (out / "JavaClient.class").is_file():
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=CACHE, prefix="javac-"))
    res = subprocess.run(["javac", "-Xlint:all", "-Werror", "-d", str(tmp), "-cp", classpath_jars(),
                          *map(str, files)], capture_output=True, text=True, timeout=300)
    if res.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise JavaError(f"javac failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    try:
        tmp.rename(out)
    except OSError:  # another process won the race: use its output
        shutil.rmtree(tmp, ignore_errors=True)
    return out


class JavaClient:
    """Runs the compiled JavaClient; each call writes its args to a file and parses the JSON result."""

    def __init__(self, classes: Path, workdir: Path):
        self.classes = classes
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.calls = 0

    def command(self, sub: str, args: dict) -> list[str]:
        self.calls += 1
        argfile = self.workdir / f"java-{self.calls:03d}-{sub}.json"
        argfile.write_text(json.dumps(args))
        return ["java", *JVM_FLAGS, "-cp", f"{self.classes}:{classpath_jars()}", "JavaClient", sub,
                f"@{argfile}"]

    def run(self, sub: str, args: dict, timeout: float = 120) -> dict:
        cmd = self.command(sub, args)
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise JavaError(f"JavaClient {sub} did not finish within {timeout}s\nstderr:\n"
                            f"{_text(e.stderr)[-4000:]}") from None
        return parse_result(sub, res.returncode, res.stdout, res.stderr)

    def start(self, sub: str, args: dict) -> "JavaProcess":
        return JavaProcess(self.command(sub, args), sub)


def _text(b) -> str:
    return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")


def parse_result(sub: str, code: int, stdout: str, stderr: str) -> dict:
    lines = [l for l in stdout.splitlines() if l.strip()]
    result = None
    if lines:
        try:
            result = json.loads(lines[-1])
        except json.JSONDecodeError:
            pass
    if code != 0 or result is None:
        raise JavaError(f"JavaClient {sub} exited {code}\nstdout tail:\n{stdout[-2000:]}\n"
                        f"stderr tail:\n{stderr[-6000:]}")
    return result


class JavaProcess:
    """A running JavaClient (e.g. a paced producer); stderr lines are collected as they arrive so
    the test can wait for "PROGRESS acked=N" before acting mid-stream."""

    def __init__(self, cmd: list[str], sub: str):
        self.sub = sub
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stderr_lines: list[str] = []
        self.acked = 0
        self._cond = threading.Condition()
        self._out: list[str] = []
        self._t_err = threading.Thread(target=self._read_err, daemon=True)
        self._t_out = threading.Thread(target=lambda: self._out.append(self.proc.stdout.read()), daemon=True)
        self._t_err.start()
        self._t_out.start()

    def _read_err(self) -> None:
        for line in self.proc.stderr:
            with self._cond:
                self.stderr_lines.append(line)
                if line.startswith("PROGRESS acked="):
                    self.acked = int(line.split("=", 1)[1])
                self._cond.notify_all()

    def wait_acked(self, n: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.acked < n:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self._t_err.is_alive():
                    raise JavaError(f"JavaClient {self.sub}: {self.acked} acked, wanted {n} "
                                    f"(exit {self.proc.poll()})\n{''.join(self.stderr_lines[-40:])}")
                self._cond.wait(min(left, 0.5))
            return self.acked

    def result(self, timeout: float) -> dict:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise JavaError(f"JavaClient {self.sub} did not finish within {timeout}s\n"
                            f"{''.join(self.stderr_lines[-40:])}") from None
        self._t_out.join(10)
        self._t_err.join(10)
        return parse_result(self.sub, code, "".join(self._out), "".join(self.stderr_lines))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
