"""The maintenance pipeline's steps: prepare -> train (Ray Train, DDP) -> evaluate.

Artifacts:
- `train` / `holdout`: one `windows.npz` each with X (n, window, 6) float32, y (n,) float32,
  machine (n,) int64 and the per-sensor `mean` / `std` of the *training* windows.
- `model`: the output directory *is* an MLflow model (pytorch flavor, saved in MLflow's
  default "pt2" format: a `torch.export` program, loaded without unpickling any code).
  It takes raw windows (n, window, 6) float32 and returns failure probabilities (n,).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from predictive_maintenance.data import generate_windows, split_by_machine
from predictive_maintenance.model import (
    FailureNet,
    FailureScorer,
    binary_cross_entropy,
    evaluate_scores,
    train_one_epoch,
)
from workbench.compute.context import StepContext, TrainContext

DATA_FILE = "windows.npz"
CHECKPOINT_FILE = "checkpoint.pt"
HOLDOUT_SHARE = 0.2


@dataclass(frozen=True)
class WindowSet:
    """One of the npz artifacts, loaded."""

    X: np.ndarray
    y: np.ndarray
    machine: np.ndarray
    mean: np.ndarray
    std: np.ndarray


def save_windows(
    directory: Path,
    X: np.ndarray,
    y: np.ndarray,
    machine: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
) -> Path:
    """Write windows + normalisation stats as `windows.npz` in `directory`."""
    path = directory / DATA_FILE
    np.savez(path, X=X, y=y, machine=machine, mean=mean, std=std)
    return path


def load_windows(directory: Path) -> WindowSet:
    """Read a `windows.npz` written by `save_windows`."""
    with np.load(directory / DATA_FILE) as data:
        return WindowSet(
            X=data["X"], y=data["y"], machine=data["machine"], mean=data["mean"], std=data["std"]
        )


def prepare(ctx: StepContext) -> None:
    """Simulate machines, cut windows, split by machine, save with the train set's stats."""
    params = ctx.params
    seed = int(params["seed"])
    windows = generate_windows(
        n_machines=int(params["n_machines"]),
        window=int(params["window"]),
        horizon=int(params["horizon"]),
        seed=seed,
    )
    train_set, holdout_set = split_by_machine(windows, HOLDOUT_SHARE, seed)
    flat = train_set.X.reshape(-1, train_set.X.shape[-1])
    mean, std = flat.mean(axis=0), flat.std(axis=0)
    for name, part in (("train", train_set), ("holdout", holdout_set)):
        save_windows(ctx.output_dir(name), part.X, part.y, part.machine, mean, std)


def train(ctx: TrainContext) -> None:
    """Ray Train per-worker loop: DDP over `resources.workers` workers, resumable.

    Every rank reports loss / val_loss / val_auc / epoch_seconds once per epoch (`step` =
    epoch, from 0);
    rank 0 attaches a checkpoint (model + optimizer state + epoch). After the last epoch
    rank 0 saves the final model, in MLflow format, into the output `model`.
    """
    import ray.train.torch

    params = ctx.params
    seed, epochs = int(params["seed"]), int(params["epochs"])
    torch.manual_seed(seed)
    device = torch.device(ctx.device)
    rank, world_size = ctx.world_rank, ctx.world_size

    train_set = load_windows(ctx.input_dir("train"))
    holdout = load_windows(ctx.input_dir("holdout"))
    net = FailureNet(train_set.mean, train_set.std, hidden=int(params["hidden"]))

    start_epoch, state = 0, None
    checkpoint_dir = ctx.latest_checkpoint()
    if checkpoint_dir is not None:
        state = torch.load(checkpoint_dir / CHECKPOINT_FILE, map_location="cpu")
        net.load_state_dict(state["model"])
        start_epoch = int(state["epoch"]) + 1

    # Moves `net` to the device (in place) and wraps it in DDP when world_size > 1.
    model = ray.train.torch.prepare_model(net)
    optimizer = torch.optim.Adam(model.parameters(), lr=float(params["lr"]))
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])  # after the move: state follows params

    dataset = TensorDataset(torch.from_numpy(train_set.X), torch.from_numpy(train_set.y))
    sampler: DistributedSampler[tuple[torch.Tensor, ...]] = DistributedSampler(
        dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed
    )
    loader = DataLoader(dataset, batch_size=int(params["batch_size"]), sampler=sampler)

    for epoch in range(start_epoch, epochs):
        sampler.set_epoch(epoch)  # a different, seeded shuffle every epoch, same on every rank
        started = time.perf_counter()
        local_loss = train_one_epoch(model, loader, optimizer, device)
        epoch_seconds = time.perf_counter() - started
        loss = _mean_over_workers(local_loss, len(sampler), device)
        # Every rank holds the same weights after DDP's all-reduce: score the holdout locally.
        scores = evaluate_scores(net, holdout.X, device)
        metrics = {
            "loss": loss,
            "val_loss": binary_cross_entropy(holdout.y, scores),
            "val_auc": float(roc_auc_score(holdout.y, scores)),
            "epoch_seconds": epoch_seconds,
        }
        if rank == 0:
            with tempfile.TemporaryDirectory(prefix="maintenance-ckpt-") as tmp:
                checkpoint = {
                    "model": net.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "epoch": epoch,
                }
                torch.save(checkpoint, Path(tmp) / CHECKPOINT_FILE)
                ctx.report(metrics, step=epoch, checkpoint_dir=Path(tmp))
        else:
            ctx.report(metrics, step=epoch, checkpoint_dir=None)

    if rank == 0:
        # MLflow refuses a non-empty target; a retried step may have left one.
        save_model(net, ctx.fresh_output_dir("model"), holdout.X[:5])


def save_model(net: FailureNet, directory: Path, sample: np.ndarray) -> None:
    """Save `net` + sigmoid as an MLflow pytorch model (pt2 format) into `directory`."""
    import mlflow.pytorch
    from mlflow.models import infer_signature

    scorer = FailureScorer(_cpu_copy(net)).eval()  # eval: dropout off in the exported graph
    with torch.no_grad():
        output = scorer(torch.from_numpy(sample)).numpy()
    mlflow.pytorch.save_model(
        scorer,
        str(directory),
        signature=infer_signature(sample, output),
        input_example=sample,  # the "pt2" format traces the model with it
        pip_requirements=[f"{name}=={version(name)}" for name in ("mlflow", "torch", "numpy")],
    )


def evaluate(ctx: StepContext) -> dict[str, float]:
    """AUC and average precision of the saved model on the holdout machines."""
    import mlflow.pytorch

    model = mlflow.pytorch.load_model(str(ctx.input_dir("model")))
    holdout = load_windows(ctx.input_dir("holdout"))
    scores = evaluate_scores(model, holdout.X, "cpu", logits=False)
    return {
        "auc": float(roc_auc_score(holdout.y, scores)),
        "average_precision": float(average_precision_score(holdout.y, scores)),
    }


def _mean_over_workers(local_mean: float, local_count: int, device: torch.device) -> float:
    """The loss averaged over every worker's windows (all-reduce), not just this rank's."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return local_mean
    totals = torch.tensor([local_mean * local_count, float(local_count)], device=device)
    dist.all_reduce(totals)
    return float(totals[0] / totals[1].clamp_min(1.0))


def _cpu_copy(net: FailureNet) -> FailureNet:
    """A CPU copy of `net` with the same architecture and weights."""
    copy = FailureNet(hidden=net.hidden, channels=net.channels)
    copy.load_state_dict({key: value.detach().cpu() for key, value in net.state_dict().items()})
    return copy
