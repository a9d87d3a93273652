"""Shared by the client quota tests: a module broker with a short quota window, and `runnel quota`."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cli_support as cli

from . import metrics


def quota_broker(runnel_bin: str, workdir: Path, window_num: int) -> Iterator:
    """Starts a broker with `quota.window.num` = `window_num` and the metrics endpoint, yields it and stops
    it (for a module fixture: `yield from quota_broker(...)`)."""
    import conftest
    b = conftest._start(runnel_bin, workdir, configs={"quota.window.num": window_num, **metrics.metrics_configs()})
    yield b
    if b in conftest._active:
        conftest._active.remove(b)
    b.stop()


def quota(runnel_bin: str, broker, *args: str):
    """`runnel quota ARGS` against `broker`; fails the test when the command fails."""
    return cli.ok(runnel_bin, "quota", *args, brokers=broker.bootstrap)


def assert_throttled_in_metrics(broker, quota_type: str) -> None:
    """The broker's /metrics count throttle time and throttled responses for `quota_type`."""
    samples = metrics.scrape(broker)
    assert samples.total("runnel_quota_throttle_time_ms_total", type=quota_type) > 0, quota_type
    assert samples.total("runnel_quota_throttled_responses_total", type=quota_type) > 0, quota_type
