"""Serving benchmark: Workbench against its peers at their best, and releases under load.

--part peers (issue 13, item 6): two models (serving_setup), each served four ways:
  Workbench (`workbench serve` on a `workbench cluster up` cluster: HAProxy ingress, token
  auth, every request logged), bare Ray Serve on the same cluster and ingress, FastAPI on
  uvicorn (one worker), `mlflow models serve --env-manager local`. The forest is served
  with batching on both Serve sides (Workbench's defaults: up to 32, 1 ms wait; bare Serve's
  `@serve.batch` with the same); the LogisticRegression without (Workbench
  --max-batch-size 1, a plain bare deployment). Per server: a correctness probe (20 rows
  against the model's own predictions), warm-up, `taskset -c 1 wrk -t1 -c1` (p50/p99) and
  `-c32` (requests/s), the probe again. wrk's Lua script counts non-2xx answers and bodies
  that differ from the probed one; a server with any error or a failed probe scores 0
  requests/s for that run. --repeats runs (the Serve sides on one cluster), one JSON per run.
--part releases (item 4): see serving_releases.py.

    flock /tmp/bench.lock python benchmarks/bench_serving.py --part peers \
        --out benchmarks/results/serving-2026-12-02
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving_peers import (  # noqa: E402  (the benchmarks folder is not a package)
    bare_serve,
    mlflow_server,
    stop_process,
    uvicorn_server,
    wrk,
    wrk_script,
)
from serving_setup import (  # noqa: E402
    ROOT,
    BenchModel,
    ProbeFailed,
    cli,
    deploy,
    load_average,
    probe,
    train_models,
    wait_ready,
)

JSON_HEADERS = {"Content-Type": "application/json"}


def log(message: str) -> None:
    """Progress on stderr."""
    print(message, file=sys.stderr, flush=True)


def measure(server: str, model: BenchModel, url: str, headers: dict[str, str],
            seconds: float) -> dict[str, Any]:  # fmt: skip
    """Probe, load at c=1 and c=32, probe again; a server with any error scores zero."""
    log(f"== {server} / {model.name}: {url}")
    wait_ready(url, model.body, headers)
    row: dict[str, Any] = {"server": server, "model": model.name, "load_avg": load_average()}
    try:
        expected = probe(url, model, headers)
    except ProbeFailed as failed:
        log(f"   probe failed: {failed}")
        return {**row, "probe": str(failed), "p50_ms_c1": None, "p99_ms_c1": None,
                "rps_c32": 0.0, "rps_c32_raw": 0.0, "errors": None}  # fmt: skip
    script = wrk_script(model.body, headers, [expected])
    try:
        wrk(url, script, 8, 3)  # warm-up, then a quiet second so queues drain
        time.sleep(1)
        wrk(url, script, 1, 3)
        c1 = wrk(url, script, 1, seconds)
        c32 = wrk(url, script, 32, seconds)
    finally:
        script.unlink()
    errors = {key: c1[key] + c32[key] for key in ("non_2xx", "wrong_body", "socket_errors")}
    try:
        probe(url, model, headers)
        row["probe"] = "ok"
    except ProbeFailed as failed:
        row["probe"] = f"after load: {failed}"
    failed_run = row["probe"] != "ok" or any(errors.values())
    row.update(p50_ms_c1=c1["p50_ms"], p99_ms_c1=c1["p99_ms"], rps_c32_raw=c32["rps"],
               rps_c32=0.0 if failed_run else c32["rps"], requests=c1["requests"] + c32["requests"],
               errors=errors)  # fmt: skip
    log(f"   p50 {c1['p50_ms']:.2f} ms, p99 {c1['p99_ms']:.2f} ms, {c32['rps']:.0f} req/s, "
        f"errors {errors}, probe {row['probe']}")  # fmt: skip
    return row


def peers_runs(home: Path, models: dict[str, BenchModel], args: argparse.Namespace
               ) -> list[list[dict[str, Any]]]:  # fmt: skip
    """Each repeat's rows: the Serve sides on one cluster (deploying takes minutes on a busy
    machine), repeat after repeat; then uvicorn and mlflow alone, a fresh process each time."""
    forest, lr = models["forest"], models["lr"]
    runs: list[list[dict[str, Any]]] = [[] for _ in range(args.repeats)]
    cli(home, "cluster", "up", "--cpus", "2")
    try:
        wb_forest = deploy(home, "fraud:1")
        wb_lr = deploy(home, "fraud_lr:1", "--max-batch-size", "1")
        bare = bare_serve(home, {"forest": (forest.model_dir, 32, 0.001),
                                 "lr": (lr.model_dir, 1, 0.0)})  # fmt: skip
        time.sleep(args.settle)  # a fresh cluster's agents keep a core busy for a while
        for rows in runs:
            rows.append(
                measure("bare ray serve", forest, bare["forest"], JSON_HEADERS, args.seconds)
            )
            rows.append(measure("workbench", forest, *wb_forest, args.seconds))
            rows.append(measure("bare ray serve", lr, bare["lr"], JSON_HEADERS, args.seconds))
            rows.append(measure("workbench", lr, *wb_lr, args.seconds))
    finally:
        cli(home, "cluster", "down")
    for rows in runs:
        for server, starter in (
            ("uvicorn", uvicorn_server),
            ("mlflow models serve", mlflow_server),
        ):
            for model in (forest, lr):
                process, url = starter(model.model_dir)
                try:
                    rows.append(measure(server, model, url, JSON_HEADERS, args.seconds))
                finally:
                    stop_process(process)
    return runs


def summarise(runs: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """Median and range per (model, server) over the runs, and the targets on the medians."""
    table: dict[str, dict[str, Any]] = {}
    for row in (row for run in runs for row in run):
        entry = table.setdefault(f"{row['model']} | {row['server']}", {"rps": [], "p50": []})
        entry["rps"].append(row["rps_c32"])
        entry["p50"].append(row["p50_ms_c1"] if row["p50_ms_c1"] is not None else float("nan"))
    for entry in table.values():
        for key in ("rps", "p50"):
            entry[f"{key}_median"] = statistics.median(entry[key])
            entry[f"{key}_range"] = [min(entry[key]), max(entry[key])]

    def rps(model: str, server: str) -> float:
        return float(table[f"{model} | {server}"]["rps_median"])

    def ratio(a: float, b: float) -> float:
        return a / b if b else float("inf")

    lr_p50 = table["fraud_lr | workbench"]["p50_median"] - table["fraud_lr | uvicorn"]["p50_median"]
    targets = [
        ("forest: workbench / bare serve (batched) req/s", ratio(rps("fraud", "workbench"),
         rps("fraud", "bare ray serve")), ">=", 1.2),
        ("forest: workbench / mlflow models serve req/s", ratio(rps("fraud", "workbench"),
         rps("fraud", "mlflow models serve")), ">=", 10.0),
        ("lr: workbench / uvicorn req/s", ratio(rps("fraud_lr", "workbench"),
         rps("fraud_lr", "uvicorn")), ">=", 0.9),
        ("lr: workbench p50 - uvicorn p50, ms", lr_p50, "<=", 1.0),
        ("lr: workbench / mlflow models serve req/s", ratio(rps("fraud_lr", "workbench"),
         rps("fraud_lr", "mlflow models serve")), ">=", 10.0),
        ("lr: workbench / bare serve (plain) req/s", ratio(rps("fraud_lr", "workbench"),
         rps("fraud_lr", "bare ray serve")), "info", 0.0),
    ]  # fmt: skip
    checked = [{"target": name, "value": value, "op": op, "bound": bound,
                "met": None if op == "info" else (value >= bound if op == ">=" else value <= bound)}
               for name, value, op, bound in targets]  # fmt: skip
    return {"servers": table, "targets": checked}


def print_summary(summary: dict[str, Any]) -> None:
    """The median/range table and the target ratios."""
    print(f"{'model | server':<38} {'req/s c=32 median [range]':>30} "
          f"{'p50 c=1 ms median [range]':>30}")  # fmt: skip
    for key, entry in summary["servers"].items():
        rps_lo, rps_hi = entry["rps_range"]
        p50_lo, p50_hi = entry["p50_range"]
        print(f"{key:<38} {entry['rps_median']:>9.0f} [{rps_lo:.0f}-{rps_hi:.0f}]".ljust(70)
              + f"{entry['p50_median']:>8.2f} [{p50_lo:.2f}-{p50_hi:.2f}]")  # fmt: skip
    for target in summary["targets"]:
        verdict = {True: "met", False: "MISSED", None: ""}[target["met"]]
        bound = f"{target['op']} {target['bound']:g}"
        print(f"{target['target']}: {target['value']:.2f} ({bound}) {verdict}")


def provenance() -> dict[str, Any]:
    """When, at which commit, with which workbench/ files uncommitted, under which load."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()

    return {"date": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": git("rev-parse", "HEAD"),
            "dirty_workbench": git("status", "--short", "--", "workbench").splitlines(),
            "load_avg_start": load_average()}  # fmt: skip


def main() -> None:
    """Parse arguments and run the chosen part."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["peers", "releases"], default="peers")
    parser.add_argument("--trees", type=int, default=20, help="forest size of the fraud model")
    parser.add_argument("--seconds", type=float, default=8, help="wrk duration per figure")
    parser.add_argument("--settle", type=int, default=20, help="seconds to wait after deploying")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, help="write each run's JSON and the summary here")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    work = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    home = work / "home"
    log(f"training the models ({args.trees} trees) in {work}")
    models = train_models(home, work, args.trees, second_forest=args.part == "releases")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    try:
        if args.part == "releases":
            from serving_releases import run_releases

            document = {**provenance(), **run_releases(home, models)}
            print(json.dumps(document["summary"], indent=2))
            if args.out:
                (args.out / "releases.json").write_text(json.dumps(document, indent=2))
            return
        started = provenance()
        runs = peers_runs(home, models, args)
        for index, rows in enumerate(runs, start=1):
            if args.out:
                document = {**started, "run": index, "trees": args.trees, "seconds": args.seconds,
                            "load_avg_end": load_average(), "rows": rows}  # fmt: skip
                (args.out / f"peers-run{index}.json").write_text(json.dumps(document, indent=2))
        summary = summarise(runs)
        print_summary(summary)
        if args.out:
            (args.out / "peers-summary.json").write_text(json.dumps(summary, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
