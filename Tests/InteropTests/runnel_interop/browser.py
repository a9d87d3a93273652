"""Headless Chromium (Debian `chromium`) for the console tests: the DOM as the browser built it
(`--dump-dom`), screenshots, and a small DOM tree (html.parser) to query it."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    binary = chromium_path()
    assert binary, "chromium not installed (scripts/install-deps installs Debian's chromium)"
    with tempfile.TemporaryDirectory(prefix="runnel-chromium-") as profile:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def dump_dom(url: str, timeout: float = 60) -> "Node":
    res = _run(["--dump-dom", url], timeout)
    assert res.returncode == 0 and "<html" in res.stdout, f"chromium exited {res.returncode}: {res.stderr[-1500:]}"
    return parse(res.stdout)


def screenshot(url: str, path: Path, width: int = 1280, height: int = 800, timeout: float = 60) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    res = _run([f"--window-size={width},{height}", f"--screenshot={path}", url], timeout)
    assert res.returncode == 0 and path.is_file() and path.stat().st_size > 5000, \
        f"no screenshot of {url}: {res.stderr[-1500:]}"
    return path


class Node:
    def __init__(self, tag: str, attrs: dict):
        self.tag, self.attrs, self.children, self.parts = tag, attrs, [], []

    @property
    def text(self) -> str:
        return "".join(p if isinstance(p, str) else p.text for p in self.parts)

    def iter(self):
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs) -> list["Node"]:
        want = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
        return [n for n in self.iter() if (tag is None or n.tag == tag)
                and all(n.attrs.get(k) == v for k, v in want.items())]

    def by_id(self, element_id: str) -> "Node | None":
        found = self.find_all(id=element_id)
        return found[0] if found else None

    def cells(self) -> list[str]:
        return [c.text.strip() for c in self.children if c.tag in ("td", "th")]


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: (v if v is not None else "") for k, v in attrs})
        self.stack[-1].children.append(node)
        self.stack[-1].parts.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].parts.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    return builder.root
