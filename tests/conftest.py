"""Shared fixtures: an isolated WORKBENCH_HOME per test, one Ray cluster per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.catalogue import Catalogue
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.core.settings import Settings, load_settings


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh WORKBENCH_HOME, so no test sees the user's catalogue or another test's."""
    path = tmp_path / "home"
    monkeypatch.setenv("WORKBENCH_HOME", str(path))
    return path


@pytest.fixture
def settings(home: Path) -> Settings:
    return load_settings(home)


@pytest.fixture
def catalogue(settings: Settings) -> Iterator[Catalogue]:
    """A catalogue owned by this process, in a real DuckDB file."""
    cat = Catalogue(DuckDBBackend(settings.catalogue_path))
    yield cat
    cat.close()


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[object]:
    """One real local Ray cluster (2 CPUs) for the whole session."""
    import ray

    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    ray.init(
        address="local",  # never attach to a cluster some other process left running
        num_cpus=2,
        include_dashboard=False,
        logging_level="ERROR",
        namespace="workbench-tests",
    )
    yield ray
    ray.shutdown()
