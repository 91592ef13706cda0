"""Training benchmark: Workbench against plain Ray Train and plain Ray Tune, side by side.

1. Training: the predictive_maintenance project through `run_pipeline` (2 workers) against
   the same loop on a plain `ray.train` TorchTrainer (same data files, params, checkpoints,
   final model save). Judged on the epoch cycle: report to report, stamped at the same point
   of the loop on both sides, so Workbench's side holds everything it adds per epoch (metrics
   to the catalogue and its flush, checkpoint metadata, the report). Fit: the driver's wall
   around the training step on both sides (building the trainer, fit, and on Workbench's
   side what the pipeline does around the step). `epoch_seconds` (training only) is shown.
2. Sweep: `workbench sweep`'s own code path (services.sweep.run_sweep: a child run per trial,
   each a whole pipeline run) against plain Ray Tune running the same trials (same search
   space and seed, so the same lr values) with a plain TorchTrainer and the same evaluation.

Both sides get an untimed warm-up, then run --repeats times in alternating order (W, R, R,
W, ...) on one embedded Ray (2 CPUs); each figure is the median over repeats, with the range.
Files (Workbench homes too; WORKBENCH_HOME is never read) go under a temporary directory.
Progress goes to stderr; the table to stdout (and to --json FILE), with the load averages.

    python benchmarks/bench_training.py --quick          # several minutes
    python benchmarks/bench_training.py --json out.json  # default sizes, most of an hour
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
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.settings import load_settings
from workbench.core.spec import load_spec, resolve_params
from workbench.owner import open_catalogue, stop_owner
from workbench.services.pipeline import RunRequest, run_pipeline

PROJECT = Path(__file__).resolve().parents[1] / "sample_projects" / "predictive_maintenance"
TARGET_RATIO, TARGET_OVERHEAD = 1.05, 0.01
SIDES = ("workbench", "plain")
LR_SPACE = (5e-4, 5e-3)  # the sweep's search space: lr=loguniform(...)
Figures = dict[str, Any]


@dataclass(frozen=True)
class Scale:
    n_machines: int = 400
    epochs: int = 6
    batch_size: int = 64
    repeats: int = 5
    trials: int = 3
    sweep_epochs: int = 2


QUICK = Scale(n_machines=150, epochs=3, repeats=1, trials=2, sweep_epochs=1)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def order(repeat: int) -> tuple[str, str]:
    """Workbench first on even repeats, plain first on odd ones: drift cancels out."""
    return SIDES if repeat % 2 == 0 else SIDES[::-1]


def spread(values: list[float]) -> Figures:
    """Median and range over repeats."""
    return {"median": median(values), "min": min(values), "max": max(values)}


def load() -> list[float]:
    """`uptime`'s load averages (the machine is shared)."""
    return [round(value, 2) for value in os.getloadavg()]


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


class StepClock:
    """Pipeline events: the driver's wall around each step (what `workbench run` prints)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._started = 0.0

    def run_started(self, *args: object) -> None: ...

    def step_started(self, *args: object) -> None:
        self._started = time.perf_counter()

    def step_finished(self, step: Any, status: str, seconds: float) -> None:
        self.seconds[step.name] = time.perf_counter() - self._started


def workbench_fit(home: Path, overrides: dict[str, str]) -> Figures:
    """One `run_pipeline` in a fresh home (a reused one would serve `train` from its cache)."""
    settings = load_settings(home)
    clock = StepClock()
    run_id = run_pipeline(settings, RunRequest(PROJECT, overrides, workers=2), clock).run_id
    try:
        with open_catalogue(settings) as catalogue:
            history = catalogue.metric_history(run_id, "epoch_seconds").to_pylist()
            auc = catalogue.metric_history(run_id, "val_auc").column("value").to_pylist()[-1]
            rows = catalogue.sql(f"SELECT path, uri FROM artifacts WHERE run_id = '{run_id}'")
    finally:
        stop_owner(settings)
    return {
        "epoch_s": [row["value"] for row in history],
        "cycle_s": gaps([row["timestamp"].timestamp() for row in history]),
        "fit_s": clock.seconds["train"],
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
            run |= {"epoch_median_s": median(run["epoch_s"][skip:]), "load": load()}
            run["cycle_median_s"] = median(run["cycle_s"][skip:])  # the first follows epoch 0
            runs[side].append(run)
            cycle, fit = run["cycle_median_s"], run["fit_s"]
            log(f"training {i + 1}/{s.repeats} {side}: cycle {cycle:.3f} s, fit {fit:.1f} s")
    f: Figures = {"params": params, "data_digest": digest, "runs": runs}
    for key in ("cycle_median_s", "epoch_median_s", "fit_s", "val_auc"):
        for side in SIDES:
            f.setdefault(side, {})[key] = spread([r[key] for r in runs[side]])
        ratios = [w[key] / p[key] for w, p in zip(runs["workbench"], runs["plain"], strict=True)]
        f[f"{key}_ratio"] = spread(ratios)  # each repeat's pair, then the median and range
    f["target_met"] = f["cycle_median_s_ratio"]["median"] <= TARGET_RATIO
    return f


# -- sweep --------------------------------------------------------------------------------------


def sweep_items(s: Scale) -> dict[str, str]:
    """`workbench sweep --param` items: the data and epochs fixed, lr searched."""
    fixed = {"n_machines": s.n_machines, "epochs": s.sweep_epochs, "batch_size": s.batch_size}
    return {k: str(v) for k, v in fixed.items()} | {
        "lr": f"loguniform({LR_SPACE[0]}, {LR_SPACE[1]})"
    }


def workbench_sweep(home: Path, s: Scale, seed: int, trials: int) -> Figures:
    """`workbench sweep` as the CLI runs it (services.sweep.run_sweep), timed around the call."""
    from workbench.services.sweep import SweepRequest, run_sweep

    request = SweepRequest(PROJECT, sweep_items(s), trials, concurrency=1, seed=seed)
    started = time.perf_counter()
    result = run_sweep(load_settings(home), request)
    wall = time.perf_counter() - started
    lrs = sorted(float(t["config"]["lr"]) for t in result.trials)
    aucs = [float(t["metrics"]["auc"]) for t in result.trials]
    return {"wall_s": wall, "lrs": lrs, "best_auc": max(aucs), "trial_run_ids": [
        t["run_id"] for t in result.trials]}  # fmt: skip


def plain_trial(config: dict[str, Any], *, params: dict[str, Any], data: dict[str, str],
                storage: str) -> None:  # fmt: skip
    """One plain Tune trial: the project's training on a plain TorchTrainer, then its AUC."""
    import mlflow.pytorch
    from ray import tune
    from sklearn.metrics import roc_auc_score

    sys.path.insert(0, str(PROJECT))
    from predictive_maintenance import model as pm
    from predictive_maintenance import steps

    trial_dir = Path(storage) / uuid.uuid4().hex
    plain_fit(trial_dir, {**params, **config}, data)
    net = mlflow.pytorch.load_model(str(trial_dir / "model"))
    holdout = steps.load_windows(Path(data["holdout"]))
    scores = pm.evaluate_scores(net, holdout.X, "cpu", logits=False)
    tune.report({"auc": float(roc_auc_score(holdout.y, scores))})


def plain_sweep(storage: Path, s: Scale, seed: int, trials: int, data: dict[str, str]) -> Figures:
    """Plain Ray Tune over the same space, seed and concurrency as `workbench sweep`."""
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    fixed = {k: v for k, v in sweep_items(s).items() if k != "lr"}
    params = resolve_params(load_spec(PROJECT), fixed)
    trial = tune.with_parameters(plain_trial, params=params, data=data, storage=str(storage))
    started = time.perf_counter()
    grid = tune.Tuner(
        # As Workbench's trials: no CPU held by the trial (the trainer asks for every CPU).
        tune.with_resources(trial, tune.PlacementGroupFactory([{}, {"memory": 1}])),
        param_space={"lr": tune.loguniform(*LR_SPACE)},
        tune_config=tune.TuneConfig(num_samples=trials, max_concurrent_trials=1,
                                    search_alg=BasicVariantGenerator(random_state=seed,
                                                                     max_concurrent=1)),
        run_config=tune.RunConfig(name="tune", storage_path=str(storage), verbose=0),
    ).fit()  # fmt: skip
    if grid.num_errors:
        raise RuntimeError(f"{grid.num_errors} plain trials failed: {grid.errors[0]}")
    results = [(grid[i].metrics or {}, grid[i].config or {}) for i in range(len(grid))]
    best_auc = max(float(metrics["auc"]) for metrics, _ in results)  # what the sweep picks
    wall = time.perf_counter() - started
    return {"wall_s": wall, "lrs": sorted(float(config["lr"]) for _, config in results),
            "best_auc": best_auc}  # fmt: skip


def sweep(s: Scale, tmp: Path) -> Figures:
    log(f"sweep: {s.trials} trials of {s.sweep_epochs} epochs each, lr=loguniform{LR_SPACE}")
    home = tmp / "wb-sweep"
    runs: dict[str, list[Figures]] = {side: [] for side in SIDES}
    try:
        warm = workbench_sweep(home, s, 1000, 1)  # prepares (then caches) the data
        with open_catalogue(load_settings(home)) as catalogue:
            rows = catalogue.sql(
                f"SELECT path, uri FROM artifacts WHERE run_id = '{warm['trial_run_ids'][0]}'"
            ).to_pylist()
        data = {row["path"]: row["uri"] for row in rows if row["path"] in ("train", "holdout")}
        plain_sweep(tmp / "tune-warm-up", s, 1000, 1, data)
        for i in range(s.repeats):  # a new seed per repeat: same lr values on both sides, and
            for side in order(i):  # none that Workbench's step cache has seen before
                if side == "plain":
                    run = plain_sweep(tmp / f"tune-{i}", s, i, s.trials, data)
                else:
                    run = workbench_sweep(home, s, i, s.trials)
                runs[side].append(run | {"load": load()})
                log(f"sweep {i + 1}/{s.repeats} {side}: {run['wall_s']:.2f} s, load {load()}")
            if runs["plain"][-1]["lrs"] != runs["workbench"][-1]["lrs"]:
                raise RuntimeError("the two sweeps sampled different trials")
    finally:
        stop_owner(load_settings(home))
    overheads = [w["wall_s"] / p["wall_s"] - 1 for w, p in zip(runs["workbench"], runs["plain"],
                                                                strict=True)]  # fmt: skip
    f: Figures = {"runs": runs, "overhead": spread(overheads)}
    for side in SIDES:
        f[side] = spread([r["wall_s"] for r in runs[side]])
    f["target_met"] = f["overhead"]["median"] <= TARGET_OVERHEAD
    return f


# -- main ---------------------------------------------------------------------------------------


def report(s: Scale, t: Figures | None, w: Figures | None) -> None:
    def ranged(x: Figures, fmt: str = ".3f") -> str:
        return f"{x['median']:{fmt}} ({x['min']:{fmt}} - {x['max']:{fmt}})"

    def ok(met: bool) -> str:
        return "  ok" if met else "  MISSED"

    rows: list[tuple[str, str]] = []
    if t is not None:
        plain, wb = t["plain"], t["workbench"]
        rows += [
            (f"Training: predictive_maintenance, n_machines={s.n_machines}, epochs={s.epochs}, "
             f"batch_size={s.batch_size}, 2 workers, {s.repeats} repeats; median (range)", ""),
            ("plain Ray Train, epoch cycle (report to report)", ranged(plain["cycle_median_s"])),
            ("Workbench, epoch cycle (report to report)", ranged(wb["cycle_median_s"])),
            (f"Workbench / plain epoch cycle (target <= {TARGET_RATIO})",
             ranged(t["cycle_median_s_ratio"]) + ok(t["target_met"])),
            ("plain, epoch_seconds (training only)", ranged(plain["epoch_median_s"])),
            ("Workbench, epoch_seconds (training only)", ranged(wb["epoch_median_s"])),
            ("Workbench / plain epoch_seconds", ranged(t["epoch_median_s_ratio"])),
            ("plain, train step wall (build + fit)", ranged(plain["fit_s"], ".2f")),
            ("Workbench, train step wall (pipeline step)", ranged(wb["fit_s"], ".2f")),
            ("Workbench / plain train step wall", ranged(t["fit_s_ratio"])),
            ("final val_auc, plain / Workbench",
             f"{plain['val_auc']['median']:.4f} / {wb['val_auc']['median']:.4f}"),
        ]  # fmt: skip
    if w is not None:
        rows += [
            (f"Sweep: {s.trials} trials of {s.sweep_epochs} epochs, 1 at a time, "
             f"{s.repeats} repeats; median (range)", ""),
            ("plain Ray Tune + TorchTrainer, wall", ranged(w["plain"], ".2f")),
            ("workbench sweep (services.sweep.run_sweep), wall", ranged(w["workbench"], ".2f")),
            (f"overhead (target <= {TARGET_OVERHEAD:.0%}, on the median)",
             ranged(w["overhead"], "+.2%") + ok(w["target_met"])),
        ]  # fmt: skip
    for label, value in rows:
        print(f"  {label:<52}{value}" if value else label)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 repeat")
    parser.add_argument("--repeats", type=int, help="runs of each side, alternating (5)")
    parser.add_argument("--trials", type=int, help="trials per sweep (3)")
    parser.add_argument("--only", choices=["training", "sweep"], help="run one part only")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    args = parser.parse_args(argv)

    s = QUICK if args.quick else Scale()
    s = replace(s, repeats=args.repeats or s.repeats, trials=args.trials or s.trials)
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # keep Tune's progress tables out
    import ray

    t = w = None
    started = load()
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
        figures = {
            "scale": asdict(s),
            "training": t,
            "sweep": w,
            "load_start_end": [started, load()],
        }
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
        log(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
