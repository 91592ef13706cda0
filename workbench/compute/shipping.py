"""A project's code shipped to every node through Ray's runtime environment.

On a shared cluster the nodes do not see the driver's disk, so the project folder travels as
the job's `working_dir`: Ray zips it (leaving out what the project's .gitignore and
.rayignore name, plus `DEFAULT_EXCLUDES`), stores it in the cluster, and unpacks it on each
node as the working directory of the job's workers; `requirements.txt` beside the spec
becomes the job's `pip` list. A worker of such a job imports step code from its own copy.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DEFAULT_EXCLUDES = (".git", ".venv", "venv", "__pycache__", "*.pyc", ".pytest_cache", "mlruns")


def project_runtime_env(project_dir: Path) -> dict[str, Any]:
    """The runtime environment that takes `project_dir` (and its pip needs) to every node."""
    env: dict[str, Any] = {"working_dir": str(project_dir), "excludes": list(DEFAULT_EXCLUDES)}
    requirements = project_dir / "requirements.txt"
    if requirements.is_file():
        lines = (line.split("#", 1)[0].strip() for line in requirements.read_text().splitlines())
        wanted = [line for line in lines if line]
        if wanted:
            env["pip"] = wanted
    return env


def ships_project() -> bool:
    """Whether this process's Ray job carries its project in a working_dir (Ray connected)."""
    import ray  # deferred: only called where Ray is already connected

    return bool((ray.get_runtime_context().runtime_env or {}).get("working_dir"))


def project_dir_here(project_dir: str, shipped: bool) -> str:
    """Where a worker finds the project: its job's unpacked copy (its working directory) when
    the project was shipped, else the driver's folder, on a disk the worker shares."""
    return os.getcwd() if shipped else project_dir
