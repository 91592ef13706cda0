"""What the TUI's Cluster screen shows, and its start/stop actions, without joining Ray.

Everything that needs Ray runs in a child `workbench cluster ...` (a Ray driver is ended
with its cluster; the app must outlive it). The rest is read from files: the saved
profile, the catalogue file and its WAL, the owner file; the catalogue is opened briefly
to say whether it can be read.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path

from workbench.core.errors import WorkbenchError
from workbench.core.settings import Settings
from workbench.owner import open_catalogue, read_owner_file
from workbench.services.child import child_env, run_json, workbench_command
from workbench.services.cluster import ClusterProfile, ClusterStatus, NodeInfo, saved_status
from workbench.services.telemetry_view import ClusterTelemetry, cluster_telemetry

STATUS_TIMEOUT_S = 60.0
"""A child `cluster status` joins the cluster: seconds, not minutes."""
DOWN_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class CatalogueFile:
    """Where the catalogue lives, how big it and its write-ahead log are (None: no file), and
    why it cannot be opened (corrupt, newer, locked), with what to do, if it cannot."""

    path: Path
    size_bytes: int | None
    wal_bytes: int | None
    problem: str = ""
    hint: str = ""


@dataclass(frozen=True)
class OwnerInfo:
    """The process holding the catalogue for a cluster or an embedded run, from its owner file."""

    pid: int | None
    host: str
    address: str
    socket: str | None


@dataclass(frozen=True)
class ClusterReport:
    """The saved cluster and (when up) its nodes, Ray's version, the catalogue and its owner.

    `problem` says why the nodes could not be read from a cluster that looks up.
    """

    status: ClusterStatus
    nodes: tuple[NodeInfo, ...]
    ray_version: str | None
    catalogue: CatalogueFile
    owner: OwnerInfo | None
    problem: str = ""
    telemetry: ClusterTelemetry | None = None
    """Each node's newest sample and the last hour (read when the caller passes `now`)."""


def cluster_report(settings: Settings, now: datetime | None = None) -> ClusterReport:
    """Read the Cluster screen's data; a live head is asked for its nodes through a child.
    With `now`, also the nodes' telemetry (live and the hour before `now`)."""
    status = saved_status(settings)
    nodes: tuple[NodeInfo, ...] = ()
    problem = ""
    if status.up:
        try:
            document = run_json(settings, "cluster", "status", timeout_s=STATUS_TIMEOUT_S)
        except WorkbenchError as error:
            problem = f"{error.message} ({error.hint})" if error.hint else error.message
        else:
            nodes = tuple(NodeInfo.from_json(n) for n in document.get("node_details", []))
            status = ClusterStatus(
                profile=status.profile,
                up=bool(document.get("up")),
                nodes=tuple(document.get("nodes", [])),
                resources={k: float(v) for k, v in document.get("resources", {}).items()},
                node_details=nodes,
                warnings=tuple(str(w) for w in document.get("warnings", [])),
            )
    catalogue = _catalogue_file(settings)
    telemetry = None
    if now is not None and catalogue.size_bytes is not None and not catalogue.problem:
        telemetry = cluster_telemetry(settings, now)
    return ClusterReport(
        status=status,
        nodes=nodes,
        ray_version=_ray_version(),
        catalogue=catalogue,
        owner=_owner(settings),
        problem=problem,
        telemetry=telemetry,
    )


def start_local_head(settings: Settings) -> ClusterProfile:
    """`workbench cluster up` in a child: a local head that outlives this process."""
    return ClusterProfile(**run_json(settings, "cluster", "up"))


def stop_local_head(settings: Settings) -> str:
    """`workbench cluster down` in a child; what it said (`cluster at ... stopped`)."""
    try:
        done = subprocess.run(
            workbench_command("cluster", "down"),
            env=child_env(settings),
            capture_output=True,
            text=True,
            timeout=DOWN_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise WorkbenchError(
            f"`workbench cluster down` did not finish within {DOWN_TIMEOUT_S:.0f} s",
            "run it in a terminal to see where it waits",
        ) from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise WorkbenchError(lines[-1] if lines else "`workbench cluster down` failed")
    return done.stdout.strip() or "cluster stopped"


def _ray_version() -> str | None:
    """Ray's installed version, from its package metadata: importing Ray costs seconds."""
    try:
        return metadata.version("ray")
    except metadata.PackageNotFoundError:
        return None


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _catalogue_file(settings: Settings) -> CatalogueFile:
    path = settings.catalogue_path
    size, wal = _size(path), _size(path.with_name(path.name + ".wal"))
    if size is None:
        return CatalogueFile(path, size, wal)  # not created yet: opening it would create it
    try:
        with open_catalogue(settings):
            pass
    except WorkbenchError as error:
        return CatalogueFile(path, size, wal, error.message, error.hint)
    return CatalogueFile(path, size, wal)


def _owner(settings: Settings) -> OwnerInfo | None:
    info = read_owner_file(settings)
    if info is None:
        return None
    pid = info.get("pid")
    return OwnerInfo(
        pid=int(pid) if isinstance(pid, int) else None,
        host=str(info.get("host", "")),
        address=str(info.get("address", "")),
        socket=str(info["socket"]) if info.get("socket") else None,
    )
