"""Where Workbench keeps its files; one place that reads the environment."""

from __future__ import annotations

import os
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
