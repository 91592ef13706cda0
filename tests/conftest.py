"""Shared fixtures: an isolated WORKBENCH_HOME per test, one Ray cluster per session."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.engines import require_engine
from workbench.catalogue import Catalogue
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.core.settings import Settings, load_settings


def cli_env(home: Path) -> dict[str, str]:
    """The environment of a `workbench` subprocess: its own WORKBENCH_HOME, no inherited Ray env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["WORKBENCH_HOME"] = str(home)
    return env


def run_cli(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`workbench ARGS` in a subprocess with its own WORKBENCH_HOME and no inherited Ray env."""
    env = cli_env(home)
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True, text=True, env=env, timeout=timeout, check=False,
    )  # fmt: skip


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
        logging_level=logging.ERROR,
        namespace="workbench-tests",
    )
    yield ray
    ray.shutdown()


@pytest.fixture
def local_cluster(home: Path) -> Iterator[Path]:
    """`workbench cluster up` in a private home (2 CPUs); always taken down."""
    up = run_cli(home, "cluster", "up", "--cpus", "2", "--json")
    assert up.returncode == 0, up.stderr[-2000:]
    profile = json.loads(up.stdout)
    assert profile["address"].startswith("127.0.0.1:")
    assert oct((home / "cluster.json").stat().st_mode & 0o777) == "0o600"
    try:
        yield home
    finally:
        down = run_cli(home, "cluster", "down")
        assert down.returncode == 0, down.stderr[-2000:]


@pytest.fixture(scope="session")
def docker_engine() -> Any:
    """A docker SDK client on a live engine; where none is reachable, `require_engine` says why."""
    import docker

    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as error:  # no socket, no permission, daemon down: all mean "missing"
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        require_engine(f"no Docker engine reachable ({reason}); .ci/engines.sh starts one")
    return client
