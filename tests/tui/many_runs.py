"""A catalogue with many runs (100,000 by default), written in a few set-based SQL statements.

For the 100k-run Runs screen test and `benchmarks/bench_tui.py`: deterministic values, three
projects, three params and two latest metrics per run, through the real DuckDB backend.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from workbench.catalogue import Statement
from workbench.catalogue.duckdb_backend import DuckDBBackend

T0 = datetime(2026, 6, 1, 0, 0, 0)
PROJECTS = ("fraud_detection", "predictive_maintenance", "churn")

_RUNS = """
INSERT INTO runs (run_id, project, name, status, attempt, created_at, started_at, ended_at,
                  heartbeat_at)
SELECT md5(i::VARCHAR),
       ['fraud_detection', 'predictive_maintenance', 'churn'][1 + i % 3],
       'trial-' || i,
       CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'finished' END,
       1 + (i % 7 = 0)::INTEGER,
       ?::TIMESTAMP + to_seconds(i * 60),
       ?::TIMESTAMP + to_seconds(i * 60),
       ?::TIMESTAMP + to_seconds(i * 60 + 30 + i % 900),
       ?::TIMESTAMP + to_seconds(i * 60 + 30 + i % 900)
FROM range(?) t(i)
"""
_PARAMS = """
INSERT INTO params
SELECT md5(i::VARCHAR), 'lr', ['0.1', '0.05', '0.01', '0.001'][1 + i % 4] FROM range(?) t(i)
UNION ALL
SELECT md5(i::VARCHAR), 'batch_size', (16 * (1 + i % 8))::VARCHAR FROM range(?) t(i)
UNION ALL
SELECT md5(i::VARCHAR), 'optimizer', ['adam', 'sgd', 'rmsprop'][1 + i % 3] FROM range(?) t(i)
"""
_METRICS = """
INSERT INTO latest_metrics
SELECT md5(i::VARCHAR), 'auc', 10, ?::TIMESTAMP + to_seconds(i * 60 + 30),
       0.5 + ((i * 7919) % 5000) / 10000.0 FROM range(?) t(i)
UNION ALL
SELECT md5(i::VARCHAR), 'loss', 10, ?::TIMESTAMP + to_seconds(i * 60 + 30),
       ((i * 104729) % 9000) / 10000.0 + 0.05 FROM range(?) t(i)
"""


def build_many_runs(home: Path, runs: int = 100_000) -> Path:
    """Write a catalogue of `runs` runs under `home` and return its path."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "catalogue.duckdb"
    backend = DuckDBBackend(path)
    try:
        backend.write(
            [
                *(
                    Statement("INSERT INTO projects VALUES (?, ?, NULL, ?)", (p, f"/src/{p}", T0))
                    for p in PROJECTS
                ),
                Statement(_RUNS, (T0, T0, T0, T0, runs)),
                Statement(_PARAMS, (runs, runs, runs)),
                Statement(_METRICS, (T0, runs, T0, runs)),
            ]
        )
    finally:
        backend.close()
    return path


def expected_auc_above(threshold: float, runs: int = 100_000) -> int:
    """How many of the runs have `metrics.auc > threshold` (computed as the SQL does)."""
    return sum(1 for i in range(runs) if 0.5 + ((i * 7919) % 5000) / 10000.0 > threshold)
