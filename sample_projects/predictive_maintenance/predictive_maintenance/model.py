"""A small 1D-CNN over sensor windows, and pure training helpers (usable without Ray).

`FailureNet` takes raw windows (batch, window, 6), normalises them with the training
set's per-sensor mean and std (stored as buffers, so the saved model needs nothing else),
convolves over time, pools and returns one logit per window. `FailureScorer` wraps it with
a sigmoid: the model Workbench saves and serves returns failure probabilities.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

N_SENSORS = 6


class FailureNet(nn.Module):
    """Conv1d x3 over time, mean+max pooling, an MLP head; ~32k parameters at hidden=64."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        mean: np.ndarray | None = None,
        std: np.ndarray | None = None,
        hidden: int = 64,
        channels: int = 32,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.hidden, self.channels = hidden, channels
        mean_t = torch.zeros(N_SENSORS) if mean is None else torch.as_tensor(mean).float()
        std_t = torch.ones(N_SENSORS) if std is None else torch.as_tensor(std).float()
        self.register_buffer("mean", mean_t.reshape(1, 1, N_SENSORS))
        self.register_buffer("std", std_t.clamp_min(1e-6).reshape(1, 1, N_SENSORS))
        self.features = nn.Sequential(
            nn.Conv1d(N_SENSORS, channels, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.Conv1d(channels, 2 * channels, kernel_size=5, padding=2, stride=2),
            nn.ReLU(),
            nn.Conv1d(2 * channels, 2 * channels, kernel_size=3, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Sequential(
            nn.Linear(4 * channels, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (batch,) for raw windows (batch, window, 6)."""
        x = ((x - self.mean) / self.std).transpose(1, 2)  # -> (batch, sensors, time)
        h = self.features(x)
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
        return self.head(pooled).squeeze(1)


class FailureScorer(nn.Module):
    """`FailureNet` + sigmoid: probability that the machine fails within the horizon."""

    def __init__(self, net: FailureNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(x))


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def train_one_epoch(
    model: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    device: str | torch.device,
    pos_weight: float | None = None,
) -> float:
    """One pass over `loader` (batches of (X, y)); returns the mean training loss per window."""
    weight = None if pos_weight is None else torch.tensor(pos_weight, device=device)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=weight)
    model.train()
    total, count = 0.0, 0
    for X, y in loader:
        X, y = X.to(device), y.to(device)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(y)
        count += len(y)
    return total / max(count, 1)


@torch.no_grad()
def evaluate_scores(
    model: nn.Module | Callable[[torch.Tensor], torch.Tensor],
    X: np.ndarray,
    device: str | torch.device,
    batch_size: int = 2048,
    logits: bool = True,
) -> np.ndarray:
    """Failure probabilities for windows `X` (n, window, 6), computed in batches.

    `model` returns logits (a `FailureNet`), or probabilities when `logits=False` (a
    `FailureScorer`, or the exported program MLflow loads back).
    """
    if isinstance(model, nn.Module) and not isinstance(model, torch.fx.GraphModule):
        model.eval()  # an exported program is always in eval mode and refuses .eval()
    scores = []
    for start in range(0, len(X), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(X[start : start + batch_size])).to(device)
        out = model(batch)
        scores.append((torch.sigmoid(out) if logits else out).float().cpu().numpy())
    return np.concatenate(scores) if scores else np.zeros(0, dtype=np.float32)


@torch.no_grad()
def evaluate_loss(
    model: nn.Module, X: np.ndarray, y: np.ndarray, device: str | torch.device
) -> float:
    """Mean binary cross-entropy of `model` (returning logits) on windows `X`, labels `y`."""
    return binary_cross_entropy(y, evaluate_scores(model, X, device))


def binary_cross_entropy(y: np.ndarray, scores: np.ndarray) -> float:
    """Mean binary cross-entropy of probabilities `scores` against labels `y`."""
    p = scores.astype(np.float64).clip(1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
