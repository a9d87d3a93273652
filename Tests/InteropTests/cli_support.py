"""Running `runnel` CLI subcommands against a test broker and parsing what they print."""
from __future__ import annotations

import json
import os
import subprocess


def run(runnel_bin: str, *args: str, brokers: str | None = None, stdin: str | None = None,
        timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
    """Runs `runnel ARGS --brokers BROKERS` (when given) and returns the finished process."""
    cmd = [runnel_bin, *args]
    if brokers is not None:
        cmd += ["--brokers", brokers]
    full_env = dict(os.environ)
    full_env.pop("RUNNEL_BROKERS", None)
    full_env.update(env or {})
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, env=full_env)


def ok(runnel_bin: str, *args: str, **kw) -> subprocess.CompletedProcess:
    """Like run, asserting exit 0 (showing stderr otherwise)."""
    res = run(runnel_bin, *args, **kw)
    assert res.returncode == 0, f"runnel {' '.join(args)} exited {res.returncode}\nstdout:{res.stdout[-2000:]}\nstderr:{res.stderr[-2000:]}"
    return res


def json_out(runnel_bin: str, *args: str, **kw):
    """Runs with --format json and parses stdout."""
    return json.loads(ok(runnel_bin, *args, "--format", "json", **kw).stdout)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def assert_one_line_error(res: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    """The command failed with `code`, printing exactly one `error: ...` line (no stack trace)."""
    assert res.returncode == code, f"exit {res.returncode}, wanted {code}\nstderr:{res.stderr}"
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    errors = [l for l in lines if l.startswith("error:")]
    assert len(errors) == 1, res.stderr
    assert "Traceback" not in res.stderr and "Fatal error" not in res.stderr
    for needle in needles:
        assert needle.lower() in errors[0].lower(), errors[0]
    return errors[0]
