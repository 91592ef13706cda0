"""Per-node sampler actors on the session's real Ray cluster: start, report, survive a kill."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.waiting import wait_until
from workbench.compute.telemetry.actor import (
    ensure_samplers,
    latest_samples,
    sampler_name,
    stop_samplers,
)
from workbench.core.errors import InvalidInputError
from workbench.core.settings import RAY_NAMESPACE
from workbench.core.telemetry import NodeSample

# A restarted actor starts a fresh worker process; on a busy 2-core machine that takes seconds.
MAX_GAP_S = 10.0


@pytest.fixture
def samplers(ray_cluster: Any) -> Iterator[dict[str, Any]]:
    """Sampler actors at 5 Hz; all stopped and killed afterwards."""
    stop_samplers()
    try:
        yield ensure_samplers(interval_s=0.2)
    finally:
        stop_samplers()


def _samples(handle: Any, count: int) -> list[NodeSample] | None:
    import ray

    try:
        samples: list[NodeSample] = ray.get(handle.latest.remote(), timeout=5)
    except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
        return None  # restarting
    return samples if len(samples) >= count else None


def test_a_zero_or_negative_interval_is_invalid_input() -> None:
    for interval in (0, -1.0):
        with pytest.raises(InvalidInputError, match="interval"):
            ensure_samplers(interval_s=interval)


@pytest.mark.slow
@pytest.mark.ray
def test_one_sampler_per_node_reports_samples(samplers: dict[str, Any]) -> None:
    import ray

    alive = {node["NodeID"] for node in ray.nodes() if node["Alive"]}
    assert set(samplers) == alive
    for node_id, handle in samplers.items():
        samples = wait_until(partial(_samples, handle, 3), 60, "three samples", step_s=0.1)
        assert all(s.node_id == node_id for s in samples)
        assert all(0.0 <= s.cpu_percent <= 100.0 for s in samples)
        assert [s.ts for s in samples] == sorted(s.ts for s in samples)
        assert samples[-1].net_recv_bps is not None  # rates from the second sample on
        info = ray.get(handle.info.remote())
        assert info["node_id"] == node_id
        assert ray.get_actor(sampler_name(node_id), namespace=RAY_NAMESPACE) is not None
    again = ensure_samplers(interval_s=0.2)  # picks up the same actors, starts no second one
    assert set(again) == set(samplers)
    pids = {ray.get(h.info.remote())["pid"] for h in [*samplers.values(), *again.values()]}
    assert len(pids) == len(samplers)
    assert set(latest_samples(again)) == alive


@pytest.mark.slow
@pytest.mark.ray
def test_a_killed_sampler_comes_back_without_a_long_gap(samplers: dict[str, Any]) -> None:
    import ray

    handle = next(iter(samplers.values()))
    wait_until(lambda: _samples(handle, 2), 60, "samples before the kill", step_s=0.1)
    pid = ray.get(handle.info.remote())["pid"]
    os.kill(pid, signal.SIGKILL)
    killed_at = time.time()

    def restarted() -> list[NodeSample] | None:
        try:
            info = ray.get(handle.info.remote(), timeout=5)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
            return None
        return _samples(handle, 1) if info["pid"] != pid else None

    after = wait_until(restarted, 90, "the sampler to come back", step_s=0.1)
    gap_s = after[0].ts.timestamp() - killed_at
    assert gap_s < MAX_GAP_S, f"first sample {gap_s:.1f} s after the kill"
    wait_until(lambda: _samples(handle, 3), 30, "sampling to go on after the restart", step_s=0.1)


@pytest.mark.slow
@pytest.mark.ray
def test_batches_reach_the_sink(ray_cluster: Any, tmp_path: Path) -> None:
    import ray

    out = tmp_path / "batches.jsonl"

    def sink(batch: list[NodeSample]) -> None:
        with out.open("a") as file:
            file.write(json.dumps([s.ts.isoformat() for s in batch]) + "\n")

    stop_samplers()
    try:
        handles = ensure_samplers(interval_s=0.1, sink=sink)
        handle = next(iter(handles.values()))
        ray.get(handle.info.remote())
        wait_until(
            lambda: out.exists() and out.stat().st_size > 0 or None, 60, "a batch", step_s=0.1
        )
    finally:
        stop_samplers()
    batches = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(batches)
    stamps = [ts for batch in batches for ts in batch]
    assert stamps == sorted(stamps)
