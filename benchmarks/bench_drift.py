"""Drift benchmark: `workbench drift check` against Evidently's DataDriftPreset, same methods.

Data (seeded, written once as Parquet under --scratch): a reference of 1,000,000 rows and a
current window of 100,000 rows, 50 numeric features (normal, lognormal, uniform, integer with
ties) and 10 categorical (string levels, 5-50 each, Zipf-skewed). In the current window 10
numeric features are shifted by 0.2-0.5 reference sd and 3 categorical ones re-weighted; the
rest come from the same distributions. Both tools: normed Wasserstein for numeric, Jensen-Shannon
for categorical, threshold 0.1, dataset drift at a drifted share of 0.5.

Each repeat runs both tools as child processes (Evidently, then Workbench), timed whole: start,
imports, reading the Parquet files, the check, printing the result. Peak memory is each child's
own max RSS (`os.wait4` in a small wrapper process, the kernel's high-water mark); the process
tree's summed RSS, polled every 20 ms, is kept beside it. Every response is checked: the
drifted set is the shifted set, the dataset verdict, and the two tools' per-feature statistics
agree within 1e-3.

Evidently 0.7.23 does not import with pandas 3, so it gets its own venv (--venv, made once with
`python -m venv` and pip). One untimed warm-up per tool on a small copy of the data first.

    python benchmarks/bench_drift.py --repeats 3 --json benchmarks/results/drift-DATE/drift.json
    python benchmarks/bench_drift.py --rows-scale 0.05   # self-check: 1-2 minutes, checks pass

At --rows-scale 0.01 (1,000 current rows) sampling noise drifts the unshifted num_44 past 0.1
in both tools, so that scale's checks fail.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVIDENTLY = "evidently==0.7.23"
SEED = 12
REFERENCE_ROWS, CURRENT_ROWS = 1_000_000, 100_000
NUMERIC, LEVELS = 50, (5, 8, 10, 12, 15, 20, 25, 30, 40, 50)
SHIFTED_NUMERIC = {5 * j: 0.2 + j * 0.3 / 9 for j in range(10)}  # feature index -> shift in sd
SHIFTED_CATEGORICAL = (1, 4, 8)
THRESHOLD, DRIFT_SHARE, TOLERANCE = 0.1, 0.5, 1e-3
TOOLS = ("evidently", "workbench")
WINDOW_ROWS = 3_600_000  # the last hour of a deployment serving 1,000 requests/s
WORKBENCH_METHODS = ["--numeric-method", "wasserstein", "--categorical-method", "jensenshannon",
                     "--threshold", str(THRESHOLD), "--drift-share", str(DRIFT_SHARE)]  # fmt: skip


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def numeric_name(index: int) -> str:
    return f"num_{index:02d}"


def categorical_name(index: int) -> str:
    return f"cat_{index}"


@dataclass(frozen=True)
class DataFiles:
    """The two Parquet files and what is known about them."""

    reference: Path
    current: Path
    numeric: list[str]
    categorical: list[str]
    shifted: list[str]
    reference_rows: int
    current_rows: int
    arrow_bytes: int
    parquet_bytes: int


def generate_data(folder: Path, scale: float) -> DataFiles:
    """Write reference.parquet and current.parquet into `folder` (reused if already there)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ref_rows, cur_rows = int(REFERENCE_ROWS * scale), int(CURRENT_ROWS * scale)
    numeric = [numeric_name(i) for i in range(NUMERIC)]
    categorical = [categorical_name(c) for c in range(len(LEVELS))]
    shifted = [numeric_name(i) for i in SHIFTED_NUMERIC]
    shifted += [categorical_name(c) for c in SHIFTED_CATEGORICAL]
    reference, current = folder / "reference.parquet", folder / "current.parquet"
    if not (reference.exists() and current.exists()):
        folder.mkdir(parents=True, exist_ok=True)
        columns = draw_columns(ref_rows, cur_rows, SEED)
        for path, side in ((reference, 0), (current, 1)):
            table = pa.table({name: pa.array(pair[side]) for name, pair in columns.items()})
            pq.write_table(table, path.with_suffix(".tmp"))
            path.with_suffix(".tmp").rename(path)
    arrow_bytes = sum(pq.read_table(path).nbytes for path in (reference, current))
    return DataFiles(reference, current, numeric, categorical, shifted,
                     pq.read_metadata(reference).num_rows, pq.read_metadata(current).num_rows,
                     arrow_bytes, reference.stat().st_size + current.stat().st_size)  # fmt: skip


def draw_columns(ref_rows: int, cur_rows: int, seed: int) -> dict[str, tuple[Any, Any]]:
    """Reference and current draws of every feature, the current one shifted where planned;
    categorical values as numpy arrays of str objects (one object per level)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    columns: dict[str, tuple[Any, Any]] = {}
    for i in range(NUMERIC):
        ref, cur, sd = _numeric_column(rng, i, ref_rows, cur_rows)
        shift = SHIFTED_NUMERIC.get(i, 0.0) * sd
        columns[numeric_name(i)] = (ref, cur + (round(shift) if i % 4 == 3 else shift))
    for c, count in enumerate(LEVELS):
        names = np.array([f"c{c}_L{k:02d}" for k in range(count)], dtype=object)
        p = 1 / np.arange(1, count + 1) ** 1.1
        q = p * np.exp(-np.linspace(0, 1.5, count)[::-1]) if c in SHIFTED_CATEGORICAL else p
        ref = rng.choice(count, size=ref_rows, p=p / p.sum())
        cur = rng.choice(count, size=cur_rows, p=q / q.sum())
        columns[categorical_name(c)] = (names[ref], names[cur])
    return columns


def _numeric_column(rng: Any, i: int, ref_rows: int, cur_rows: int) -> tuple[Any, Any, float]:
    """Reference and current draws of numeric feature `i` and the distribution's sd."""
    import numpy as np

    kind = i % 4
    if kind == 0:
        loc, scale = i * 1.5 - 10, 1.0 + i % 7
        draw, sd = (lambda n: rng.normal(loc, scale, n)), scale
    elif kind == 1:
        mu, sigma = 0.5 + (i % 5) * 0.2, 0.4 + (i % 3) * 0.2
        draw = lambda n: rng.lognormal(mu, sigma, n)  # noqa: E731
        sd = float(np.sqrt((np.exp(sigma**2) - 1) * np.exp(2 * mu + sigma**2)))
    elif kind == 2:
        low, width = -float(i), 2.0 + i % 9
        draw, sd = (lambda n: rng.uniform(low, low + width, n)), width / np.sqrt(12)
    else:
        lam = 20.0 + i
        draw, sd = (lambda n: rng.poisson(lam, n).astype(np.float64)), float(np.sqrt(lam))
    return draw(ref_rows), draw(cur_rows), float(sd)


@dataclass
class Sample:
    """One timed child process: wall time, its own max RSS, the polled tree peak."""

    wall_s: float
    max_rss_bytes: int
    tree_peak_bytes: int
    returncode: int


# Runs the command as its child and reports its wall time and own max RSS (`os.wait4`). A
# child forked from this big harness would inherit its high-water mark; one forked from this
# small wrapper starts from the wrapper's few MiB.
WRAPPER = """import json, os, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - start
report = {"wall_s": wall, "rc": os.waitstatus_to_exitcode(status), "max_rss_kib": usage.ru_maxrss}
open(sys.argv[1], "w").write(json.dumps(report))
"""


def run_measured(command: list[str], out: Path, env: dict[str, str] | None = None) -> Sample:
    """Run `command` with stdout to `out` (stderr beside it); time it and read its peak memory."""
    import psutil

    peak = [0]
    done = threading.Event()
    report = out.with_suffix(".rusage")
    wrapped = [sys.executable, "-c", WRAPPER, str(report), *command]
    with out.open("wb") as stdout, out.with_suffix(".stderr").open("wb") as stderr:
        wrapper = subprocess.Popen(wrapped, stdout=stdout, stderr=stderr, env=env, cwd=ROOT)

        def poll() -> None:  # the command's process tree, the wrapper left out
            try:
                root = psutil.Process(wrapper.pid)
                while not done.wait(0.02):
                    peak[0] = max(peak[0], sum(_rss(p) for p in root.children(recursive=True)))
            except psutil.NoSuchProcess:
                pass

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        wrapper.wait()
        done.set()
    poller.join()
    if wrapper.returncode != 0:
        raise SystemExit(f"measuring wrapper exited {wrapper.returncode}: {command}")
    measured = json.loads(report.read_text())
    return Sample(measured["wall_s"], measured["max_rss_kib"] * 1024, peak[0], measured["rc"])


def _rss(process: Any) -> int:
    try:
        return int(process.memory_info().rss)
    except Exception:  # the process ended between listing and reading: it holds nothing now
        return 0


@dataclass(frozen=True)
class Verdict:
    """What one tool said: per-feature statistic and drift flag, and the dataset verdict."""

    values: dict[str, float]
    drifted: set[str]
    dataset_drift: bool


def ensure_venv(venv: Path) -> Path:
    """The Evidently venv's python, making the venv (once) if it is not there."""
    python = venv / "bin" / "python"
    if not python.exists():
        log(f"making {venv} ({EVIDENTLY}, pandas<3) ...")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", EVIDENTLY, "pandas<3", "pyarrow"]
        subprocess.run(pip, check=True, stderr=subprocess.DEVNULL)
    return python


def evidently_command(python: Path, data: DataFiles) -> list[str]:
    spec = {"reference": str(data.reference), "current": str(data.current),
            "numeric": data.numeric, "categorical": data.categorical}  # fmt: skip
    return [str(python), str(Path(__file__).resolve()), "--evidently-child", json.dumps(spec)]


def evidently_child(spec_json: str) -> int:
    """In the Evidently venv: read both files, run DataDriftPreset, print the result as JSON."""
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    spec = json.loads(spec_json)
    definition = DataDefinition(numerical_columns=spec["numeric"],
                                categorical_columns=spec["categorical"])  # fmt: skip
    reference, current = (
        Dataset.from_pandas(pd.read_parquet(spec[side]), data_definition=definition)
        for side in ("reference", "current")
    )
    preset = DataDriftPreset(num_method="wasserstein", cat_method="jensenshannon",
                             num_threshold=THRESHOLD, cat_threshold=THRESHOLD,
                             drift_share=DRIFT_SHARE)  # fmt: skip
    result = Report([preset], include_tests=True).run(current, reference).dict()
    values = {m["config"]["column"]: m["value"] for m in result["metrics"]
              if m["config"]["type"].endswith("ValueDrift")}  # fmt: skip
    tests = {t["metric_config"]["params"].get("column", "dataset"): t["status"] == "FAIL"
             for t in result["tests"]}  # fmt: skip
    print(json.dumps({"values": values, "drift": tests}))
    return 0


def parse_evidently(text: str) -> Verdict:
    payload = json.loads(text)
    drift = payload["drift"]
    drifted = {name for name, flag in drift.items() if flag and name != "dataset"}
    return Verdict({k: float(v) for k, v in payload["values"].items()}, drifted, drift["dataset"])


def workbench_command(data: DataFiles) -> list[str]:
    """The real CLI from this interpreter's environment (no shell shim in front of it)."""
    executable = Path(sys.executable).parent / "workbench"
    return [str(executable), "drift", "check", "--reference", str(data.reference),
            "--current", str(data.current), *WORKBENCH_METHODS, "--json"]  # fmt: skip


def parse_workbench(text: str) -> Verdict:
    """`drift check --json`: per feature its status and every statistic; its method's is read."""
    payload = json.loads(text)
    features = payload["features"]
    values = {f["feature"]: float(f["statistics"][f["method"]]["value"]) for f in features}
    drifted = {f["feature"] for f in features if f["status"] == "drift"}
    return Verdict(values, drifted, bool(payload["drifted"]))


@dataclass
class Contender:
    """One tool: how to run it, how to read it, and what it measured."""

    name: str
    command: list[str]
    parse: Any
    env: dict[str, str] | None = None
    samples: list[Sample] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)

    def run(self, out: Path) -> None:
        sample = run_measured(self.command, out, self.env)
        if sample.returncode != 0:
            tail = out.with_suffix(".stderr").read_text()[-2000:]
            raise SystemExit(f"{self.name} exited {sample.returncode}:\n{tail}")
        self.samples.append(sample)
        self.verdicts.append(self.parse(out.read_text()))
        log(f"  {self.name}: {sample.wall_s:.2f} s, max RSS {sample.max_rss_bytes / 2**30:.2f} GiB"
            f" (tree {sample.tree_peak_bytes / 2**30:.2f} GiB)")  # fmt: skip


def check(data: DataFiles, contenders: list[Contender]) -> list[str]:
    """Every response against the truth and the two tools against each other; the failures."""
    failures: list[str] = []
    expected = set(data.shifted)
    for tool in contenders:
        for repeat, verdict in enumerate(tool.verdicts, 1):
            missing = sorted(expected - verdict.drifted)
            extra = sorted(verdict.drifted - expected)
            if missing or extra:
                failures.append(f"{tool.name} #{repeat}: missed {missing}, flagged {extra}")
            if verdict.dataset_drift != (len(expected) / len(verdict.values) >= DRIFT_SHARE):
                failures.append(f"{tool.name} #{repeat}: dataset verdict {verdict.dataset_drift}")
            if set(verdict.values) != set(data.numeric + data.categorical):
                failures.append(f"{tool.name} #{repeat}: features {sorted(verdict.values)}")
    theirs, ours = contenders[0].verdicts[-1].values, contenders[1].verdicts[-1].values
    for name in sorted(set(theirs) & set(ours)):
        if abs(theirs[name] - ours[name]) > TOLERANCE:
            failures.append(f"{name}: Evidently {theirs[name]:.6f}, Workbench {ours[name]:.6f}")
    return failures


def differences(contenders: list[Contender]) -> dict[str, float]:
    """Largest |Evidently - Workbench| per method family, over every feature."""
    theirs, ours = contenders[0].verdicts[-1].values, contenders[1].verdicts[-1].values
    out: dict[str, float] = {}
    for name in set(theirs) & set(ours):
        family = "wasserstein" if name.startswith("num_") else "jensenshannon"
        out[family] = max(out.get(family, 0.0), abs(theirs[name] - ours[name]))
    return out


def spread(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def print_table(evidently: Contender, workbench: Contender) -> dict[str, Any]:
    """The table (time, memory, ratios, targets) to stdout; returns the same figures."""
    times = [spread([s.wall_s for s in c.samples]) for c in (evidently, workbench)]
    memory = [spread([s.max_rss_bytes / 2**30 for s in c.samples]) for c in (evidently, workbench)]
    speedup, memory_ratio = times[0][0] / times[1][0], memory[1][0] / memory[0][0]
    rows = [
        ["measure", "Evidently", "Workbench", "ratio", "target", ""],
        ["wall time, s", *(f"{m:.2f} ({lo:.2f}-{hi:.2f})" for m, lo, hi in times),
         f"{speedup:.1f}x faster", ">= 20x", "met" if speedup >= 20 else "MISSED"],
        ["peak RSS, GiB", *(f"{m:.2f} ({lo:.2f}-{hi:.2f})" for m, lo, hi in memory),
         f"{memory_ratio:.2f}x", "<= 0.5x", "met" if memory_ratio <= 0.5 else "MISSED"],
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))

    def named(figures: list[tuple[float, float, float]]) -> dict[str, dict[str, float]]:
        keys = ("median", "min", "max")
        return {t: dict(zip(keys, f, strict=True)) for t, f in zip(TOOLS, figures, strict=True)}

    return {"time_ratio": speedup, "memory_ratio": memory_ratio, "time_s": named(times),
            "peak_rss_gib": named(memory)}  # fmt: skip


def scheduled_window_check(args: argparse.Namespace, data: DataFiles) -> dict[str, Any]:
    """The check a deployment's schedule runs, over its last hour at 1,000 req/s (3.6M rows).

    A catalogue with version bench:1 (profiled from the reference file), deployment `bench`
    and 3.6M served rows of the current distribution in `request_rows` (3,600 requests of
    1,000 rows, spread over the last 50 minutes so that the hour still holds them all when
    the timed checks run). Timed: `workbench drift check bench:1 --window 1h --deployment
    bench --json` as a process, and in process `services.drift.check_model`, the call the
    scheduler's tick makes on the cluster (there with its imports warm).
    """
    import shutil
    from datetime import timedelta

    from workbench.catalogue.catalogue import utcnow
    from workbench.catalogue.deployments import DeploymentLedger
    from workbench.catalogue.models import ModelLedger
    from workbench.core.deployments import DeploymentSpec, RequestRecord, VersionEntry
    from workbench.core.settings import load_settings
    from workbench.owner import open_catalogue
    from workbench.services.drift import ConfigOverrides, check_model, profile_model

    rows, requests = int(WINDOW_ROWS * args.rows_scale), 3_600
    per_request = rows // requests
    home = args.scratch / "window-home"
    shutil.rmtree(home, ignore_errors=True)
    settings = load_settings(home)
    log(f"scheduled window: {requests * per_request:,} served rows ...")
    with open_catalogue(settings) as catalogue:
        run_id = catalogue.create_run("bench")
        catalogue.finish_run(run_id)
        ModelLedger(catalogue).register(
            "bench", run_id=run_id, uri=str(home), sha256="0" * 64, flavor="pyfunc",
            signature=None, gate={"passed": True},
        )  # fmt: skip
        spec = DeploymentSpec("bench", str(home), "/bench", "http://127.0.0.1:8000/bench",
                              versions=(VersionEntry("bench", 1, str(home)),))  # fmt: skip
        DeploymentLedger(catalogue).record(spec, "running", action="deploy", reason="benchmark")
    profile_model(settings, "bench:1", data.reference)
    window = {name: pair[1] for name, pair in draw_columns(0, rows, SEED + 1).items()}
    start = utcnow() - timedelta(minutes=50)
    with open_catalogue(settings) as catalogue:
        ledger = DeploymentLedger(catalogue)
        for first in range(0, requests, 60):
            ledger.log_requests("bench", [
                RequestRecord(f"r{k}", start + timedelta(seconds=k * 3000 / requests), 1, 200, 1.0,
                              None, None, columns={n: c[k * per_request:(k + 1) * per_request]
                                                   for n, c in window.items()},
                              predictions=[0.0] * per_request)
                for k in range(first, first + 60)])  # fmt: skip
        catalogue.backend.sync()
    del window
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    command = [str(Path(sys.executable).parent / "workbench"), "drift", "check", "bench:1",
               "--window", "1h", "--deployment", "bench", "--json"]  # fmt: skip
    cli = Contender("Workbench scheduled window, CLI", command, parse_workbench, env)
    in_process: list[float] = []
    failures: list[str] = []
    for repeat in range(args.repeats):
        cli.run(args.scratch / f"window-{repeat}.out")
        payload = json.loads((args.scratch / f"window-{repeat}.out").read_text())
        if payload["current_rows"] != requests * per_request:
            failures.append(f"CLI #{repeat + 1}: {payload['current_rows']} rows in the window")
        began = time.perf_counter()
        outcome = check_model(settings, "bench:1", ConfigOverrides(), now=utcnow(),
                              window=timedelta(hours=1), deployment="bench")  # fmt: skip
        in_process.append(time.perf_counter() - began)
        log(f"  in process: {in_process[-1]:.2f} s")
        report = outcome.report
        if set(report.drifted_features()) != set(data.shifted) or report.drifted:
            failures.append(f"in process #{repeat + 1}: drifted {report.drifted_features()}")
        if report.current_rows != requests * per_request:
            failures.append(f"in process #{repeat + 1}: {report.current_rows} rows")
    for repeat, verdict in enumerate(cli.verdicts, 1):
        if verdict.drifted != set(data.shifted) or verdict.dataset_drift:
            failures.append(f"CLI #{repeat}: drifted {sorted(verdict.drifted)}")
    return {"rows": requests * per_request, "command": command,
            "cli": [asdict(sample) for sample in cli.samples], "in_process_s": in_process,
            "failures": failures}  # fmt: skip


def versions(python: Path) -> dict[str, str]:
    code = "import evidently, pandas, numpy, scipy; print(evidently.__version__, pandas.__version__, numpy.__version__, scipy.__version__)"  # noqa: E501
    names = ("evidently", "pandas", "numpy", "scipy")
    found = subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True)
    return dict(zip(names, found.stdout.split(), strict=True))


def workbench_tree() -> dict[str, Any]:
    """The commit measured and the files under workbench/ that differed from it."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    status = subprocess.run([*git, "status", "--porcelain", "workbench"], capture_output=True,
                            text=True).stdout  # fmt: skip
    return {"commit": head.strip(), "uncommitted": status.splitlines()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per tool (>= 3)")
    parser.add_argument("--rows-scale", type=float, default=1.0, help="0.05 for a self-check")
    parts = ("all", "compare", "scheduled")
    parser.add_argument("--part", choices=parts, default="all", help="compare: with Evidently")
    parser.add_argument("--scratch", type=Path, default=ROOT / ".bench" / "drift")
    parser.add_argument("--venv", type=Path, default=ROOT / ".bench" / "venv-evidently")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    parser.add_argument("--evidently-child", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.evidently_child:
        return evidently_child(args.evidently_child)
    if args.repeats < 3:
        parser.error("--repeats must be at least 3")
    load_before = os.getloadavg()
    log("data ...")
    data = generate_data(args.scratch / f"data-{args.rows_scale:g}", args.rows_scale)
    size = f"Arrow {data.arrow_bytes / 2**30:.2f} GiB, Parquet {data.parquet_bytes / 2**20:.0f} MiB"
    log(f"  {data.reference_rows:,} + {data.current_rows:,} rows, {size}")
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "rows_scale": args.rows_scale,
        "data": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(data).items()},
        "memory_measure": "child's os.wait4 ru_maxrss via a wrapper; tree: psutil, 20 ms",
        "workbench_tree": workbench_tree(),
    }
    failures: list[str] = []
    if args.part in ("all", "compare"):
        result["compare"] = compare_tools(args, data)
        failures += result["compare"]["failures"]
    if args.part in ("all", "scheduled"):
        result["scheduled"] = scheduled_window_check(args, data)
        failures += result["scheduled"]["failures"]
        window = result["scheduled"]
        cli = spread([sample["wall_s"] for sample in window["cli"]])
        warm = spread(window["in_process_s"])
        print(f"scheduled window, {window['rows']:,} rows (target < 10 s): CLI {cli[0]:.2f} s "
              f"({cli[1]:.2f}-{cli[2]:.2f}), in process {warm[0]:.2f} s "
              f"({warm[1]:.2f}-{warm[2]:.2f})")  # fmt: skip
    if workbench_tree() != result["workbench_tree"]:
        failures.append(f"workbench/ changed during the run: now {workbench_tree()}")
    print(f"checks: {'all passed' if not failures else f'{len(failures)} FAILED'}")
    for failure in failures:
        print(f"  FAILED {failure}")
    result["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(),
                         "python": platform.python_version(),
                         "load_average_before_after": [load_before, os.getloadavg()]}  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        log(f"figures written to {args.json}")
    return 1 if failures else 0


def compare_tools(args: argparse.Namespace, data: DataFiles) -> dict[str, Any]:
    """Workbench and Evidently on the same files, alternating, each response checked."""
    python = ensure_venv(args.venv)
    env = {**os.environ, "WORKBENCH_HOME": str(args.scratch / "home")}
    warm = generate_data(args.scratch / "data-0.01", 0.01)
    contenders = [
        Contender("Evidently", evidently_command(python, data), parse_evidently),
        Contender("Workbench", workbench_command(data), parse_workbench, env),
    ]
    warm_commands = (evidently_command(python, warm), workbench_command(warm))
    for tool, command in zip(contenders, warm_commands, strict=True):
        log(f"warm-up {tool.name} (untimed, 1% data) ...")
        Contender(tool.name, command, tool.parse, tool.env).run(args.scratch / "warmup.out")
    for repeat in range(args.repeats):
        log(f"repeat {repeat + 1}/{args.repeats} ...")
        for tool in contenders:
            tool.run(args.scratch / f"{tool.name.lower()}-{repeat}.out")
    figures = print_table(*contenders)
    print(f"largest |Evidently - Workbench|: {differences(contenders)}")
    return {
        "peer_versions": versions(python),
        "commands": {tool.name: tool.command for tool in contenders},
        "samples": {tool.name: [asdict(s) for s in tool.samples] for tool in contenders},
        "statistics": {tool.name: tool.verdicts[-1].values for tool in contenders},
        "largest_difference": differences(contenders),
        "failures": check(data, contenders),
        **figures,
    }


if __name__ == "__main__":
    sys.exit(main())
