"""Catalogue benchmark: Workbench against raw DuckDB and MLflow (sqlite), side by side.

1. Ingest: runs x metrics x steps points (default 100 x 10 x 1,000 = 1M), one (run, metric)
   history of 1,000 steps per call; payloads are built before the clock starts.
   `log_metric` (buffered) is set beside Workbench's own committed cost: the same calls followed
   by `flush()`, and one point committed per call (what MLflow's `log_metric` does).
2. Query: N runs (default 10,000) with 10 params and 20 single-value metrics; filter on a
   param that matches 10% of runs, sort by a metric descending, top 100 with params and metrics.
   Rounds alternate Workbench and MLflow (the machine is shared: each ratio pairs figures taken
   under the same load), first on the connection that wrote the runs, then reopened.
3. The same query over --large-runs (default 100,000) runs, loaded through `catalogue import`
   (creating them one by one would take most of an hour).

Everything is written to a temporary directory that is removed at the end. Progress goes to
stderr; the results table goes to stdout (and to --json FILE), with the load average.

    python benchmarks/bench_catalogue.py --quick          # a minute or two
    python benchmarks/bench_catalogue.py --json out.json  # default sizes, a quarter of an hour
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from workbench.catalogue import Catalogue
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.catalogue.transfer import export_catalogue, import_catalogue

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
    committed_calls: int = 300
    query_runs: int = 10_000
    large_runs: int = 100_000
    reps: int = 30
    mlflow_reps: int = 10
    rounds: int = 3

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


def load() -> list[float]:
    """`uptime`'s 1, 5 and 15 minute load averages (the machine is shared)."""
    return [round(value, 2) for value in os.getloadavg()]


def spread(values: list[float]) -> Figures:
    """Median and range of per-round figures."""
    return {"median": float(np.median(values)), "min": min(values), "max": max(values)}


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


def workbench_log_metric(tmp: Path, calls: int, committed_calls: int) -> Figures:
    """`log_metric` latency (buffered), and what committing the same points costs Workbench."""
    clock = time.perf_counter_ns
    lat, each = np.empty(calls), np.empty(committed_calls)
    with Catalogue(DuckDBBackend(tmp / "wb-scalar.duckdb")) as cat:
        run_id = cat.create_run("bench")
        cat.log_metric(run_id, "warm-up", 0.0, 0)  # starts the background flusher
        start = clock()
        for i in range(calls):
            call = clock()
            cat.log_metric(run_id, "loss", 0.5, i)
            lat[i] = clock() - call
        cat.flush()
        amortised_us = (clock() - start) / calls / 1e3
        for i in range(committed_calls):  # one point committed per call, as MLflow does
            call = clock()
            cat.log_metric(run_id, "committed", 0.5, i)
            cat.flush()
            each[i] = clock() - call
    return {
        "wb_log_metric_p50_us": float(np.median(lat) / 1e3),
        "wb_log_metric_p99_us": float(np.percentile(lat, 99) / 1e3),
        "wb_log_metric_then_flush_us_per_point": amortised_us,
        "wb_log_metric_flush_each_p50_ms": float(np.median(each) / 1e6),
    }


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
    parts = [table.slice(i, -(-n // chunks)) for i in range(0, n, -(-n // chunks))]
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


def workbench_search(cat: Catalogue) -> Callable[[], list[Any]]:
    """The query, as `runs ls --where ... --sort ... --limit 100` runs it."""
    return lambda: cat.search_runs(where=WHERE, sort=SORT, limit=100)


def checked_names(search: Callable[[], list[Any]]) -> set[str]:
    """Run the query once (the warm-up) and return the names of the runs it found."""
    runs = search()
    assert all(len(r.params) == QUERY_PARAMS and len(r.metrics) == QUERY_METRICS for r in runs)
    return {str(r.name) for r in runs}


def workbench_fill(path: Path, data: list[Any]) -> tuple[Catalogue, float]:
    """A catalogue filled run by run (`create_run` + `log_batch`), still open, and the seconds."""
    cat = Catalogue(DuckDBBackend(path))
    start = time.perf_counter()
    for i, (name, params, metrics) in enumerate(data, 1):
        run_id = cat.create_run("bench", name=name, params=params)
        cat.log_batch(run_id, [(key, value, 0) for key, value in metrics.items()])
        if i % 2_000 == 0:
            log(f"Workbench: {i}/{len(data)} runs")
    cat.flush()
    return cat, time.perf_counter() - start


def mlflow_fill(tmp: Path, data: list[Any]) -> tuple[Any, str, float]:
    """(client, experiment id, seconds) for the same runs logged to MLflow."""
    from mlflow.entities import Metric, Param

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
    return client, exp, time.perf_counter() - start


def mlflow_search(client: Any, exp: str) -> Callable[[], Any]:
    """`mlflow.search_runs` (pandas, as users call it) on the client's store."""
    import mlflow
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    def search() -> Any:
        with _use_tracking_uri(client.tracking_uri):  # search_runs takes no tracking URI
            return mlflow.search_runs([exp], WHERE, order_by=[MLFLOW_ORDER], max_results=100)

    return search


def paired_rounds(
    s: Scale, wb_search: Callable[[], list[Any]], mlflow: Callable[[], Any] | None
) -> list[Figures]:
    """`s.rounds` rounds of Workbench then MLflow (if given), each with its load average."""
    rounds = []
    for _ in range(s.rounds):
        wb = timed(wb_search, s.reps)
        figures = {"wb_p50_ms": ms(wb, 50), "wb_p95_ms": ms(wb, 95), "load": load()}
        if mlflow is not None:
            ml = timed(mlflow, s.mlflow_reps)
            figures |= {"mlflow_p50_ms": ms(ml, 50), "mlflow_p95_ms": ms(ml, 95)}
            figures["mlflow_vs_wb"] = ms(ml, 50) / ms(wb, 50)
        rounds.append(figures)
        log(f"round: {figures}")
    return rounds


def summary(rounds: list[Figures]) -> Figures:
    """Median and range over rounds of Workbench's p50, MLflow's p50 and their ratio."""
    keys = ("wb_p50_ms", "mlflow_p50_ms", "mlflow_vs_wb")
    return {key: spread([r[key] for r in rounds]) for key in keys}


def query(s: Scale, tmp: Path) -> Figures:
    log(f"query: {s.query_runs:,} runs x {QUERY_METRICS} metrics x {QUERY_PARAMS} params")
    data = query_data(s.query_runs)
    client, exp, mlflow_fill_s = mlflow_fill(tmp, data)
    search_mlflow = mlflow_search(client, exp)
    frame = search_mlflow()  # the warm-up
    assert sum(c.startswith("params.") for c in frame.columns) == QUERY_PARAMS
    mlflow_names = set(frame["tags.mlflow.runName"])
    path = tmp / "wb-query.duckdb"
    cat, wb_fill_s = workbench_fill(path, data)
    f: Figures = {"runs": s.query_runs, "wb_fill_s": wb_fill_s, "mlflow_fill_s": mlflow_fill_s}
    try:  # first on the connection that wrote every run, as a training process would query
        same_names = checked_names(workbench_search(cat)) == mlflow_names
        f["writing_connection"] = paired_rounds(s, workbench_search(cat), search_mlflow)
    finally:
        cat.close()
    with Catalogue(DuckDBBackend(path)) as cat:  # reopened, as a CLI or notebook finds it
        same_names &= checked_names(workbench_search(cat)) == mlflow_names
        f["reopened"] = paired_rounds(s, workbench_search(cat), search_mlflow)
    f["same_top_100"] = same_names
    return f | {f"summary_{c}": summary(f[c]) for c in ("writing_connection", "reopened")}


def bulk_fill(path: Path, data: list[Any]) -> float:
    """Load the runs through `catalogue import` (one transaction); returns the seconds."""
    start = time.perf_counter()
    n = len(data)
    ids = [uuid.uuid4().hex for _ in range(n)]
    created = np.datetime64("2026-12-01T00:00:00", "us") + np.arange(n).astype("timedelta64[ms]")
    constant = {"project": "bench", "kind": "run", "status": "finished", "environment": "{}"}
    runs = pa.table(
        {"run_id": ids, "name": [name for name, _, _ in data], "attempt": np.ones(n, np.int32)}
        | {column: pa.array(created) for column in ("created_at", "started_at", "ended_at")}
        | {column: [value] * n for column, value in constant.items()}
    )

    def long_format(column: int) -> tuple[list[str], list[str], list[Any]]:
        rows = [(i, k, v) for i, run in zip(ids, data, strict=True) for k, v in run[column].items()]
        return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]

    run_ids, keys, values = long_format(1)
    params = pa.table({"run_id": run_ids, "key": keys, "value": values})
    run_ids, keys, values = long_format(2)
    stamps = pa.array(np.full(len(run_ids), created[0]), pa.timestamp("us"))
    steps = pa.array(np.zeros(len(run_ids), np.int64))
    latest = pa.table(
        {"run_id": run_ids, "key": keys, "step": steps, "timestamp": stamps, "value": values}
    )
    tables = {"runs": runs, "params": params, "latest_metrics": latest}
    tables["metrics"] = latest.append_column("attempt", pa.array(np.ones(len(run_ids), np.int32)))
    with tempfile.TemporaryDirectory(dir=path.parent) as export:
        with Catalogue(DuckDBBackend(Path(export) / "empty.duckdb")) as empty:
            export_catalogue(empty, Path(export) / "tables")  # every table, and the manifest
        for name, table in tables.items():
            pq.write_table(table, Path(export) / "tables" / f"{name}.parquet")
        with Catalogue(DuckDBBackend(path)) as cat:
            import_catalogue(cat, Path(export) / "tables")
    return time.perf_counter() - start


def large_query(s: Scale, tmp: Path) -> Figures:
    log(f"query at {s.large_runs:,} runs (filled through catalogue import)")
    path = tmp / "wb-large.duckdb"
    f: Figures = {"runs": s.large_runs, "fill_s": bulk_fill(path, query_data(s.large_runs))}
    with Catalogue(DuckDBBackend(path)) as cat:
        checked_names(workbench_search(cat))
        f["rounds"] = paired_rounds(s, workbench_search(cat), None)
    return f | {"p50_ms": spread([r["wb_p50_ms"] for r in f["rounds"]])}


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
    f["load_before"] = load()
    f["wb_log_metric_history_pts_s"] = rate(workbench_ingest, columnar=True)
    f["wb_log_batch_pts_s"] = rate(workbench_ingest, columnar=False)
    f |= workbench_log_metric(tmp, s.scalar_calls, s.committed_calls)
    log(f"Workbench: {f['wb_log_metric_history_pts_s']:,.0f} points/s (log_metric_history)")
    f["raw_1_insert_pts_s"] = rate(raw_duckdb, chunks=1)
    f["raw_chunked_pts_s"] = rate(raw_duckdb, chunks=f["raw_chunks"])
    log(f"raw DuckDB: {f['raw_1_insert_pts_s']:,.0f} points/s (1 insert)")
    mlflow_figures = mlflow_ingest(tmp, s, values)
    f["mlflow_log_batch_pts_s"], f["mlflow_points"], f["mlflow_log_metric_p50_ms"] = mlflow_figures
    f["wb_vs_raw"] = f["wb_log_metric_history_pts_s"] / f["raw_1_insert_pts_s"]
    f["wb_vs_mlflow"] = f["wb_log_metric_history_pts_s"] / f["mlflow_log_batch_pts_s"]
    f["load_after"] = load()
    return f


def report(figures: Figures) -> None:
    def ok(x: Figures, met: Callable[[float], bool] = lambda _: True) -> str:
        return f"{x['median']:.1f} ({x['min']:.1f} - {x['max']:.1f})" + (
            "" if met(x["median"]) else " MISSED"
        )

    rows: list[tuple[str, str]] = []
    if "ingest" in figures:
        i = figures["ingest"]
        rows += [(f"Ingest {i['points']:,} points, median of {i['repeat']} files", "")]
        rows += [(f"  {k}", f"{i[k]:,.2f}") for k in i if k.startswith(("wb_", "raw_", "mlflow_"))]
        rows += [("  Workbench / raw DuckDB (target >= 0.5)", f"{i['wb_vs_raw']:.2f}x")]
    if "query" in figures:
        q, w = figures["query"], figures["query"]["summary_writing_connection"]
        r = figures["query"]["summary_reopened"]
        rows += [
            (f"Query {q['runs']:,} runs, top 100, median (range) of rounds", ""),
            ("  Workbench p50 ms, writing connection", ok(w["wb_p50_ms"])),
            ("  Workbench p50 ms, reopened", ok(r["wb_p50_ms"])),
            ("  mlflow.search_runs p50 ms", ok(r["mlflow_p50_ms"])),
            ("  MLflow / Workbench, writing (>= 30x)", ok(w["mlflow_vs_wb"], lambda x: x >= 30)),
            ("  MLflow / Workbench, reopened (>= 30x)", ok(r["mlflow_vs_wb"], lambda x: x >= 30)),
            ("  same top-100 runs in both", "yes" if q["same_top_100"] else "NO"),
        ]  # fmt: skip
    if "large" in figures:
        g = figures["large"]
        rows += [
            (
                f"Query {g['runs']:,} runs, p50 ms (< 50)",
                ok(g["p50_ms"], lambda x: x < 50),
            )
        ]
    rows += [("load average at start / end", f"{figures['load_start']} / {figures['load_end']}")]
    for label, value in rows:
        print(f"{label:<56}{value}")


def git_commit() -> str:
    """The commit measured, `+dirty` when workbench/ differs from it (figures would mix code)."""
    git = ["git", "-C", str(Path(__file__).parent), "status", "--porcelain=v2", "--branch"]
    lines = subprocess.run([*git, ":/workbench"], capture_output=True, text=True).stdout.split("\n")
    head = next(line.split()[2][:9] for line in lines if "branch.oid" in line)
    return head + ("+dirty" if any(line[:1] not in ("#", "") for line in lines) else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a minute or two")
    parser.add_argument("--part", choices=("all", "ingest", "query", "team"), default="all")
    parser.add_argument("--team-seconds", type=float, default=60.0, help="the team load's span")
    parser.add_argument("--full", action="store_true", help="log all ingest points to MLflow too")
    parser.add_argument("--mlflow-points", type=int, help="points logged to MLflow (100,000)")
    parser.add_argument("--query-runs", type=int, help="runs in the query benchmark (10,000)")
    parser.add_argument("--large-runs", type=int, help="runs in the large query (100,000)")
    parser.add_argument("--repeat", type=int, default=3, help="ingest repetitions (median)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    args = parser.parse_args(argv)

    quick = Scale(10, mlflow_points=10_000, scalar_calls=20_000, query_runs=1_000, large_runs=10**4)
    s = quick if args.quick else Scale()
    s = replace(s, mlflow_points=s.points if args.full else args.mlflow_points or s.mlflow_points)
    s = replace(s, query_runs=args.query_runs or s.query_runs)
    s = replace(s, large_runs=args.large_runs or s.large_runs)
    figures: Figures = {"scale": asdict(s), "commit": git_commit(), "load_start": load()}
    with tempfile.TemporaryDirectory(prefix="bench-catalogue-") as tmp:
        if args.part in ("all", "ingest"):
            figures["ingest"] = ingest(s, Path(tmp), args.repeat)
        if args.part in ("all", "query"):
            figures["query"] = query(s, Path(tmp))
            figures["large"] = large_query(s, Path(tmp))
        if args.part == "team":  # a Ray cluster of its own: not part of "all"
            from catalogue_team import print_team, team_load

            figures["team"] = team_load(Path(tmp), args.team_seconds)
    figures["load_end"] = load()
    if "team" in figures:
        print_team(figures["team"])
    else:
        report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        log(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
