"""A team's load on one catalogue owner (issue 14, item 3): `bench_catalogue.py --part team`.

32 writer tasks on a real local Ray cluster write through the owner actor for `seconds`: 16
log metrics from "training" (columnar batches, as a training loop's buffered `log_metric`
calls reach the owner), 8 log served requests (as replicas' request logs do), 8 append
telemetry samples (as the node samplers do). Meanwhile 4 readers query runs, a metric's
history and the last ten minutes of telemetry. Every writer call is timed (a training loop
must never wait on the catalogue), so is each writer's final drain (its close, which waits for
every write to commit); every reader query is timed. At the end the rows are counted against
what was sent. Targets: no writer call over 100 ms, >= 1M metric points/s committed, reader
p50 < 50 ms, nothing lost.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

METRIC_WRITERS, REQUEST_WRITERS, TELEMETRY_WRITERS, READERS = 16, 8, 8, 4
# Paced like the real writers, at the target: 16 x 62,500 = 1M metric points a second.
METRIC_BATCH, METRIC_EVERY_S = 12_500, 0.2
REQUEST_BATCH, REQUEST_EVERY_S = 200, 0.5  # a replica's log flush at 400 req/s
TELEMETRY_BATCH, TELEMETRY_EVERY_S = 5, 1.0  # a sampler's batch (1 Hz, 8 GPUs), sent faster


def _catalogue(home: str) -> Any:
    from workbench.core.settings import load_settings
    from workbench.owner import open_catalogue

    return open_catalogue(load_settings(home))


def _summary(
    kind: str, waits: list[float], sent: int, drain_s: float, **more: Any
) -> dict[str, Any]:
    waits_ms = np.asarray(waits) * 1000.0
    return {
        "kind": kind,
        "sent": sent,
        "calls": len(waits),
        "max_wait_ms": float(waits_ms.max()) if len(waits) else 0.0,
        "p99_wait_ms": float(np.percentile(waits_ms, 99)) if len(waits) else 0.0,
        "drain_s": drain_s,
        **more,
    }


class _Pace:
    """A writer's clock: one call every `every_s` until `seconds` have passed (a late call
    goes at once: the writer then shows the owner's back-pressure, not its own sleep)."""

    def __init__(self, every_s: float, seconds: float) -> None:
        self.every_s = every_s
        self.start = time.monotonic()
        self.end = self.start + seconds
        self.calls = 0

    def next(self) -> bool:
        due = self.start + self.calls * self.every_s
        if due >= self.end:
            return False
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # pacing a load generator, not waiting on a condition
        self.calls += 1
        return True


def metric_writer(home: str, seconds: float, seed: int) -> dict[str, Any]:
    catalogue = _catalogue(home)
    run_id = catalogue.create_run("team-load", tags={"bench": "team"})
    rng = np.random.default_rng(seed)
    waits, sent, step = [], 0, 0
    pace = _Pace(METRIC_EVERY_S, seconds)
    while pace.next():
        steps = np.arange(step, step + METRIC_BATCH, dtype=np.int64)
        values = rng.random(METRIC_BATCH)
        started = time.perf_counter()
        catalogue.log_metric_history(run_id, "loss", steps, values)
        waits.append(time.perf_counter() - started)
        sent, step = sent + METRIC_BATCH, step + METRIC_BATCH
    started = time.perf_counter()
    catalogue.close()  # flushes the buffer and waits for every commit
    return _summary("metrics", waits, sent, time.perf_counter() - started, run_id=run_id)


def request_writer(home: str, seconds: float, seed: int) -> dict[str, Any]:
    from workbench.catalogue.deployments import DeploymentLedger
    from workbench.core.deployments import RequestRecord

    catalogue = _catalogue(home)
    ledger = DeploymentLedger(catalogue)
    deployment = f"team-load-{seed}"
    rng = np.random.default_rng(seed)
    waits, sent = [], 0
    pace = _Pace(REQUEST_EVERY_S, seconds)
    while pace.next():
        now = datetime.now(UTC).replace(tzinfo=None)
        records = [
            RequestRecord(
                request_id=uuid.uuid4().hex, ts=now, model_version=1, status_code=200,
                latency_ms=float(rng.random() * 20), inputs='{"amount": [12.5]}',
                outputs="[0.1]", columns={"amount": np.array([12.5])}, predictions=[0.1],
            )
            for _ in range(REQUEST_BATCH)
        ]  # fmt: skip
        started = time.perf_counter()
        ledger.log_requests(deployment, records)
        waits.append(time.perf_counter() - started)
        sent += REQUEST_BATCH
    started = time.perf_counter()
    catalogue.close()
    return _summary("requests", waits, sent, time.perf_counter() - started, deployment=deployment)


def telemetry_writer(home: str, seconds: float, seed: int) -> dict[str, Any]:
    from workbench.catalogue.telemetry import TelemetryLedger
    from workbench.core.telemetry import GpuSample, NodeSample

    catalogue = _catalogue(home)
    ledger = TelemetryLedger(catalogue)
    node = f"team-node-{seed}"
    waits, sent, tick = [], 0, 0
    # Stamps one second apart, all inside the full-resolution hour (compaction leaves them).
    start = datetime.now(UTC) - timedelta(minutes=30)
    pace = _Pace(TELEMETRY_EVERY_S, seconds)
    while pace.next():
        samples = []
        for _ in range(TELEMETRY_BATCH):
            gpus = tuple(GpuSample(i, f"GPU-{seed}-{i}", "H200", 50.0, 1, 2) for i in range(8))
            samples.append(
                NodeSample(
                    ts=start + timedelta(seconds=tick), node_id=node, hostname=node,
                    cpu_percent=40.0, cpu_per_core=(40.0,) * 16, load_1m=1.0, load_5m=1.0,
                    load_15m=1.0, mem_used_bytes=1, mem_total_bytes=2, swap_used_bytes=0,
                    swap_total_bytes=0, gpus=gpus,
                )
            )  # fmt: skip
            tick += 1
        started = time.perf_counter()
        ledger.append(samples)
        waits.append(time.perf_counter() - started)
        sent += len(samples)
    started = time.perf_counter()
    catalogue.close()
    return _summary("telemetry", waits, sent, time.perf_counter() - started, node=node)


def reader(home: str, seconds: float, seed: int) -> dict[str, Any]:
    from workbench.catalogue.telemetry import TelemetryLedger

    catalogue = _catalogue(home)
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    turn = seed
    while time.monotonic() < deadline:
        started = time.perf_counter()
        if turn % 3 == 0:
            runs = catalogue.search_runs(limit=50)
        elif turn % 3 == 1:
            runs = catalogue.search_runs(limit=1)
            if runs:
                catalogue.metric_history(runs[0].run_id, "loss")
        else:
            now = datetime.now(UTC)
            TelemetryLedger(catalogue).history(now - timedelta(minutes=10), now)
        latencies.append(time.perf_counter() - started)
        turn += 1
    catalogue.close()
    ms = np.asarray(latencies) * 1000.0
    return {"kind": "reader", "queries": len(ms), "p50_ms": float(np.median(ms)),
            "p95_ms": float(np.percentile(ms, 95)), "max_ms": float(ms.max())}  # fmt: skip


def team_load(tmp: Path, seconds: float) -> dict[str, Any]:
    """Run the load on a fresh local Ray cluster and catalogue; the figures, counts checked."""
    import ray

    home = tmp / "team-home"
    os.environ["WORKBENCH_HOME"] = str(home)
    ray.init(address="local", num_cpus=os.cpu_count() or 2, include_dashboard=False,
             namespace="workbench", logging_level=logging.ERROR)  # fmt: skip
    try:
        catalogue = _catalogue(str(home))  # starts the owner before the clock runs
        catalogue.close()
        jobs = [ray.remote(num_cpus=0)(fn) for fn in (metric_writer, request_writer,
                                                      telemetry_writer, reader)]  # fmt: skip
        counts = (METRIC_WRITERS, REQUEST_WRITERS, TELEMETRY_WRITERS, READERS)
        started = time.perf_counter()
        refs = [
            job.remote(str(home), seconds, seed)
            for job, count in zip(jobs, counts, strict=True)
            for seed in range(count)
        ]
        results = ray.get(refs)
        elapsed = time.perf_counter() - started
        return _report(home, results, elapsed, seconds)
    finally:
        ray.shutdown()


def _report(
    home: Path, results: list[dict[str, Any]], elapsed: float, seconds: float
) -> dict[str, Any]:
    catalogue = _catalogue(str(home))
    try:
        stored_points = catalogue.sql(
            "SELECT count(*) AS n FROM metrics WHERE run_id IN "
            "(SELECT run_id FROM tags WHERE key = 'bench' AND value = 'team')"
        ).to_pylist()[0]["n"]
        stored_requests = catalogue.sql("SELECT count(*) AS n FROM requests").to_pylist()[0]["n"]
        stored_samples = catalogue.sql("SELECT count(*) AS n FROM telemetry_nodes").to_pylist()[0][
            "n"
        ]
    finally:
        catalogue.close()
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        by_kind.setdefault(result["kind"], []).append(result)
    writers = [r for kind in ("metrics", "requests", "telemetry") for r in by_kind.get(kind, [])]
    sent = {kind: sum(r["sent"] for r in by_kind.get(kind, [])) for kind in
            ("metrics", "requests", "telemetry")}  # fmt: skip
    readers = by_kind.get("reader", [])
    reader_p50 = float(np.median([r["p50_ms"] for r in readers])) if readers else 0.0
    return {
        "seconds": seconds,
        "elapsed_s": elapsed,
        "writers": {
            "metrics": METRIC_WRITERS,
            "requests": REQUEST_WRITERS,
            "telemetry": TELEMETRY_WRITERS,
            "readers": READERS,
        },  # fmt: skip
        "max_writer_wait_ms": max(r["max_wait_ms"] for r in writers),
        "max_wait_ms_by_kind": {
            kind: max((r["max_wait_ms"] for r in by_kind.get(kind, [])), default=0.0)
            for kind in sent
        },  # fmt: skip
        "p99_writer_wait_ms": max(r["p99_wait_ms"] for r in writers),
        "max_drain_s": max(r["drain_s"] for r in writers),
        "metric_points_per_s": stored_points / elapsed,
        "reader_p50_ms": reader_p50,
        "reader_p95_ms": float(np.median([r["p95_ms"] for r in readers])) if readers else 0.0,
        "sent": sent,
        "stored": {
            "metrics": stored_points,
            "requests": stored_requests,
            "telemetry": stored_samples,
        },  # fmt: skip
        "lost": {
            "metrics": sent["metrics"] - stored_points,
            "requests": sent["requests"] - stored_requests,
            "telemetry": sent["telemetry"] - stored_samples,
        },
        "results": results,
    }


def print_team(figures: dict[str, Any]) -> None:
    """The team-load table, targets beside the figures."""
    rows = [
        ("writer call, max (ms)", figures["max_writer_wait_ms"], "<= 100"),
        ("writer call, p99 of the worst writer (ms)", figures["p99_writer_wait_ms"], ""),
        ("writer drain at close, max (s)", figures["max_drain_s"], ""),
        ("metric points committed per s", figures["metric_points_per_s"], ">= 1,000,000"),
        ("reader p50 (ms)", figures["reader_p50_ms"], "< 50"),
        ("reader p95 (ms)", figures["reader_p95_ms"], ""),
    ]
    for name, value, target in rows:
        print(f"{name:<44} {value:>14,.1f}  {target}")  # noqa: T201
    print(f"max writer call by kind (ms): {json.dumps(figures['max_wait_ms_by_kind'])}")  # noqa: T201
    print(f"sent {json.dumps(figures['sent'])}; lost {json.dumps(figures['lost'])}")  # noqa: T201
