"""Training benchmark: Workbench against plain Ray Train and plain Ray Tune, side by side.

1. Training: the predictive_maintenance project through `run_pipeline` (2 workers) against
   the same loop on a plain `ray.train` TorchTrainer (same data files, params, checkpoints,
   final model save): median `epoch_seconds` (training only, as the project times it; epoch
   0 left out when there are more than 2), epoch cycle (report to report) and fit wall time.
2. Sweep: Tune trials doing fixed CPU work, plain and with what a Workbench trial adds (a
   child run in the catalogue, a metric logged per iteration).

Both sides get an untimed warm-up, then run --repeats times in alternating order on one
embedded Ray (2 CPUs). Files (Workbench homes too; WORKBENCH_HOME is never read) go under a
temporary directory. Progress goes to stderr; the table to stdout (and to --json FILE).

    python benchmarks/bench_training.py --quick          # a few minutes on an idle machine
    python benchmarks/bench_training.py --json out.json  # default sizes; use an idle machine
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import timeit
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from workbench.catalogue.pipelines import PipelineLedger
from workbench.core.settings import load_settings
from workbench.core.spec import load_spec, resolve_params
from workbench.owner import open_catalogue, stop_owner
from workbench.services.pipeline import RunRequest, run_pipeline

PROJECT = Path(__file__).resolve().parents[1] / "sample_projects" / "predictive_maintenance"
TARGET_RATIO, TARGET_OVERHEAD = 1.05, 0.01
SORT_SIZE = 200_000  # one unit of sweep work: sorting this many floats
SIDES = ("plain", "workbench")
Figures = dict[str, Any]


@dataclass(frozen=True)
class Scale:
    n_machines: int = 400
    epochs: int = 6
    batch_size: int = 64
    repeats: int = 2
    trials: int = 50
    iterations: int = 10
    work_ms: float = 75.0  # CPU work per sweep iteration (calibrated once on this machine)


QUICK = Scale(n_machines=150, epochs=3, repeats=1, trials=8)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def order(repeat: int) -> tuple[str, str]:
    """plain first on even repeats, Workbench first on odd ones: drift cancels out."""
    return SIDES if repeat % 2 == 0 else SIDES[::-1]


def gaps(stamps: list[float]) -> list[float]:
    return [b - a for a, b in zip(stamps, stamps[1:], strict=False)]


def windows_digest(*dirs: str) -> str:
    """Digest of the arrays in `windows.npz` files (the files' own bytes carry zip timestamps)."""
    digest = hashlib.sha256()
    for directory in dirs:
        with np.load(Path(directory) / "windows.npz") as data:
            for key in sorted(data.files):
                digest.update(data[key].tobytes())
    return digest.hexdigest()[:16]


# -- training -----------------------------------------------------------------------------------


class Quiet:
    def run_started(self, *args: object) -> None: ...
    def step_started(self, *args: object) -> None: ...
    def step_finished(self, *args: object) -> None: ...


def workbench_fit(home: Path, overrides: dict[str, str]) -> Figures:
    """One `run_pipeline` in a fresh home (a reused one would serve `train` from its cache)."""
    settings = load_settings(home)
    run_id = run_pipeline(settings, RunRequest(PROJECT, overrides, workers=2), Quiet()).run_id
    try:
        with open_catalogue(settings) as catalogue:
            history = catalogue.metric_history(run_id, "epoch_seconds").to_pylist()
            auc = catalogue.metric_history(run_id, "val_auc").column("value").to_pylist()[-1]
            train = next(s for s in PipelineLedger(catalogue).steps(run_id) if s["step"] == "train")
            rows = catalogue.sql(f"SELECT path, uri FROM artifacts WHERE run_id = '{run_id}'")
    finally:
        stop_owner(settings)
    return {
        "epoch_s": [row["value"] for row in history],
        "cycle_s": gaps([row["timestamp"].timestamp() for row in history]),
        "fit_s": (train["ended_at"] - train["started_at"]).total_seconds(),
        "val_auc": auc,
        "artifacts": {row["path"]: row["uri"] for row in rows.to_pylist()},
    }


def plain_train_loop(config: dict[str, Any]) -> None:
    """The project's `train` step written against plain `ray.train` (no Workbench API).

    Resuming from a checkpoint, which no run here does, is left out. Rank 0 writes its
    per-epoch figures to the JSON file `config["figures"]` at the end.
    """
    import ray.train
    import ray.train.torch
    import torch
    from sklearn.metrics import roc_auc_score
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

    sys.path.insert(0, config["project_dir"])
    from predictive_maintenance import model as pm
    from predictive_maintenance import steps

    params = config["params"]
    seed, epochs = int(params["seed"]), int(params["epochs"])
    torch.manual_seed(seed)
    device = ray.train.torch.get_device()
    context = ray.train.get_context()
    rank, world_size = context.get_world_rank(), context.get_world_size()
    train_set = steps.load_windows(Path(config["train"]))
    holdout = steps.load_windows(Path(config["holdout"]))
    net = pm.FailureNet(train_set.mean, train_set.std, hidden=int(params["hidden"]))
    model = ray.train.torch.prepare_model(net)
    optimizer = torch.optim.Adam(model.parameters(), lr=float(params["lr"]))
    dataset = TensorDataset(torch.from_numpy(train_set.X), torch.from_numpy(train_set.y))
    sampler: DistributedSampler[Any] = DistributedSampler(
        dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed
    )
    loader = DataLoader(dataset, batch_size=int(params["batch_size"]), sampler=sampler)

    figures: dict[str, Any] = {"epoch_s": [], "reported_at": []}
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        started = time.perf_counter()
        local_loss = pm.train_one_epoch(model, loader, optimizer, device)
        epoch_seconds = time.perf_counter() - started
        loss = steps._mean_over_workers(local_loss, len(sampler), device)
        scores = pm.evaluate_scores(net, holdout.X, device)
        metrics = {
            "loss": loss,
            "val_loss": pm.binary_cross_entropy(holdout.y, scores),
            "val_auc": float(roc_auc_score(holdout.y, scores)),
            "epoch_seconds": epoch_seconds,
        }
        if rank == 0:
            with tempfile.TemporaryDirectory(prefix="plain-ckpt-") as tmp:
                state = {"model": net.state_dict(), "optimizer": optimizer.state_dict()}
                torch.save({**state, "epoch": epoch}, Path(tmp) / steps.CHECKPOINT_FILE)
                figures["epoch_s"].append(epoch_seconds)
                figures["reported_at"].append(time.time())  # where Workbench stamps metrics
                checkpoint = ray.train.Checkpoint.from_directory(tmp)
                ray.train.report({**metrics, "step": epoch}, checkpoint=checkpoint)
        else:
            ray.train.report({**metrics, "step": epoch})
    if rank == 0:
        steps.save_model(net, Path(config["model_dir"]), holdout.X[:5])
        figures["val_auc"] = metrics["val_auc"]
        Path(config["figures"]).write_text(json.dumps(figures))


def plain_fit(storage: Path, params: dict[str, Any], data: dict[str, str]) -> Figures:
    """TorchTrainer as Workbench builds it (2 workers, 1 CPU each), on `plain_train_loop`."""
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    (storage / "model").mkdir(parents=True)
    figures_file = storage / "figures.json"
    started = time.perf_counter()
    TorchTrainer(
        train_loop_per_worker=plain_train_loop,
        train_loop_config={"params": params, "project_dir": str(PROJECT), **data,
                           "model_dir": str(storage / "model"), "figures": str(figures_file)},
        scaling_config=ScalingConfig(num_workers=2, use_gpu=False),
        run_config=RunConfig(name="plain", storage_path=str(storage),
                             failure_config=FailureConfig(max_failures=3),
                             checkpoint_config=CheckpointConfig(num_to_keep=2)),
    ).fit()  # fmt: skip
    fit_s = time.perf_counter() - started
    out = json.loads(figures_file.read_text())
    cycles = gaps(out["reported_at"])
    return {"epoch_s": out["epoch_s"], "cycle_s": cycles, "fit_s": fit_s, "val_auc": out["val_auc"]}


def training(s: Scale, tmp: Path) -> Figures:
    overrides = {"n_machines": str(s.n_machines), "epochs": str(s.epochs)}
    overrides["batch_size"] = str(s.batch_size)
    params = resolve_params(load_spec(PROJECT), overrides)
    log(f"training warm-up, 1 epoch each side (Workbench's prepares the data): {overrides}")
    warm = workbench_fit(tmp / "wb-warm-up", {**overrides, "epochs": "1"})
    data = {name: warm["artifacts"][name] for name in ("train", "holdout")}
    digest = windows_digest(data["train"], data["holdout"])
    plain_fit(tmp / "plain-warm-up", {**params, "epochs": 1}, data)
    runs: dict[str, list[Figures]] = {side: [] for side in SIDES}
    skip = 1 if s.epochs > 2 else 0  # epoch 0 is a warm-up
    for i in range(s.repeats):
        for side in order(i):
            if side == "plain":
                run = plain_fit(tmp / f"plain-{i}", params, data)
            else:
                run = workbench_fit(tmp / f"wb-{i}", overrides)
                own = run.pop("artifacts")
                if windows_digest(own["train"], own["holdout"]) != digest:
                    raise RuntimeError("the Workbench run prepared different data")
            runs[side].append(run)
            epoch, fit = median(run["epoch_s"][skip:]), run["fit_s"]
            log(f"training {i + 1}/{s.repeats} {side}: epoch {epoch:.3f} s, fit {fit:.1f} s")
    f: Figures = {"params": params, "data_digest": digest, "runs": runs}
    for side, done in runs.items():
        f[side] = {
            "epoch_s": median([x for r in done for x in r["epoch_s"][skip:]]),
            "cycle_s": median([x for r in done for x in r["cycle_s"]]),
            "fit_s": median([r["fit_s"] for r in done]),
            "val_auc": median([r["val_auc"] for r in done]),
        }
    for key in ("epoch_s", "cycle_s", "fit_s"):
        f[f"{key}_ratio"] = f["workbench"][key] / f["plain"][key]
    f["target_met"] = f["epoch_s_ratio"] <= TARGET_RATIO
    return f


# -- sweep --------------------------------------------------------------------------------------


def busy(units: int, data: np.ndarray) -> float:
    """Fixed CPU work: `units` sorts of `data`; returns a number derived from them."""
    return sum(float(np.sort(data)[len(data) // 2]) for _ in range(units)) / units


def sweep_trial(
    config: dict[str, Any], *, units: int, iterations: int, home: str | None, parent: str | None
) -> None:
    """A Tune trial; with `home`, also what a Workbench trial adds: importing the catalogue
    client (plain trials never import Workbench), a child run and a metric per iteration."""
    from ray import tune

    catalogue, run_id = None, ""
    if home is not None:
        from workbench import owner
        from workbench.core import settings

        catalogue = owner.open_catalogue(settings.load_settings(home))
        run_id = catalogue.create_run("bench_sweep", params=config, parent_run_id=parent,
                                      kind="trial")  # fmt: skip
    data = np.random.default_rng(int(config["x"] * 1e6)).random(SORT_SIZE)
    for i in range(iterations):
        score = busy(units, data) * config["x"]
        if catalogue is not None:
            catalogue.log_metric(run_id, "score", score, step=i)
        tune.report({"score": score})
    if catalogue is not None:
        catalogue.finish_run(run_id)
        catalogue.close()


def sweep_fit(s: Scale, units: int, storage: Path, home: Path | None = None) -> float:
    """Seconds of `Tuner(...).fit()`: `s.trials` trials, 2 at a time, 1 CPU each."""
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    parent = None
    if home is not None:  # the owner actor starts, and the parent run is made, off the clock
        with open_catalogue(load_settings(home)) as catalogue:
            parent = catalogue.create_run("bench_sweep", kind="sweep")
    trial = tune.with_parameters(sweep_trial, units=units, iterations=s.iterations,
                                 home=str(home) if home else None, parent=parent)  # fmt: skip
    started = time.perf_counter()
    grid = tune.Tuner(
        tune.with_resources(trial, {"cpu": 1}),
        param_space={"x": tune.uniform(0.5, 1.5)},
        tune_config=tune.TuneConfig(num_samples=s.trials, max_concurrent_trials=2,
                                    search_alg=BasicVariantGenerator(random_state=0)),
        run_config=tune.RunConfig(name="sweep", storage_path=str(storage), verbose=0),
    ).fit()  # fmt: skip
    elapsed = time.perf_counter() - started
    if grid.num_errors:
        raise RuntimeError(f"{grid.num_errors} sweep trials failed: {grid.errors[0]}")
    if home is not None:
        with open_catalogue(load_settings(home)) as catalogue:
            where = f"parent_run_id = '{parent}' AND status = 'finished'"
            finished = len(catalogue.search_runs(where=where, limit=10_000))
            catalogue.finish_run(str(parent))
        if finished != s.trials:
            raise RuntimeError(f"{finished} of {s.trials} trial runs finished in the catalogue")
    return elapsed


def sweep(s: Scale, tmp: Path) -> Figures:
    data = np.random.default_rng(0).random(SORT_SIZE)
    unit_ms = 1e3 * min(timeit.repeat(lambda: busy(1, data), number=1, repeat=20))
    units = max(1, round(s.work_ms / unit_ms))
    log(f"sweep: {s.trials} trials x {s.iterations} iterations x {units} sorts of {unit_ms:.2f} ms")
    home = tmp / "wb-sweep"
    walls: dict[str, list[float]] = {side: [] for side in SIDES}
    try:
        warm = replace(s, trials=2, iterations=1)
        sweep_fit(warm, units, tmp / "tune-warm-up-plain")
        sweep_fit(warm, units, tmp / "tune-warm-up-workbench", home)
        for i in range(s.repeats):
            for side in order(i):
                storage = tmp / f"tune-{side}-{i}"
                walls[side].append(sweep_fit(s, units, storage, home if side != "plain" else None))
                log(f"sweep {i + 1}/{s.repeats} {side}: {walls[side][-1]:.2f} s")
    finally:
        stop_owner(load_settings(home))
    f: Figures = {"units": units, "unit_ms": unit_ms, "walls_s": walls}
    f["plain_s"], f["workbench_s"] = median(walls["plain"]), median(walls["workbench"])
    f["overhead"] = (f["workbench_s"] - f["plain_s"]) / f["plain_s"]
    f["per_trial_ms"] = 1e3 * (f["workbench_s"] - f["plain_s"]) * 2 / s.trials  # 2 at a time
    f["target_met"] = f["overhead"] <= TARGET_OVERHEAD
    return f


# -- main ---------------------------------------------------------------------------------------


def report(s: Scale, t: Figures | None, w: Figures | None) -> None:
    def ok(met: bool) -> str:
        return "  ok" if met else "  MISSED"

    rows: list[tuple[str, str]] = []
    if t is not None:
        plain, wb = t["plain"], t["workbench"]
        epochs = "epochs 1+" if s.epochs > 2 else "all epochs"
        rows += [
            (f"Training: predictive_maintenance, n_machines={s.n_machines}, epochs={s.epochs}, "
             f"batch_size={s.batch_size}, 2 workers, {s.repeats} repeat(s)", ""),
            (f"plain Ray Train, median epoch_seconds ({epochs})", f"{plain['epoch_s']:.3f} s"),
            (f"Workbench, median epoch_seconds ({epochs})", f"{wb['epoch_s']:.3f} s"),
            (f"Workbench / plain epoch time (target <= {TARGET_RATIO})",
             f"{t['epoch_s_ratio']:.3f}x" + ok(t["target_met"])),
            ("plain, median epoch cycle (report to report)", f"{plain['cycle_s']:.3f} s"),
            ("Workbench, median epoch cycle (report to report)", f"{wb['cycle_s']:.3f} s"),
            ("Workbench / plain epoch cycle", f"{t['cycle_s_ratio']:.3f}x"),
            ("plain, TorchTrainer build + fit wall, median", f"{plain['fit_s']:.2f} s"),
            ("Workbench, train step wall (pipeline_runs), median", f"{wb['fit_s']:.2f} s"),
            ("Workbench / plain fit wall", f"{t['fit_s_ratio']:.3f}x"),
            ("final val_auc, plain / Workbench", f"{plain['val_auc']:.4f} / {wb['val_auc']:.4f}"),
        ]  # fmt: skip
    if w is not None:
        rows += [
            (f"Sweep: {s.trials} trials x {s.iterations} iterations of ~{s.work_ms:.0f} ms "
             f"CPU work, 2 concurrent, 1 CPU each, {s.repeats} repeat(s)", ""),
            ("plain Tune, Tuner.fit wall, median", f"{w['plain_s']:.2f} s"),
            ("with Workbench catalogue logging, median", f"{w['workbench_s']:.2f} s"),
            ("extra wall per trial (x 2 concurrent)", f"{w['per_trial_ms']:+.0f} ms"),
            (f"overhead (target <= {TARGET_OVERHEAD:.0%})",
             f"{w['overhead']:+.2%}" + ok(w["target_met"])),
        ]  # fmt: skip
    for label, value in rows:
        print(f"  {label:<52}{value}" if value else label)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 repeat")
    parser.add_argument("--repeats", type=int, help="runs of each side, alternating (2)")
    parser.add_argument("--trials", type=int, help="trials per sweep (50)")
    parser.add_argument("--only", choices=["training", "sweep"], help="run one part only")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    args = parser.parse_args(argv)

    s = QUICK if args.quick else Scale()
    s = replace(s, repeats=args.repeats or s.repeats, trials=args.trials or s.trials)
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # keep Tune's progress tables out
    import ray

    t = w = None
    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        ray.init(address="local", num_cpus=2, include_dashboard=False, namespace="workbench",
                 logging_level=logging.ERROR, log_to_driver=False)  # fmt: skip
        try:
            with contextlib.redirect_stdout(sys.stderr):  # stdout is for the table
                if args.only != "sweep":
                    t = training(s, Path(tmp))
                if args.only != "training":
                    w = sweep(s, Path(tmp))
        finally:
            ray.shutdown()
    report(s, t, w)
    if args.json:
        figures = {"scale": asdict(s), "training": t, "sweep": w}
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
        log(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
