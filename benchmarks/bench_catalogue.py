"""Catalogue benchmark: Workbench against raw DuckDB and MLflow (sqlite), side by side.

1. Ingest: runs x metrics x steps points (default 100 x 10 x 1,000 = 1M), one (run, metric)
   history of 1,000 steps per call; payloads are built before the clock starts.
2. Query: N runs (default 10,000) with 10 params and 20 single-value metrics; filter on a
   param that matches 10% of runs, sort by a metric descending, top 100 with params and metrics.

Everything is written to a temporary directory that is removed at the end. Progress goes to
stderr; the results table goes to stdout (and to --json FILE).

    python benchmarks/bench_catalogue.py --quick          # well under a minute
    python benchmarks/bench_catalogue.py --json out.json  # default sizes, a few minutes
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from workbench.catalogue import Catalogue
from workbench.catalogue.duckdb_backend import DuckDBBackend

WHERE = "params.p0 = 'v3'"
RAW_DDL = (
    "CREATE TABLE metrics (run_id VARCHAR, key VARCHAR, step BIGINT, timestamp TIMESTAMP, "
    "value DOUBLE)"
)
QUERY_METRICS, QUERY_PARAMS = 20, 10
Figures = dict[str, Any]


@dataclass(frozen=True)
class Scale:
    runs: int = 100
    metrics: int = 10
    steps: int = 1_000  # points per call; MLflow accepts at most 1,000 metrics per log_batch
    mlflow_points: int = 100_000
    scalar_calls: int = 100_000
    query_runs: int = 10_000
    reps: int = 30
    mlflow_reps: int = 10

    @property
    def points(self) -> int:
        return self.runs * self.metrics * self.steps


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def timed(fn: Callable[[], object], reps: int) -> np.ndarray:
    """Seconds per call of `fn`, `reps` times."""
    out = np.empty(reps)
    for i in range(reps):
        start = time.perf_counter()
        fn()
        out[i] = time.perf_counter() - start
    return out


def ms(samples: np.ndarray, q: float) -> float:
    return float(np.percentile(samples, q) * 1e3)


# -- ingest -------------------------------------------------------------------------------------


def workbench_ingest(tmp: Path, s: Scale, values: np.ndarray, *, columnar: bool) -> float:
    """Points/s from the first logging call to `flush()` returning."""
    with Catalogue(DuckDBBackend(tmp / f"wb-ingest-{columnar}.duckdb")) as cat:
        run_ids = [cat.create_run("bench", name=f"run-{r}") for r in range(s.runs)]
        keys = [f"m{k}" for k in range(s.metrics)]
        steps = np.arange(s.steps, dtype=np.int64)
        if columnar:
            start = time.perf_counter()
            for r, run_id in enumerate(run_ids):
                for k, key in enumerate(keys):
                    cat.log_metrics(run_id, key, steps, values[r, k])
            cat.flush()
            elapsed = time.perf_counter() - start
        else:
            batches = [
                (run_id, [(key, v, i) for i, v in enumerate(values[r, k].tolist())])
                for r, run_id in enumerate(run_ids)
                for k, key in enumerate(keys)
            ]
            start = time.perf_counter()
            for run_id, batch in batches:
                cat.log_batch(run_id, batch)
            cat.flush()
            elapsed = time.perf_counter() - start
        stored = cat.sql("SELECT count(*) AS n FROM metrics").column("n")[0].as_py()
    assert stored == s.points, f"expected {s.points} points, found {stored}"
    return s.points / elapsed


def workbench_log_metric_us(tmp: Path, calls: int) -> tuple[float, float]:
    """Median and p99 latency of one `log_metric` call, in microseconds."""
    clock = time.perf_counter_ns
    lat = np.empty(calls)
    with Catalogue(DuckDBBackend(tmp / "wb-scalar.duckdb")) as cat:
        run_id = cat.create_run("bench")
        cat.log_metric(run_id, "warm-up", 0.0, 0)  # starts the background flusher
        for i in range(calls):
            start = clock()
            cat.log_metric(run_id, "loss", 0.5, i)
            lat[i] = clock() - start
    return float(np.median(lat) / 1e3), float(np.percentile(lat, 99) / 1e3)


def raw_duckdb(tmp: Path, s: Scale, values: np.ndarray, *, chunks: int) -> float:
    """Points/s for `chunks` Arrow INSERTs into a fresh file with the same 5-column shape."""
    run_ids = np.array([f"{r:032x}" for r in range(s.runs)], dtype=object)
    keys = np.array([f"m{k}" for k in range(s.metrics)], dtype=object)
    n = s.points
    table = pa.table(
        {
            "run_id": np.repeat(run_ids, s.metrics * s.steps),
            "key": np.tile(np.repeat(keys, s.steps), s.runs),
            "step": np.tile(np.arange(s.steps, dtype=np.int64), s.runs * s.metrics),
            "timestamp": pa.array(np.full(n, time.time_ns() // 1000), pa.timestamp("us")),
            "value": values.reshape(-1),
        }
    )
    size = -(-n // chunks)
    parts = [table.slice(i, size) for i in range(0, n, size)]
    con = duckdb.connect(str(tmp / f"raw-{chunks}.duckdb"))
    try:
        con.execute(RAW_DDL)
        start = time.perf_counter()
        for part in parts:
            con.register("arrow_table", part)
            con.execute("INSERT INTO metrics SELECT * FROM arrow_table")
            con.unregister("arrow_table")
        elapsed = time.perf_counter() - start
    finally:
        con.close()
    return n / elapsed


def mlflow_client(tmp: Path, name: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{tmp / name}")


def mlflow_ingest(tmp: Path, s: Scale, values: np.ndarray) -> tuple[float, int, float]:
    """(points/s over the subset, points logged, median ms of one `log_metric`)."""
    from mlflow.entities import Metric

    client = mlflow_client(tmp, "mlflow-ingest.db")
    exp = client.create_experiment("ingest", artifact_location=(tmp / "artifacts").as_uri())
    run_ids = [client.create_run(exp, run_name=f"run-{r}").info.run_id for r in range(s.runs)]
    stamp = int(time.time() * 1000)
    calls = max(1, min(s.mlflow_points // s.steps, s.runs * s.metrics))
    payloads = []
    for c in range(calls):  # spread over the runs first, then over the metrics
        r, k = c % s.runs, c // s.runs
        history = values[r, k].tolist()
        payloads.append((run_ids[r], [Metric(f"m{k}", v, stamp, i) for i, v in enumerate(history)]))
    log(f"MLflow: {calls} log_batch calls of {s.steps} metrics")
    start = time.perf_counter()
    for run_id, metrics in payloads:
        client.log_batch(run_id, metrics=metrics)
    elapsed = time.perf_counter() - start
    step = iter(range(10**6))
    single = timed(lambda: client.log_metric(run_ids[0], "single", 0.5, step=next(step)), 50)
    return calls * s.steps / elapsed, calls * s.steps, ms(single, 50)


# -- query --------------------------------------------------------------------------------------


def query_data(n: int) -> list[tuple[str, dict[str, str], dict[str, float]]]:
    """(name, params, metrics) per run; p0 has 10 values, so `p0 = 'v3'` matches 10%."""
    rng = np.random.default_rng(7)
    metric_values = rng.random((n, QUERY_METRICS)).tolist()
    param_values = rng.integers(0, 1_000, (n, QUERY_PARAMS - 1)).tolist()
    return [
        (
            f"run-{i:06d}",
            {"p0": f"v{i % 10}"} | {f"p{j + 1}": f"x{v}" for j, v in enumerate(param_values[i])},
            {f"m{j}": v for j, v in enumerate(metric_values[i])},
        )
        for i in range(n)
    ]


def workbench_query(tmp: Path, data: list[Any], reps: int) -> tuple[Figures, set[str]]:
    with Catalogue(DuckDBBackend(tmp / "wb-query.duckdb")) as cat:
        start = time.perf_counter()
        for i, (name, params, metrics) in enumerate(data, 1):
            run_id = cat.create_run("bench", name=name, params=params)
            cat.log_batch(run_id, [(key, value, 0) for key, value in metrics.items()])
            if i % 2_000 == 0:
                log(f"Workbench: {i}/{len(data)} runs")
        cat.flush()
        fill = time.perf_counter() - start

        def query() -> list[Any]:
            return cat.search_runs(where=WHERE, sort="-metrics.m7", limit=100)

        runs = query()  # warm-up
        samples = timed(query, reps)
    assert all(len(r.params) == QUERY_PARAMS and len(r.metrics) == QUERY_METRICS for r in runs)
    figures = {"fill_s": fill, "p50_ms": ms(samples, 50), "p95_ms": ms(samples, 95)}
    return figures, {str(r.name) for r in runs}


def mlflow_query(tmp: Path, data: list[Any], reps: int) -> tuple[Figures, set[str]]:
    import mlflow
    from mlflow.entities import Metric, Param
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    client = mlflow_client(tmp, "mlflow-query.db")
    exp = client.create_experiment("query", artifact_location=(tmp / "artifacts").as_uri())
    stamp = int(time.time() * 1000)
    start = time.perf_counter()
    for i, (name, params, metrics) in enumerate(data, 1):
        run_id = client.create_run(exp, run_name=name).info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(key, value, stamp, 0) for key, value in metrics.items()],
            params=[Param(key, value) for key, value in params.items()],
        )
        if i % 1_000 == 0:
            log(f"MLflow: {i}/{len(data)} runs")
    fill = time.perf_counter() - start
    args: dict[str, Any] = {
        "experiment_ids": [exp],
        "filter_string": WHERE,
        "order_by": ["metrics.m7 DESC"],
        "max_results": 100,
    }

    def client_query() -> list[Any]:
        return list(client.search_runs(**args))

    client_query()  # warm-up
    client_samples = timed(client_query, reps)
    # mlflow.search_runs has no tracking-URI argument: scope the URI to these calls only.
    with _use_tracking_uri(client.tracking_uri):
        frame = mlflow.search_runs(**args)  # warm-up
        samples = timed(lambda: mlflow.search_runs(**args), reps)
    assert len(frame.columns[frame.columns.str.startswith("params.")]) == QUERY_PARAMS
    figures = {
        "fill_s": fill,
        "p50_ms": ms(samples, 50),
        "p95_ms": ms(samples, 95),
        "client_p50_ms": ms(client_samples, 50),
    }
    return figures, set(frame["tags.mlflow.runName"])


# -- main ---------------------------------------------------------------------------------------


def run(s: Scale, tmp: Path) -> Figures:
    values = np.random.default_rng(0).random((s.runs, s.metrics, s.steps))
    log(f"ingest: {s.points:,} points ({s.runs} runs x {s.metrics} metrics x {s.steps} steps)")
    wb = workbench_ingest(tmp, s, values, columnar=True)
    log(f"Workbench log_metrics: {wb:,.0f} points/s")
    wb_batch = workbench_ingest(tmp, s, values, columnar=False)
    log(f"Workbench log_batch: {wb_batch:,.0f} points/s")
    scalar_p50, scalar_p99 = workbench_log_metric_us(tmp, s.scalar_calls)
    raw = raw_duckdb(tmp, s, values, chunks=1)
    raw_chunked = raw_duckdb(tmp, s, values, chunks=s.runs * s.metrics)
    log(f"raw DuckDB: {raw:,.0f} points/s (1 insert), {raw_chunked:,.0f} (chunked)")
    ml, ml_points, ml_single = mlflow_ingest(tmp, s, values)
    log(f"MLflow log_batch: {ml:,.0f} points/s")
    ingest = {
        "points": s.points,
        "workbench_log_metrics_pts_s": wb,
        "workbench_log_batch_pts_s": wb_batch,
        "workbench_log_metric_p50_us": scalar_p50,
        "workbench_log_metric_p99_us": scalar_p99,
        "raw_duckdb_1_insert_pts_s": raw,
        "raw_duckdb_chunked_pts_s": raw_chunked,
        "raw_duckdb_chunks": s.runs * s.metrics,
        "mlflow_points": ml_points,
        "mlflow_log_batch_pts_s": ml,
        "mlflow_log_metric_p50_ms": ml_single,
        "ratio_workbench_vs_raw_duckdb": wb / raw,
        "ratio_workbench_vs_mlflow": wb / ml,
    }

    log(f"query: {s.query_runs:,} runs x {QUERY_METRICS} metrics x {QUERY_PARAMS} params")
    data = query_data(s.query_runs)
    wbq, wb_names = workbench_query(tmp, data, s.reps)
    log(f"Workbench search_runs p50 {wbq['p50_ms']:.1f} ms")
    mlq, ml_names = mlflow_query(tmp, data, s.mlflow_reps)
    log(f"MLflow search_runs p50 {mlq['p50_ms']:.1f} ms")
    query = {
        "runs": s.query_runs,
        "workbench": wbq,
        "mlflow": mlq,
        "ratio_mlflow_vs_workbench": mlq["p50_ms"] / wbq["p50_ms"],
        "ratio_mlflow_client_vs_workbench": mlq["client_p50_ms"] / wbq["p50_ms"],
        "same_top_100": wb_names == ml_names,
    }
    return {"scale": s.__dict__, "ingest": ingest, "query": query}


def report(f: Figures) -> None:
    i, q = f["ingest"], f["query"]
    wbq, mlq = q["workbench"], q["mlflow"]
    target = {True: "ok", False: "MISSED"}
    rows = [
        (f"Ingest {i['points']:,} points", "", ""),
        ("  Workbench log_metrics (1,000 steps/call)", f"{i['workbench_log_metrics_pts_s']:,.0f}",
         "points/s"),
        ("  Workbench log_batch (1,000 tuples/call)", f"{i['workbench_log_batch_pts_s']:,.0f}",
         "points/s"),
        ("  Workbench log_metric, one call p50 / p99",
         f"{i['workbench_log_metric_p50_us']:.2f} / {i['workbench_log_metric_p99_us']:.2f}", "us"),
        ("  raw DuckDB, 1 Arrow INSERT", f"{i['raw_duckdb_1_insert_pts_s']:,.0f}", "points/s"),
        (f"  raw DuckDB, {i['raw_duckdb_chunks']:,} Arrow INSERTs",
         f"{i['raw_duckdb_chunked_pts_s']:,.0f}", "points/s"),
        (f"  MLflow log_batch (sqlite, {i['mlflow_points']:,} points)",
         f"{i['mlflow_log_batch_pts_s']:,.0f}", "points/s"),
        ("  MLflow log_metric, one call p50", f"{i['mlflow_log_metric_p50_ms']:.2f}", "ms"),
        ("  ratio Workbench / raw DuckDB (target >= 0.5)",
         f"{i['ratio_workbench_vs_raw_duckdb']:.2f}x",
         target[i["ratio_workbench_vs_raw_duckdb"] >= 0.5]),
        ("  ratio Workbench / MLflow", f"{i['ratio_workbench_vs_mlflow']:,.0f}x", ""),
        (f"Query {q['runs']:,} runs: {WHERE}, -metrics.m7, top 100", "", ""),
        ("  Workbench fill", f"{wbq['fill_s']:.1f}", "s"),
        ("  MLflow fill", f"{mlq['fill_s']:.1f}", "s"),
        ("  Workbench search_runs p50 / p95 (target p50 < 40 ms)",
         f"{wbq['p50_ms']:.1f} / {wbq['p95_ms']:.1f}", "ms " + target[wbq["p50_ms"] < 40]),
        ("  MLflow mlflow.search_runs p50 / p95 (pandas)",
         f"{mlq['p50_ms']:.1f} / {mlq['p95_ms']:.1f}", "ms"),
        ("  MLflow MlflowClient.search_runs p50", f"{mlq['client_p50_ms']:.1f}", "ms"),
        ("  ratio MLflow / Workbench (target >= 30)", f"{q['ratio_mlflow_vs_workbench']:.1f}x",
         target[q["ratio_mlflow_vs_workbench"] >= 30]),
        ("  ratio MlflowClient / Workbench", f"{q['ratio_mlflow_client_vs_workbench']:.1f}x", ""),
        ("  same top-100 runs in both", "yes" if q["same_top_100"] else "NO", ""),
    ]
    width = max(len(r[0]) for r in rows)
    for label, value, unit in rows:
        print(f"{label:<{width}}  {value:>18}  {unit}".rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, well under a minute")
    parser.add_argument("--full", action="store_true", help="log all points to MLflow too")
    parser.add_argument("--mlflow-points", type=int, help="points logged to MLflow (100,000)")
    parser.add_argument("--query-runs", type=int, help="runs in the query benchmark (10,000)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    args = parser.parse_args(argv)

    s = Scale(runs=10, mlflow_points=10_000, scalar_calls=20_000, query_runs=1_000) if args.quick \
        else Scale()
    s = Scale(**{
        **s.__dict__,
        "mlflow_points": s.points if args.full else args.mlflow_points or s.mlflow_points,
        "query_runs": args.query_runs or s.query_runs,
    })
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="mlflow")
    with tempfile.TemporaryDirectory(prefix="bench-catalogue-") as tmp:
        figures = run(s, Path(tmp))
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        log(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
