"""One sampler actor per node of the connected Ray cluster, and the fleet call that keeps it so.

Each `TelemetryActor` is pinned to its node (hard node affinity), takes no CPU, is named per
node in the workbench namespace and restarted by Ray if it dies. It samples on a thread every
`interval_s`, keeps the last `keep` samples (`latest()`) and hands batches to a sink every
`flush_every_s`. `ensure_samplers` starts one on every alive node, and on new nodes when called
again. Ray is imported inside the functions that need it, never here.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import psutil

from workbench.compute.telemetry.sampler import (
    DEFAULT_INTERVAL_S,
    DEFAULT_PID_REFRESH_S,
    NodeSampler,
    check_interval,
)
from workbench.core.settings import RAY_NAMESPACE
from workbench.core.telemetry import Attributor, NodeSample

ACTOR_PREFIX = "telemetry-"
DEFAULT_KEEP = 600
"""Samples each actor keeps in memory: ten minutes at 1 Hz."""
DEFAULT_FLUSH_S = 5.0

Sink = Callable[[list[NodeSample]], None]
"""Receives each batch of samples on the actor's thread (e.g. writes it to the catalogue)."""

_log = logging.getLogger(__name__)


def sampler_name(node_id: str) -> str:
    """The actor name of a node's sampler: one per node per cluster."""
    return f"{ACTOR_PREFIX}{node_id}"


def ray_worker_pids() -> list[int]:
    """Pids of the Ray workers on this node: the raylet's `ray::` children, this actor aside."""
    me = psutil.Process()
    raylet = me.parent()
    if raylet is None:
        return []
    pids: list[int] = []
    for child in raylet.children():
        try:
            if child.pid != me.pid and child.name().startswith("ray::"):
                pids.append(child.pid)
        except psutil.Error:  # gone since the listing: nothing to attribute
            continue
    return pids


class TelemetryActor:
    """Body of a node's sampler actor: samples on a thread, keeps the latest, feeds the sink."""

    def __init__(
        self,
        node_id: str,
        interval_s: float = DEFAULT_INTERVAL_S,
        sink: Sink | None = None,
        attribute: Attributor | None = None,
        keep: int = DEFAULT_KEEP,
        flush_every_s: float = DEFAULT_FLUSH_S,
        pid_refresh_s: float = DEFAULT_PID_REFRESH_S,
    ) -> None:
        self._interval_s = check_interval(interval_s)
        self._flush_every_s = check_interval(flush_every_s, "flush interval")
        self._sampler = NodeSampler(
            node_id=node_id, pids=ray_worker_pids, pid_refresh_s=pid_refresh_s, attribute=attribute
        )
        self._sink = sink
        self._latest: deque[NodeSample] = deque(maxlen=max(keep, 1))
        self._batch: list[NodeSample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="workbench-telemetry", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        due = flushed = time.monotonic()
        while not self._stop.wait(max(due - time.monotonic(), 0.0)):
            now = time.monotonic()
            due = max(due + self._interval_s, now)  # behind (a paused VM): no burst to catch up
            try:
                sample = self._sampler.sample()
            except Exception:  # noqa: BLE001 - a sampler never crashes; the gap is the record
                _log.exception("telemetry sample failed")
                continue
            with self._lock:
                self._latest.append(sample)
                self._batch.append(sample)
            if now - flushed >= self._flush_every_s:
                flushed = now
                self._flush()
        self._flush()

    def _flush(self) -> None:
        with self._lock:
            batch, self._batch = self._batch, []
        if not batch or self._sink is None:
            return
        try:
            self._sink(batch)
        except Exception:  # noqa: BLE001 - the sink is another component's; sampling goes on
            _log.exception("telemetry sink failed; %d samples dropped", len(batch))

    def latest(self, count: int | None = None) -> list[NodeSample]:
        """The last `count` samples (all kept when None), oldest first."""
        with self._lock:
            samples = list(self._latest)
        return samples if count is None else samples[-count:] if count > 0 else []

    def info(self) -> dict[str, Any]:
        """Where this actor runs: its pid, node and interval."""
        return {
            "pid": os.getpid(),
            "node_id": self._sampler.node_id,
            "hostname": self._sampler.hostname,
            "interval_s": self._interval_s,
        }

    def stop(self) -> None:
        """Stop sampling, hand the last batch to the sink and release NVML."""
        self._stop.set()
        self._thread.join(timeout=self._interval_s + 5.0)
        self._sampler.close()


def ensure_samplers(
    interval_s: float = DEFAULT_INTERVAL_S,
    sink: Sink | None = None,
    attribute: Attributor | None = None,
    keep: int = DEFAULT_KEEP,
) -> dict[str, Any]:
    """Get, or start, one sampler actor on every alive node; returns their handles by node id.

    Call it again to pick up nodes that joined since; an actor that exists already keeps the
    interval, sink and attribution it was started with.
    """
    interval = check_interval(interval_s)
    import ray  # deferred: importing this module must not load Ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    actor_class = ray.remote(TelemetryActor)
    handles: dict[str, Any] = {}
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        node_id = str(node["NodeID"])
        handles[node_id] = actor_class.options(
            name=sampler_name(node_id),
            namespace=RAY_NAMESPACE,
            get_if_exists=True,
            # Outlives the CLI that started it: the history keeps being written.
            lifetime="detached",
            num_cpus=0,
            max_restarts=-1,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node_id, soft=False),
        ).remote(node_id, interval, sink, attribute, keep)
    return handles


def latest_samples(handles: dict[str, Any], timeout_s: float = 5.0) -> dict[str, NodeSample]:
    """Each node's newest sample; a node whose actor does not answer in time is left out."""
    import ray

    found: dict[str, NodeSample] = {}
    for node_id, handle in handles.items():
        try:
            samples = ray.get(handle.latest.remote(1), timeout=timeout_s)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
            continue  # restarting or its node vanished: a gap, not an error
        if samples:
            found[node_id] = samples[-1]
    return found


def stop_samplers() -> int:
    """Stop and kill every sampler actor of this cluster; returns how many there were."""
    import ray

    stopped = 0
    for entry in ray.util.list_named_actors(all_namespaces=True):
        if entry["namespace"] != RAY_NAMESPACE or not entry["name"].startswith(ACTOR_PREFIX):
            continue
        actor = ray.get_actor(entry["name"], namespace=RAY_NAMESPACE)
        try:
            ray.get(actor.stop.remote(), timeout=30)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
            pass  # dead or stuck: killed below all the same
        ray.kill(actor, no_restart=True)
        stopped += 1
    return stopped
