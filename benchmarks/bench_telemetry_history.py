"""Telemetry history benchmark: a day of 1 Hz samples from 4 nodes with 8 GPUs each.

The day is built with SQL `generate_series` straight into the full-resolution tables
(345,600 node rows, 2,764,800 GPU rows), then the owner's compaction runs once, so the last
hour stays at full resolution and the rest becomes minute aggregates, as in a live catalogue.
The timed query is `TelemetryLedger.history` over the whole day at its automatic resolution
(target < 50 ms), repeated; the same query before compaction is reported too.

    python benchmarks/bench_telemetry_history.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from workbench.catalogue import Catalogue, Statement
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.catalogue.telemetry import TelemetryLedger

NODES, GPUS, DAY_S = 4, 8, 86_400
NOW = datetime(2026, 12, 1, 12, 0, 0)

_FILL_NODES = """
INSERT INTO telemetry_nodes
SELECT ?::TIMESTAMP - to_seconds(s), 'node-' || n, 'host-' || n, (s * 7 + n) % 100,
       [(s % 100)::DOUBLE, ((s + 1) % 100)::DOUBLE], 1.5, 1.2, 1.0, 8e9 + (s % 1000) * 1e6,
       64e9, 0, 8e9, 1e6, 2e6, 3e6, 4e6, ''
FROM generate_series(0, ? - 1) t(s), generate_series(1, ?) u(n)
"""
_FILL_GPUS = """
INSERT INTO telemetry_gpus
SELECT ?::TIMESTAMP - to_seconds(s), 'node-' || n, g, 'GPU-' || n || '-' || g, 'NVIDIA H200',
       (s * 3 + g) % 100, 40e9 + (s % 100) * 1e8, 141e9, 40 + (s % 30), 300 + (s % 300), 700,
       1980, 3201, NULL
FROM generate_series(0, ? - 1) t(s), generate_series(1, ?) u(n), generate_series(0, ? - 1) v(g)
"""


def timed(call: Any, repeats: int) -> list[float]:
    """Milliseconds per call, `repeats` times."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def figures(times: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(times), 2),
        "min_ms": round(min(times), 2),
        "max_ms": round(max(times), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        catalogue = Catalogue(DuckDBBackend(Path(directory) / "c.duckdb"))
        ledger = TelemetryLedger(catalogue)
        start = time.perf_counter()
        catalogue.backend.write(
            [
                Statement(_FILL_NODES, (NOW, DAY_S, NODES)),
                Statement(_FILL_GPUS, (NOW, DAY_S, NODES, GPUS)),
            ]
        )
        fill_s = time.perf_counter() - start
        since, until = NOW - timedelta(days=1), NOW + timedelta(seconds=1)

        def day() -> Any:
            return ledger.history(since, until)

        ledger.history(since, until)  # warm
        raw = timed(day, args.repeats)
        start = time.perf_counter()
        ledger.compact(NOW)
        compact_s = time.perf_counter() - start
        day()  # warm
        compacted = timed(day, args.repeats)
        hour = timed(lambda: ledger.history(NOW - timedelta(hours=1), until), args.repeats)
        result = day()
        catalogue.close()
    document = {
        "nodes": NODES,
        "gpus_per_node": GPUS,
        "node_rows": NODES * DAY_S,
        "gpu_rows": NODES * GPUS * DAY_S,
        "fill_s": round(fill_s, 2),
        "compact_s": round(compact_s, 2),
        "resolution_s": result.resolution_s,
        "points": {"nodes": len(result.nodes), "gpus": len(result.gpus)},
        "day_all_raw": figures(raw),
        "day_compacted": figures(compacted),
        "last_hour_compacted": figures(hour),
        "repeats": args.repeats,
    }
    text = json.dumps(document, indent=2)
    sys.stdout.write(text + "\n")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
