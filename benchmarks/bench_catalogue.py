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
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from workbench.catalogue import Catalogue
from workbench.catalogue.duckdb_backend import DuckDBBackend

WHERE, SORT, MLFLOW_ORDER = "params.p0 = 'v3'", "-metrics.m7", "metrics.m7 DESC"
RAW_DDL = "CREATE TABLE metrics (run_id VARCHAR, key VARCHAR, step BIGINT, timestamp TIMESTAMP, "
RAW_DDL += "value DOUBLE)"
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


def tuples(key: str, history: np.ndarray) -> list[tuple[str, float, int]]:
    """A history as MLflow-style (key, value, step) tuples, for `log_batch`."""
    return [(key, value, step) for step, value in enumerate(history.tolist())]


def workbench_ingest(path: Path, s: Scale, values: np.ndarray, *, columnar: bool) -> float:
    """Seconds from the first logging call to `flush()` returning."""
    with Catalogue(DuckDBBackend(path)) as cat:
        run_ids = [cat.create_run("bench", name=f"run-{r}") for r in range(s.runs)]
        steps = np.arange(s.steps, dtype=np.int64)
        method: Callable[..., None] = cat.log_metric_history if columnar else cat.log_batch
        calls = [
            (rid, f"m{k}", steps, values[r, k])
            if columnar
            else (rid, tuples(f"m{k}", values[r, k]))
            for r, rid in enumerate(run_ids)
            for k in range(s.metrics)
        ]
        start = time.perf_counter()
        for args in calls:
            method(*args)
        cat.flush()
        elapsed = time.perf_counter() - start
        stored = cat.sql("SELECT count(*) AS n FROM metrics").column("n")[0].as_py()
    assert stored == s.points, f"expected {s.points} points, found {stored}"
    return elapsed


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


def raw_duckdb(path: Path, s: Scale, values: np.ndarray, *, chunks: int) -> float:
    """Seconds for `chunks` Arrow INSERTs into a fresh file with the same 5-column shape."""
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
    con = duckdb.connect(str(path))
    try:
        con.execute(RAW_DDL)
        start = time.perf_counter()
        for part in parts:
            con.register("arrow_table", part)
            con.execute("INSERT INTO metrics SELECT * FROM arrow_table")
            con.unregister("arrow_table")
        return time.perf_counter() - start
    finally:
        con.close()


def mlflow_client(tmp: Path, name: str) -> Any:
    """A client on a fresh sqlite store; MLflow's own logging is silenced after its import."""
    from mlflow.tracking import MlflowClient

    for logger in ("mlflow", "alembic"):
        logging.getLogger(logger).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="mlflow")
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


def workbench_search(cat: Catalogue, reps: int) -> tuple[np.ndarray, set[str]]:
    """Timings after one warm-up, and the names of the runs found."""

    def search() -> list[Any]:
        return cat.search_runs(where=WHERE, sort=SORT, limit=100)

    runs = search()
    assert all(len(r.params) == QUERY_PARAMS and len(r.metrics) == QUERY_METRICS for r in runs)
    return timed(search, reps), {str(r.name) for r in runs}


def workbench_query(tmp: Path, data: list[Any], reps: int) -> tuple[Figures, set[str]]:
    path = tmp / "wb-query.duckdb"
    with Catalogue(DuckDBBackend(path)) as cat:
        start = time.perf_counter()
        for i, (name, params, metrics) in enumerate(data, 1):
            run_id = cat.create_run("bench", name=name, params=params)
            cat.log_batch(run_id, [(key, value, 0) for key, value in metrics.items()])
            if i % 2_000 == 0:
                log(f"Workbench: {i}/{len(data)} runs")
        cat.flush()
        fill = time.perf_counter() - start
        hot, _ = workbench_search(cat, reps)  # on the connection that wrote all 10k runs
    with Catalogue(DuckDBBackend(path)) as cat:  # reopened, as a CLI or notebook finds it
        samples, names = workbench_search(cat, reps)
    figures = {"fill_s": fill, "p50_ms": ms(samples, 50), "p95_ms": ms(samples, 95)}
    return figures | {"same_conn_p50_ms": ms(hot, 50), "same_conn_p95_ms": ms(hot, 95)}, names


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

    def client_search() -> list[Any]:
        return list(client.search_runs([exp], WHERE, order_by=[MLFLOW_ORDER], max_results=100))

    def search() -> Any:  # a pandas DataFrame
        return mlflow.search_runs([exp], WHERE, order_by=[MLFLOW_ORDER], max_results=100)

    client_search()  # warm-up
    client_samples = timed(client_search, reps)
    # mlflow.search_runs takes no tracking URI: scope one to these calls (restored after).
    with _use_tracking_uri(client.tracking_uri):
        frame = search()  # warm-up
        samples = timed(search, reps)
    assert sum(c.startswith("params.") for c in frame.columns) == QUERY_PARAMS
    figures = {"fill_s": fill, "p50_ms": ms(samples, 50), "p95_ms": ms(samples, 95)}
    return figures | {"client_p50_ms": ms(client_samples, 50)}, set(frame["tags.mlflow.runName"])


# -- main ---------------------------------------------------------------------------------------


def ingest(s: Scale, tmp: Path, repeat: int) -> Figures:
    values = np.random.default_rng(0).random((s.runs, s.metrics, s.steps))
    log(f"ingest: {s.points:,} points ({s.runs} runs x {s.metrics} metrics x {s.steps} steps)")
    small = Scale(runs=1, metrics=2, steps=10)  # pays one-off costs (pyarrow imports pandas)
    workbench_ingest(tmp / "warm-up.duckdb", small, values[:1, :2, :10], columnar=True)
    files = iter(range(10**6))

    def rate(measure: Callable[..., float], **kwargs: Any) -> float:
        """Points/s, median over `repeat` fresh files."""
        paths = [tmp / f"ingest-{next(files)}.duckdb" for _ in range(repeat)]
        return s.points / float(np.median([measure(p, s, values, **kwargs) for p in paths]))

    f: Figures = {"points": s.points, "repeat": repeat, "raw_chunks": s.runs * s.metrics}
    f["wb_log_metric_history_pts_s"] = rate(workbench_ingest, columnar=True)
    f["wb_log_batch_pts_s"] = rate(workbench_ingest, columnar=False)
    f["wb_log_metric_p50_us"], f["wb_log_metric_p99_us"] = workbench_log_metric_us(
        tmp, s.scalar_calls
    )
    log(f"Workbench: {f['wb_log_metric_history_pts_s']:,.0f} points/s (log_metric_history)")
    f["raw_1_insert_pts_s"] = rate(raw_duckdb, chunks=1)
    f["raw_chunked_pts_s"] = rate(raw_duckdb, chunks=f["raw_chunks"])
    log(f"raw DuckDB: {f['raw_1_insert_pts_s']:,.0f} points/s (1 insert)")
    mlflow_figures = mlflow_ingest(tmp, s, values)
    f["mlflow_log_batch_pts_s"], f["mlflow_points"], f["mlflow_log_metric_p50_ms"] = mlflow_figures
    f["wb_vs_raw"] = f["wb_log_metric_history_pts_s"] / f["raw_1_insert_pts_s"]
    f["wb_vs_mlflow"] = f["wb_log_metric_history_pts_s"] / f["mlflow_log_batch_pts_s"]
    return f


def query(s: Scale, tmp: Path) -> Figures:
    log(f"query: {s.query_runs:,} runs x {QUERY_METRICS} metrics x {QUERY_PARAMS} params")
    data = query_data(s.query_runs)
    wb, wb_names = workbench_query(tmp, data, s.reps)
    log(f"Workbench search_runs p50 {wb['p50_ms']:.1f} ms")
    ml, ml_names = mlflow_query(tmp, data, s.mlflow_reps)
    log(f"MLflow search_runs p50 {ml['p50_ms']:.1f} ms")
    ratios = {"mlflow_vs_wb": ml["p50_ms"] / wb["p50_ms"]}
    ratios["mlflow_vs_wb_same_conn"] = ml["p50_ms"] / wb["same_conn_p50_ms"]
    ratios["mlflow_client_vs_wb"] = ml["client_p50_ms"] / wb["p50_ms"]
    same = {"same_top_100": wb_names == ml_names}
    return {"runs": s.query_runs, "workbench": wb, "mlflow": ml} | ratios | same


def report(i: Figures, q: Figures) -> None:
    wb, ml = q["workbench"], q["mlflow"]

    def ok(met: bool) -> str:
        return "  ok" if met else "  MISSED"

    def rate(x: float) -> str:
        return f"{x:,.0f} pts/s"

    def two(figures: Figures, prefix: str = "") -> str:
        return f"{figures[prefix + 'p50_ms']:.1f} / {figures[prefix + 'p95_ms']:.1f} ms"

    wb_one = f"{i['wb_log_metric_p50_us']:.2f} / {i['wb_log_metric_p99_us']:.2f} us"
    wb_raw = f"{i['wb_vs_raw']:.2f}x" + ok(i["wb_vs_raw"] >= 0.5)
    ml_wb = f"{q['mlflow_vs_wb']:.1f}x" + ok(q["mlflow_vs_wb"] >= 30)
    rows = [
        (f"Ingest {i['points']:,} points (median of {i['repeat']} fresh files)", ""),
        ("Workbench log_metric_history, 1,000 steps/call", rate(i["wb_log_metric_history_pts_s"])),
        ("Workbench log_batch, 1,000 tuples/call", rate(i["wb_log_batch_pts_s"])),
        ("Workbench log_metric, one call p50 / p99", wb_one),
        ("raw DuckDB, 1 Arrow INSERT", rate(i["raw_1_insert_pts_s"])),
        (f"raw DuckDB, {i['raw_chunks']:,} Arrow INSERTs", rate(i["raw_chunked_pts_s"])),
        (f"MLflow log_batch, {i['mlflow_points']:,} points", rate(i["mlflow_log_batch_pts_s"])),
        ("MLflow log_metric, one call p50", f"{i['mlflow_log_metric_p50_ms']:.2f} ms"),
        ("Workbench / raw DuckDB (target >= 0.5)", wb_raw),
        ("Workbench / MLflow", f"{i['wb_vs_mlflow']:,.0f}x"),
        (f"Query {q['runs']:,} runs: {WHERE}, sort {SORT}, top 100", ""),
        ("Workbench fill (create_run + log_batch)", f"{wb['fill_s']:.1f} s"),
        ("MLflow fill (create_run + log_batch)", f"{ml['fill_s']:.1f} s"),
        ("Workbench search_runs p50 / p95, reopened", two(wb) + ok(wb["p50_ms"] < 40)),
        ("Workbench search_runs, on the filling connection", two(wb, "same_conn_")),
        ("mlflow.search_runs p50 / p95 (pandas)", two(ml)),
        ("MlflowClient.search_runs p50", f"{ml['client_p50_ms']:.1f} ms"),
        ("mlflow.search_runs / Workbench (target >= 30)", ml_wb),
        ("  same, Workbench on the filling connection", f"{q['mlflow_vs_wb_same_conn']:.1f}x"),
        ("MlflowClient.search_runs / Workbench", f"{q['mlflow_client_vs_wb']:.1f}x"),
        ("same top-100 runs in both", "yes" if q["same_top_100"] else "NO"),
    ]
    for label, value in rows:
        print(f"  {label:<50}{value}" if value else label)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, well under a minute")
    parser.add_argument("--full", action="store_true", help="log all ingest points to MLflow too")
    parser.add_argument("--mlflow-points", type=int, help="points logged to MLflow (100,000)")
    parser.add_argument("--query-runs", type=int, help="runs in the query benchmark (10,000)")
    parser.add_argument("--repeat", type=int, default=3, help="ingest repetitions (median)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    args = parser.parse_args(argv)

    quick = Scale(runs=10, mlflow_points=10_000, scalar_calls=20_000, query_runs=1_000)
    s = quick if args.quick else Scale()
    mlflow_points = s.points if args.full else args.mlflow_points or s.mlflow_points
    s = replace(s, mlflow_points=mlflow_points, query_runs=args.query_runs or s.query_runs)
    with tempfile.TemporaryDirectory(prefix="bench-catalogue-") as tmp:
        figures = {"scale": asdict(s), "ingest": ingest(s, Path(tmp), args.repeat)}
        figures["query"] = query(s, Path(tmp))
    report(figures["ingest"], figures["query"])
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        log(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
