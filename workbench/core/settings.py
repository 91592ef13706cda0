"""Where Workbench keeps its files; one place that reads the environment."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CATALOGUE_FILE = "catalogue.duckdb"
OWNER_FILE = "catalogue.owner.json"
# The Ray namespace of everything Workbench names on a cluster (the catalogue owner, jobs).
RAY_NAMESPACE = "workbench"


@dataclass(frozen=True)
class Settings:
    """Resolved locations. `home` comes from WORKBENCH_HOME or the platform's user data dir."""

    home: Path
    may_join_ray: bool = True
    """False for long-lived front ends (the TUI): a Ray driver is ended with its cluster, so
    they reach a running catalogue owner only through its local socket (owner/endpoint.py)."""

    @property
    def catalogue_path(self) -> Path:
        """The DuckDB file that holds every run, model, deployment and drift check."""
        return self.home / CATALOGUE_FILE

    def run_dir(self, run_id: str) -> Path:
        """Where a run keeps its artifacts and training checkpoints."""
        return self.home / "runs" / run_id

    @property
    def owner_file(self) -> Path:
        """Written by a cluster-side catalogue owner so other processes know where to send work."""
        return self.home / OWNER_FILE


def load_settings(home: str | os.PathLike[str] | None = None) -> Settings:
    """Settings for an explicit home, else WORKBENCH_HOME, else the user data directory."""
    if home is None:
        home = os.environ.get("WORKBENCH_HOME") or _default_home()
    return Settings(home=Path(home).expanduser().resolve())


def _default_home() -> str:
    # platformdirs is tiny and pure Python; imported here to keep module import free of it.
    import platformdirs

    return platformdirs.user_data_dir("workbench", appauthor=False)


PRICE_CPU_HOUR_ENV = "WORKBENCH_PRICE_CPU_HOUR"
PRICE_GPU_HOUR_ENV = "WORKBENCH_PRICE_GPU_HOUR"
GPU_IDLE_PERCENT_ENV = "WORKBENCH_GPU_IDLE_PERCENT"
GPU_IDLE_MINUTES_ENV = "WORKBENCH_GPU_IDLE_MINUTES"


@dataclass(frozen=True)
class ResourcePricing:
    """What a run's resources cost and when a GPU counts as idle, from the environment.

    Prices are per core-hour (WORKBENCH_PRICE_CPU_HOUR, default 0) and per GPU-hour
    (WORKBENCH_PRICE_GPU_HOUR, default 0), in whatever currency the user thinks in. A run
    holding a GPU below `gpu_idle_percent` utilisation (WORKBENCH_GPU_IDLE_PERCENT, default
    10) for `gpu_idle_minutes` (WORKBENCH_GPU_IDLE_MINUTES, default 5) raises an alert.
    """

    cpu_hour: float = 0.0
    gpu_hour: float = 0.0
    gpu_idle_percent: float = 10.0
    gpu_idle_minutes: float = 5.0


def load_pricing(environ: Mapping[str, str] | None = None) -> ResourcePricing:
    """Prices and idle thresholds from the environment; a bad value is InvalidInputError."""
    env = os.environ if environ is None else environ
    defaults = ResourcePricing()
    return ResourcePricing(
        cpu_hour=_non_negative(env, PRICE_CPU_HOUR_ENV, defaults.cpu_hour),
        gpu_hour=_non_negative(env, PRICE_GPU_HOUR_ENV, defaults.gpu_hour),
        gpu_idle_percent=_non_negative(env, GPU_IDLE_PERCENT_ENV, defaults.gpu_idle_percent),
        gpu_idle_minutes=_non_negative(env, GPU_IDLE_MINUTES_ENV, defaults.gpu_idle_minutes),
    )


def _non_negative(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    from workbench.core.errors import InvalidInputError

    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise InvalidInputError(
            f"{name} must be a number of 0 or more, not {raw!r}",
            f"e.g. export {name}={default:g}, or unset it",
        )
    return value


TELEMETRY_RETENTION_ENV = "WORKBENCH_TELEMETRY_RETENTION_DAYS"
DEFAULT_TELEMETRY_RETENTION_DAYS = 30.0


def telemetry_retention_seconds(environ: Mapping[str, str] | None = None) -> float:
    """How long telemetry's minute aggregates and attributed process samples are kept
    (WORKBENCH_TELEMETRY_RETENTION_DAYS, default 30; fractions allowed, 0 refused)."""
    env = os.environ if environ is None else environ
    days = _non_negative(env, TELEMETRY_RETENTION_ENV, DEFAULT_TELEMETRY_RETENTION_DAYS)
    if days == 0:
        from workbench.core.errors import InvalidInputError

        raise InvalidInputError(
            f"{TELEMETRY_RETENTION_ENV} must be more than 0 days",
            f"e.g. export {TELEMETRY_RETENTION_ENV}=7, or unset it for 30",
        )
    return days * 86400.0


DRIFT_TICK_ENV = "WORKBENCH_DRIFT_TICK_S"


def drift_tick_seconds(environ: Mapping[str, str] | None = None) -> float:
    """How often the drift scheduler looks for due checks (WORKBENCH_DRIFT_TICK_S, default
    30 s; a check's own interval is at least a minute)."""
    env = os.environ if environ is None else environ
    return _non_negative(env, DRIFT_TICK_ENV, 30.0) or 30.0
