"""Scheduled drift check benchmark: the last hour of a deployment serving 1,000 req/s.

3,600,000 served rows (50 numeric and 10 categorical features; 5 numeric features shifted)
are written straight into `request_rows` with SQL, next to a version whose reference profile
comes from 1,000,000 rows. Timed: the check a scheduler tick runs (`check_model` over the
window: read the rows as columns, compute every statistic, store the check), in this process
on the catalogue file (no Ray workers; numpy threads), and the same check as a CLI command
(`workbench drift check bench:1 --window 2h --json`, process start and imports included,
with its peak RSS). Target: < 10 s. Every check's answer is verified (row count, drifted set).

    python benchmarks/bench_drift_window.py --json out.json [--rows 3600000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from workbench.catalogue import Catalogue, Statement
from workbench.catalogue.catalogue import utcnow
from workbench.catalogue.deployments import DeploymentLedger
from workbench.catalogue.drift import DriftLedger
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.catalogue.models import ModelLedger
from workbench.core.deployments import DeploymentSpec, VersionEntry
from workbench.core.drift.profile import build_profile
from workbench.core.settings import load_settings
from workbench.services.drift import ConfigOverrides, check_model

NUMERIC, CATEGORICAL, LEVELS, SHIFTED = 50, 10, 20, 5
NUMBERS = [f"n{j}" for j in range(NUMERIC)]
TEXTS = [f"c{j}" for j in range(CATEGORICAL)]

_FILL = """
INSERT INTO request_rows
SELECT 'bench', 'r' || i, 0, ?::TIMESTAMP - to_microseconds((i + 1) * ?), 1, 'L',
       list_transform(range(50), lambda j: CASE WHEN j < 5 THEN random() * 1.2 ELSE random() END),
       list_transform(range(10), lambda j: 'v' || CAST(floor(random() * 20) AS INTEGER)),
       [random()]
FROM range(?) t(i)
"""


def build(home: Path, rows: int) -> Any:
    """The catalogue: version bench:1 with its profile, deployment `bench`, `rows` rows."""
    settings = replace(load_settings(home), may_join_ray=False)
    settings.home.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    reference = {name: rng.random(1_000_000) for name in NUMBERS}
    levels = np.array([f"v{k}" for k in range(LEVELS)], dtype=object)
    reference.update({name: levels[rng.integers(0, LEVELS, 1_000_000)] for name in TEXTS})
    now = utcnow()
    catalogue = Catalogue(DuckDBBackend(settings.catalogue_path))
    try:
        run_id = catalogue.create_run("bench")
        catalogue.finish_run(run_id)
        ModelLedger(catalogue).register(
            "bench",
            run_id=run_id,
            uri=str(home),
            sha256="0" * 64,
            flavor="sklearn",
            signature=None,
            gate={"passed": True},
        )
        DriftLedger(catalogue).save_profile(
            build_profile(reference),
            source="bench",
            model_name="bench",
            model_version=1,
            run_id=run_id,
        )
        spec = DeploymentSpec(
            name="bench",
            home=str(home),
            route_prefix="/bench",
            url="http://127.0.0.1:8000/bench",
            versions=(VersionEntry("bench", 1, str(home)),),
        )
        DeploymentLedger(catalogue).record(spec, "running", action="deploy", reason="bench")
        step_us = int(3_600_000_000 / rows)
        catalogue.backend.write(
            [
                Statement("INSERT INTO request_layouts VALUES ('L', ?, ?)", (NUMBERS, TEXTS)),
                Statement(_FILL, (now, step_us, rows)),
            ]
        )
    finally:
        catalogue.close()
    return settings, now


def verify(found: dict[str, Any], rows: int) -> None:
    """The check saw every row, and exactly the shifted features drifted."""
    assert found["current_rows"] == rows, found["current_rows"]
    assert sorted(found["drifted_features"]) == sorted(NUMBERS[:SHIFTED]), found["drifted_features"]
    assert all(f["status"] in ("ok", "drift") for f in found["features"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_600_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="Write the raw results here.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-drift-window-") as scratch:
        home = Path(scratch) / "home"
        started = time.perf_counter()
        settings, now = build(home, args.rows)
        print(f"built {args.rows:,} served rows in {time.perf_counter() - started:.1f} s")
        in_process = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            outcome = check_model(
                settings,
                "bench:1",
                ConfigOverrides(),
                now=now,
                window=timedelta(hours=1),
                deployment="bench",
            )
            in_process.append(time.perf_counter() - started)
            verify(
                {
                    "current_rows": outcome.report.current_rows,
                    "drifted_features": outcome.report.drifted_features(),
                    "features": [f.to_json() for f in outcome.report.features],
                },
                args.rows,
            )
        command, peaks = [], []
        env = {**os.environ, "WORKBENCH_HOME": str(home)}
        for _ in range(args.repeats):
            started = time.perf_counter()
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "workbench.cli",
                    "drift",
                    "check",
                    "bench:1",
                    "--window",
                    "2h",
                    "--deployment",
                    "bench",
                    "--json",
                ],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            command.append(time.perf_counter() - started)
            peaks.append(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 / 1024)
            verify(json.loads(result.stdout), args.rows)
    report = {
        "rows": args.rows,
        "numeric": NUMERIC,
        "categorical": CATEGORICAL,
        "ray_workers": False,
        "check_in_process_s": _figures(in_process),
        "check_command_s": _figures(command),
        "command_peak_rss_gib": round(max(peaks), 2),
        "target_s": 10.0,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


def _figures(seconds: list[float]) -> dict[str, Any]:
    return {
        "median": round(statistics.median(seconds), 2),
        "min": round(min(seconds), 2),
        "max": round(max(seconds), 2),
        "all": [round(s, 2) for s in seconds],
    }


if __name__ == "__main__":
    main()
