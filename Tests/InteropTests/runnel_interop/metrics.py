"""Scraping a broker's `metrics.listener` and parsing the Prometheus text exposition format."""
from __future__ import annotations

import re
import urllib.request

from .broker import free_port

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def metrics_configs() -> dict:
    """Broker settings that open the metrics endpoint on a free loopback port."""
    return {"metrics.listener": f"127.0.0.1:{free_port()}"}


def metrics_url(broker, path: str = "/metrics") -> str:
    return f"http://{broker.configs['metrics.listener']}{path}"


def get(broker, path: str = "/metrics", timeout: float = 10) -> tuple[int, str, str]:
    """GET `path` on the broker's metrics listener: (status, content type, body)."""
    try:
        with urllib.request.urlopen(metrics_url(broker, path), timeout=timeout) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


class Samples:
    """Parsed samples: name -> list of (labels dict, value). HELP/TYPE comments are kept by name."""

    def __init__(self, text: str):
        self.samples: dict[str, list[tuple[dict, float]]] = {}
        self.types: dict[str, str] = {}
        self.helps: dict[str, str] = {}
        for line in text.splitlines():
            if not line.strip():
                continue
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ", 3)
                self.types[name] = kind
                continue
            if line.startswith("# HELP "):
                parts = line.split(" ", 3)
                self.helps[parts[2]] = parts[3] if len(parts) > 3 else ""
                continue
            if line.startswith("#"):
                continue
            m = _SAMPLE.match(line)
            assert m, f"not a Prometheus sample line: {line!r}"
            name, labels, value = m.group(1), m.group(2) or "", m.group(3)
            parsed = {k: v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
                      for k, v in _LABEL.findall(labels)}
            self.samples.setdefault(name, []).append((parsed, float(value)))

    def all(self, name: str) -> list[tuple[dict, float]]:
        return self.samples.get(name, [])

    def value(self, name: str, **labels) -> float | None:
        """The one sample of `name` whose labels include `labels` (None if there is none)."""
        want = {k: str(v) for k, v in labels.items()}
        found = [v for l, v in self.all(name) if all(l.get(k) == x for k, x in want.items())]
        assert len(found) <= 1, f"{name}{labels} matches {len(found)} samples"
        return found[0] if found else None

    def total(self, name: str, **labels) -> float:
        """The sum of every sample of `name` whose labels include `labels`."""
        want = {k: str(v) for k, v in labels.items()}
        return sum(v for l, v in self.all(name) if all(l.get(k) == x for k, x in want.items()))


def scrape(broker) -> Samples:
    status, kind, body = get(broker)
    assert status == 200, f"/metrics answered {status}: {body[:500]}"
    assert kind.startswith("text/plain"), kind
    return Samples(body)
