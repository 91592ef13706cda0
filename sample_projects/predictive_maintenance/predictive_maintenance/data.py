"""Simulated machines that degrade and fail, sliced into labelled sensor windows.

Each machine runs for a while and then fails (or, for a few, is still running when
observation stops: censored). Six sensors have per-machine baselines and noise. Some time
before failure a degradation process starts; its health index h goes 0 -> 1 with an
accelerating curve and pushes the sensors:

- vibration rises (x up to ~2.5) and grows spikier,
- temperature climbs by up to ~12 degrees,
- pressure sags, rpm drops and wobbles,
- current gets noisier (its mean barely moves),
- the acoustic level rises with more frequent bursts.

Windows of `window` timesteps are cut every `stride` steps; a window is labelled 1 when
the machine fails within `horizon` steps after its end. Machines differ in baselines, in
how long they degrade and in how strongly, so some windows are ambiguous: a good model
reaches an AUC around 0.9, not 1.0. Split by machine (`split_by_machine`) so no machine's
windows land on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SENSORS = ("vibration", "temperature", "pressure", "rpm", "current", "acoustic")
CENSORED_SHARE = 0.15  # machines still running when observation stops


@dataclass(frozen=True)
class Windows:
    """Labelled sensor windows: X (n, window, 6) float32, y (n,) float32, machine (n,) int64."""

    X: np.ndarray
    y: np.ndarray
    machine: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, mask: np.ndarray) -> Windows:
        """The windows selected by a boolean mask or index array."""
        return Windows(self.X[mask], self.y[mask], self.machine[mask])


def simulate_sensors(
    n_machines: int, seed: int = 7, min_life: int = 100, max_life: int = 240
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sensor series for every machine, on a common time grid.

    Returns (series (n_machines, T, 6) float32, observed length per machine (int64),
    failure time per machine (int64; beyond the observed length for censored machines)).
    Timesteps at or past a machine's observed length are zeros and must not be used.
    """
    rng = np.random.default_rng(seed)
    failure = rng.integers(min_life, max_life + 1, n_machines)
    censored = rng.random(n_machines) < CENSORED_SHARE
    # A censored machine stops being observed well before it would fail.
    observed = np.where(censored, failure - rng.integers(30, 120, n_machines), failure)
    observed = np.maximum(observed, min_life // 2)
    duration = rng.integers(30, 160, n_machines)  # how long degradation takes
    severity = rng.uniform(0.2, 1.2, n_machines)  # how strongly it shows in the sensors
    steps = int(observed.max())
    t = np.arange(steps)[None, :]

    onset = (failure - duration)[:, None]
    progress = np.clip((t - onset) / duration[:, None], 0.0, 1.0)
    health = (progress**2) * severity[:, None]  # (machines, T): 0 healthy .. ~1 failing

    def baseline(mean: float, spread: float) -> np.ndarray:
        return rng.normal(mean, spread, (n_machines, 1))

    def noise(scale: float | np.ndarray) -> np.ndarray:
        return rng.standard_normal((n_machines, steps)) * scale

    shape = (n_machines, steps)
    ambient = 3.0 * np.sin(2 * np.pi * (t + rng.uniform(0, 48, (n_machines, 1))) / 48.0)
    vibration = baseline(1.0, 0.15) * (1.0 + 1.5 * health) + noise(0.08 + 0.25 * health)
    vibration += (rng.random(shape) < 0.02 + 0.15 * health) * rng.exponential(0.6, shape)
    temperature = baseline(65.0, 4.0) + ambient + 12.0 * health + noise(0.8)
    pressure = baseline(5.0, 0.3) - 0.8 * health + noise(0.05)
    rpm = baseline(1500.0, 40.0) - 60.0 * health + noise(6.0 + 30.0 * health)
    current = baseline(12.0, 1.0) + 0.3 * health + noise(0.2 + 1.2 * health)
    acoustic = baseline(60.0, 3.0) + 6.0 * health + noise(1.0)
    acoustic += (rng.random(shape) < 0.01 + 0.2 * health) * rng.exponential(4.0, shape)

    series = np.stack([vibration, temperature, pressure, rpm, current, acoustic], axis=-1)
    series[t[0][None, :] >= observed[:, None]] = 0.0
    return series.astype(np.float32), observed.astype(np.int64), failure.astype(np.int64)


def generate_windows(
    n_machines: int = 400, window: int = 50, horizon: int = 20, seed: int = 7, stride: int = 5
) -> Windows:
    """Simulate `n_machines` machines and cut labelled windows (see the module docstring)."""
    if window < 2 or horizon < 1 or stride < 1 or n_machines < 1:
        raise ValueError("need window >= 2, horizon >= 1, stride >= 1, n_machines >= 1")
    series, observed, failure = simulate_sensors(
        n_machines, seed=seed, min_life=max(100, window + 2 * horizon)
    )
    # Window ends (exclusive) every `stride` steps, from `window` up to the observed length;
    # the last end is aligned on the failure so every failing machine has a window right
    # before it fails.
    offsets = np.arange(0, int(observed.max()), stride)
    ends = observed[:, None] - offsets[None, :]
    valid = ends >= window
    machine, column = np.nonzero(valid)
    end = ends[machine, column]
    steps = end[:, None] - window + np.arange(window)[None, :]
    X = series[machine[:, None], steps]
    steps_to_failure = failure[machine] - end
    y = (steps_to_failure <= horizon).astype(np.float32)
    return Windows(X=X, y=y, machine=machine.astype(np.int64))


def split_by_machine(
    windows: Windows, holdout_share: float = 0.2, seed: int = 7
) -> tuple[Windows, Windows]:
    """(train, holdout): a seeded share of machines goes wholly to holdout."""
    rng = np.random.default_rng([seed, 1])
    machines = np.unique(windows.machine)
    n_holdout = max(1, round(holdout_share * len(machines)))
    holdout_machines = rng.choice(machines, size=n_holdout, replace=False)
    in_holdout = np.isin(windows.machine, holdout_machines)
    return windows.subset(~in_holdout), windows.subset(in_holdout)
