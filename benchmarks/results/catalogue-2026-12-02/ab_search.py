"""Before/after of issue 13 item 8: the old and the new `search_runs`, alternating, one process.

The old one (commit da249d8's run_rows.py, loaded from git) carried every run column through
the filter and sort joins, then read details with `list_contains`. Both run on the same
catalogue file, filled through `catalogue import` as bench_catalogue.py's large query does;
wall and process CPU (both DuckDB threads) per call, with the load average.

    PYTHONPATH=. flock /tmp/bench.lock python \
        benchmarks/results/catalogue-2026-12-02/ab_search.py --runs 10000 100000 --json out.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/
from bench_catalogue import SORT, WHERE, bulk_fill, load, query_data  # noqa: E402

from workbench.catalogue import Catalogue  # noqa: E402
from workbench.catalogue.duckdb_backend import DuckDBBackend  # noqa: E402
from workbench.core.filters import compile_filter  # noqa: E402

BEFORE = "da249d8"


def old_rows_module(tmp: Path) -> Any:
    """run_rows.py as it was before the change, imported under another name."""
    source = subprocess.run(["git", "show", f"{BEFORE}:workbench/catalogue/run_rows.py"],
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    path = tmp / "old_run_rows.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_run_rows", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(runs: int, tmp: Path, reps: int) -> dict[str, Any]:
    path = tmp / f"ab-{runs}.duckdb"
    bulk_fill(path, query_data(runs))
    old = old_rows_module(tmp)
    with Catalogue(DuckDBBackend(path)) as cat:

        def before() -> list[Any]:
            fragment = compile_filter(WHERE)
            join, join_values, order = old.sort_sql(SORT)
            sql = f"SELECT r.* FROM runs r {join} WHERE {fragment.sql} ORDER BY {order}, "
            sql += "r.run_id LIMIT ?"
            rows = cat.backend.query(sql, (*join_values, *fragment.params, 100))
            return list(old.load_runs(cat.backend, rows))

        def after() -> list[Any]:
            return cat.search_runs(where=WHERE, sort=SORT, limit=100)

        assert before() == after(), "the two versions disagree"
        sides: dict[str, Callable[[], list[Any]]] = {"before": before, "after": after}
        samples: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
        for _ in range(reps):
            for side, search in sides.items():
                wall, cpu = time.perf_counter(), time.process_time()
                search()
                samples[side].append((time.perf_counter() - wall, time.process_time() - cpu))
    figures: dict[str, Any] = {"runs": runs, "reps": reps, "load": load()}
    for side, pairs in samples.items():
        walls, cpus = np.array(pairs).T * 1e3
        figures[side] = {
            "wall_p50_ms": float(np.median(walls)),
            "cpu_p50_ms": float(np.median(cpus)),
        }
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ab-search-") as tmp:
        results = [measure(runs, Path(tmp), args.reps) for runs in args.runs]
    for result in results:
        print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
