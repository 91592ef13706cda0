"""Lineage facts: the project's git state, package versions, content digests."""

from __future__ import annotations

import hashlib
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from workbench.compute.cluster import Connection
from workbench.core.entities import Lineage

PACKAGES = ("workbench", "ray", "torch", "scikit-learn", "mlflow", "duckdb", "pyarrow", "numpy")


def collect_lineage(project_dir: Path, connection: Connection) -> Lineage:
    """Git commit and dirty flag of the project, package versions, cluster and nodes."""
    commit, dirty = git_state(project_dir)
    return Lineage(
        git_commit=commit,
        git_dirty=dirty,
        environment=package_versions(),
        cluster_id=connection.cluster_id,
        nodes=connection.nodes,
    )


def git_state(directory: Path) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the repository holding `directory`, or (None, None) outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True,
            timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", "."], cwd=directory, capture_output=True,
            text=True, timeout=10, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit, bool(status.strip())


def package_versions() -> dict[str, str]:
    """Versions of the packages that decide what a run computes."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def code_digest(project_dir: Path, function: str) -> str:
    """sha256 of the Python sources of the package that holds a step's function."""
    package = function.partition(":")[0].split(".")[0]
    root = project_dir / package
    digest = hashlib.sha256()
    sources = sorted(root.rglob("*.py")) if root.is_dir() else [project_dir / f"{package}.py"]
    for source in sources:
        if source.is_file():
            digest.update(source.relative_to(project_dir).as_posix().encode() + b"\0")
            digest.update(source.read_bytes())
    return digest.hexdigest()
