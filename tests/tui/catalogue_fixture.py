"""A fixed catalogue for TUI tests and snapshots: same ids, times and numbers every time.

Written with SQL through the real DuckDB backend (migrations applied), so every screen
reads it through the same services as in production; only the values are pinned.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa

from workbench.catalogue import Statement
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.core.deployments import (
    CANARY,
    PRIMARY,
    DeploymentSpec,
    VersionEntry,
)

T0 = datetime(2026, 11, 30, 9, 0, 0)
"""When the first fixture run started; the fixture clock reads T0 + 3 h."""
NOW = T0 + timedelta(hours=3)
# The running run's driver heartbeat: opening the catalogue sweeps runs whose heartbeat is
# older than a few seconds of the real clock to `crashed`, and the real clock has passed NOW.
RUNNING_HEARTBEAT = datetime(2100, 1, 1)

FRAUD = "fraud_detection"
MAINT = "predictive_maintenance"
# (run_id, project, status, minutes after T0, duration minutes, params, final auc, final loss)
RUNS: list[tuple[str, str, str, int, int | None, dict[str, str], float, float]] = [
    ("a1b2c3d4e5f60718293a4b5c6d7e8f90", FRAUD, "finished", 0, 6,
     {"lr": "0.1", "n_estimators": "100", "max_depth": "4"}, 0.912, 0.31),
    ("b2c3d4e5f60718293a4b5c6d7e8f90a1", FRAUD, "finished", 20, 7,
     {"lr": "0.05", "n_estimators": "200", "max_depth": "6"}, 0.941, 0.24),
    ("c3d4e5f60718293a4b5c6d7e8f90a1b2", FRAUD, "failed", 45, 2,
     {"lr": "0.5", "n_estimators": "50", "max_depth": "8"}, 0.702, 0.66),
    ("d4e5f60718293a4b5c6d7e8f90a1b2c3", MAINT, "finished", 60, 12,
     {"lr": "0.001", "epochs": "10", "hidden": "64"}, 0.887, 0.35),
    ("e5f60718293a4b5c6d7e8f90a1b2c3d4", FRAUD, "finished", 95, 8,
     {"lr": "0.05", "n_estimators": "400", "max_depth": "6"}, 0.953, 0.21),
    ("f60718293a4b5c6d7e8f90a1b2c3d4e5", MAINT, "running", 170, None,
     {"lr": "0.001", "epochs": "20", "hidden": "128"}, 0.861, 0.41),
]  # fmt: skip
GIB = 1024**3
# Telemetry: (node_id, hostname, GPUs); a sample every 30 s over the last 20 minutes.
TELEMETRY_NODES = (("node-gpu-01", "gpu-box-1", 2), ("node-cpu-02", "cpu-box-2", 0))
SAMPLES = 40
MEM_TOTAL = 64 * GIB
GPU_MEM_TOTAL = 80 * GIB


def sample_ts(i: int) -> datetime:
    """When telemetry sample `i` (0 oldest, SAMPLES - 1 newest) was taken: 5 s into its 30 s."""
    return NOW - timedelta(seconds=5 + 30 * (SAMPLES - 1 - i))


def cpu_at(node: int, i: int) -> float:
    """CPU % of node `node` (index into TELEMETRY_NODES) at sample `i`."""
    return 20.0 + 3.0 * ((i * 7 + node * 11) % 20)


def mem_at(node: int, i: int) -> int:
    """Memory used in bytes of node `node` at sample `i`."""
    return (16 + 8 * node + i % 10) * GIB


def gpu_at(gpu: int, i: int) -> float:
    """Utilisation % of GPU `gpu` of the GPU node at sample `i`."""
    return 50.0 + float((i * 5 + gpu * 17) % 40)


STEPS = ("prepare", "train", "evaluate", "register")
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "steps.py", line 41, in train\n'
    "    model.fit(features, labels)\n"
    "ValueError: Input contains NaN, infinity or a value too large for dtype('float32').\n"
)


def build_fixed_catalogue(home: Path) -> Path:
    """Write the fixture catalogue under `home` and return the file's path."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "catalogue.duckdb"
    backend = DuckDBBackend(path)
    try:
        backend.write(_statements(home))
    finally:
        backend.close()
    return path


def _statements(home: Path) -> list[Statement]:
    statements: list[Statement] = []
    for project in (FRAUD, MAINT):
        statements.append(
            Statement(
                "INSERT INTO projects VALUES (?, ?, NULL, ?)", (project, f"/src/{project}", T0)
            )
        )
    for index, (run_id, project, status, start, minutes, params, auc, loss) in enumerate(RUNS):
        started = T0 + timedelta(minutes=start)
        ended = started + timedelta(minutes=minutes) if minutes is not None else None
        failed = status == "failed"
        statements.append(
            Statement(
                "INSERT INTO runs (run_id, project, name, status, attempt, created_at, started_at, "
                "ended_at, heartbeat_at, git_commit, git_dirty, data_fingerprint, environment, "
                "error, traceback) VALUES (?, ?, NULL, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    project,
                    status,
                    started,
                    started,
                    ended,
                    ended or RUNNING_HEARTBEAT,
                    f"{index:x}e3f0c9a7b1d2e4f5a6b7c8d9e0f1a2b3c4d5e6f7"[:40],
                    index == 2,
                    f"sha256:{index}f00d",
                    json.dumps({"python": "3.11.9", "ray": "2.60.0"}),
                    "ValueError: Input contains NaN" if failed else None,
                    TRACEBACK if failed else None,
                ),
            )  # fmt: skip
        )
        for key, value in params.items():
            statements.append(
                Statement("INSERT INTO params VALUES (?, ?, ?)", (run_id, key, value))
            )
        statements.append(Statement("INSERT INTO tags VALUES (?, 'owner', 'ana')", (run_id,)))
        epochs = 10 if status != "running" else 6
        for step in range(1, epochs + 1):
            at = started + timedelta(seconds=20 * step)
            fraction = step / epochs
            for key, final, start_value in (("auc", auc, 0.5), ("loss", loss, 0.9)):
                value = round(start_value + (final - start_value) * fraction**0.5, 4)
                statements.append(
                    Statement(
                        "INSERT INTO metrics VALUES (?, ?, ?, ?, ?, 1)",
                        (run_id, key, step, at, value),
                    )
                )
                if step == epochs:
                    statements.append(
                        Statement(
                            "INSERT INTO latest_metrics VALUES (?, ?, ?, ?, ?)",
                            (run_id, key, step, at, value),
                        )
                    )
        statements += _steps(run_id, status, started)
    statements += _models(home)
    statements += _deployment(home)
    statements += _audit()
    statements += _telemetry()
    return statements


def _steps(run_id: str, status: str, started: datetime) -> list[Statement]:
    statements = []
    for position, step in enumerate(STEPS):
        begin = started + timedelta(seconds=30 * position)
        if status == "failed" and step != "prepare":
            state, end = (
                ("failed", begin + timedelta(seconds=12)) if step == "train" else (None, None)
            )
        elif status == "running" and step in ("evaluate", "register"):
            state, end = (None, None)
        elif status == "running" and step == "train":
            state, end = "running", None
        else:
            state, end = "finished", begin + timedelta(seconds=25)
        if state is None:
            continue
        cached = step == "prepare" and run_id.startswith("b")
        statements.append(
            Statement(
                "INSERT INTO pipeline_runs (run_id, step, attempt, status, cached, cache_key, "
                "started_at, ended_at, error) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    step,
                    state,
                    cached,
                    f"{step}-{run_id[:6]}",
                    begin,
                    end,
                    "ValueError: Input contains NaN" if state == "failed" else None,
                ),
            )  # fmt: skip
        )
    return statements


def _gate(passed: bool, auc: float) -> dict[str, object]:
    return {
        "passed": passed,
        "checks": [
            {"name": "metrics.auc >= 0.9", "passed": auc >= 0.9, "detail": f"auc = {auc}"},
            {"name": "beats champion", "passed": passed, "detail": "compared with champion"},
        ],
    }


def _models(home: Path) -> list[Statement]:
    versions = [
        (FRAUD, 1, RUNS[0][0], 0.912, 25),
        (FRAUD, 2, RUNS[1][0], 0.941, 50),
        (FRAUD, 3, RUNS[4][0], 0.953, 110),
        (MAINT, 1, RUNS[3][0], 0.887, 75),
    ]
    statements = []
    for name, version, run_id, auc, minute in versions:
        statements.append(
            Statement(
                "INSERT INTO model_versions (name, version, run_id, uri, sha256, flavor, signature, "
                "gate, description, created_at) VALUES (?, ?, ?, ?, ?, 'sklearn', ?, ?, ?, ?)",
                (
                    name,
                    version,
                    run_id,
                    f"{home}/models/{name}/{version}",
                    f"{version}{name[:3]}" + "0" * 56,
                    json.dumps({"inputs": [["amount", "double"]]}),
                    json.dumps(_gate(True, auc)),
                    f"{name} trained by run {run_id[:8]}",
                    T0 + timedelta(minutes=minute),
                ),
            )  # fmt: skip
        )
    for name, alias, version, minute in (
        (FRAUD, "champion", 2, 60),
        (FRAUD, "challenger", 3, 115),
        (MAINT, "champion", 1, 80),
    ):
        statements.append(
            Statement(
                "INSERT INTO model_aliases VALUES (?, ?, ?, ?)",
                (name, alias, version, T0 + timedelta(minutes=minute)),
            )
        )
    return statements


def _deployment(home: Path) -> list[Statement]:
    versions = (
        VersionEntry(FRAUD, 2, f"{home}/models/{FRAUD}/2", PRIMARY, RUNS[1][0]),
        VersionEntry(FRAUD, 3, f"{home}/models/{FRAUD}/3", CANARY, RUNS[4][0], traffic=10.0),
    )
    spec = DeploymentSpec(
        name="fraud", home=str(home), route_prefix="/fraud", url="http://127.0.0.1:8000/fraud",
        versions=versions,
    )  # fmt: skip
    statements = [
        Statement(
            "INSERT INTO deployments VALUES ('fraud', 'fraud', ?, 3, '/fraud', ?, 'running', ?, ?, ?)",
            (FRAUD, spec.url, json.dumps(spec.to_json()), T0 + timedelta(minutes=120), NOW),
        )
    ]
    rows = []
    for second in range(0, 600):
        ts = NOW - timedelta(seconds=600 - second)
        version = 3 if second % 10 == 0 else 2
        status = 500 if second % 97 == 0 else 200
        latency = 4.0 + (second % 13) * 0.7 + (6.0 if version == 3 else 0.0)
        rows.append(("fraud", f"req-{second:04d}", ts, version, status, latency))
    statements += [
        Statement(
            "INSERT INTO requests (deployment_id, request_id, ts, model_version, status_code, "
            "latency_ms) VALUES (?, ?, ?, ?, ?, ?)",
            row,
        )
        for row in rows
    ]
    return statements


def _audit() -> list[Statement]:
    events = [
        (1, 25, "model.register", FRAUD, "evaluation gate passed", {"version": 1}),
        (2, 50, "model.register", FRAUD, "evaluation gate passed", {"version": 2}),
        (3, 60, "alias.move", f"{FRAUD}@champion", "beats v1 on auc", {"from": 1, "to": 2}),
        (4, 110, "model.register", FRAUD, "evaluation gate passed", {"version": 3}),
        (5, 120, "deploy.canary", "fraud", "try v3 on 10%", {"canary": 3, "traffic": 0.1}),
    ]
    return [
        Statement(
            "INSERT INTO audit_events VALUES (?, ?, 'ana', ?, ?, ?, ?)",
            (event_id, T0 + timedelta(minutes=minute), action, target, reason, json.dumps(details)),
        )
        for event_id, minute, action, target, reason, details in events
    ]


def _telemetry() -> list[Statement]:
    nodes: dict[str, list[object]] = {
        "ts": [], "node_id": [], "hostname": [], "cpu_percent": [], "cpu_per_core": [],
        "load_1m": [], "load_5m": [], "load_15m": [], "mem_used_bytes": [],
        "mem_total_bytes": [], "swap_used_bytes": [], "swap_total_bytes": [], "gpu_note": [],
    }  # fmt: skip
    gpus: dict[str, list[object]] = {
        "ts": [], "node_id": [], "gpu_index": [], "uuid": [], "name": [],
        "utilization_percent": [], "memory_used_bytes": [], "memory_total_bytes": [],
        "temperature_c": [], "power_w": [], "power_limit_w": [],
    }  # fmt: skip
    for node, (node_id, hostname, gpu_count) in enumerate(TELEMETRY_NODES):
        for i in range(SAMPLES):
            cores = [cpu_at(node, i)] * (16 // (node + 1))
            row = (sample_ts(i), node_id, hostname, cpu_at(node, i), cores, 1.5 + node,
                   1.25 + node, 1.0 + node, mem_at(node, i),
                   MEM_TOTAL, 0, 8 * GIB, "" if gpu_count else "no GPU")  # fmt: skip
            for column, value in zip(nodes, row, strict=True):
                nodes[column].append(value)
            for gpu in range(gpu_count):
                used = (40 + gpu * 10 + i % 5) * GIB
                gpu_row = (sample_ts(i), node_id, gpu, f"GPU-{gpu:04d}", "NVIDIA H100 80GB HBM3",
                       gpu_at(gpu, i), used, GPU_MEM_TOTAL, 60.0 + gpu, 300.0 + 10 * gpu, 700.0)  # fmt: skip
                for column, value in zip(gpus, gpu_row, strict=True):
                    gpus[column].append(value)
    return [_batch("telemetry_nodes", pa.table(nodes)), _batch("telemetry_gpus", pa.table(gpus))]


def _batch(table: str, data: pa.Table) -> Statement:
    names = ", ".join(data.column_names)
    return Statement(f"INSERT INTO {table} ({names}) SELECT {names} FROM batch", data=data)


def drop_telemetry(home: Path) -> None:
    """Remove the fixture's telemetry samples: the catalogue as before any sampler ran."""
    backend = DuckDBBackend(home / "catalogue.duckdb")
    try:
        backend.write(
            [Statement("DELETE FROM telemetry_gpus"), Statement("DELETE FROM telemetry_nodes")]
        )
    finally:
        backend.close()
