"""Open the catalogue through whoever owns it: this process, or the cluster's owner actor.

DuckDB lets one process hold a file. With no cluster, the caller opens it itself, for the
length of one command (the TUI: of one read), and a second opener waits that out. With Ray
connected, the owner actor (see actor.py) holds it. The owner leaves a small JSON file
beside the catalogue, so a process that finds the file locked knows where to go: the
owner's local socket (endpoint.py) on the same host, else Ray.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from workbench.catalogue import Backend, Catalogue
from workbench.catalogue.pipelines import PipelineLedger
from workbench.core.errors import CatalogueError, first_line
from workbench.core.settings import RAY_NAMESPACE, Settings, load_settings
from workbench.owner.actor import STALE_AFTER_S, RemoteBackend, ensure_owner
from workbench.owner.endpoint import SocketBackend

# How long an opener waits for a brief holder (a command, the TUI's read) to let go.
LOCK_WAIT_S = 5.0
_SWEEP_LOCK = threading.Lock()


def ray_connected() -> bool:
    """True when this process is a Ray driver or worker, without importing Ray."""
    ray = sys.modules.get("ray")
    return bool(ray is not None and ray.is_initialized())


def open_catalogue(settings: Settings | None = None) -> Catalogue:
    """The catalogue for `settings.home`, through whoever owns it (see the module docstring)."""
    settings = settings or load_settings()
    if ray_connected() and settings.may_join_ray:
        return Catalogue(ensure_owner(settings))
    # Deferred: processes that reach the catalogue through the owner never need DuckDB.
    from workbench.catalogue.duckdb_backend import DuckDBBackend
    from workbench.owner.local import open_or_else

    backend = open_or_else(settings.catalogue_path, LOCK_WAIT_S, lambda: _through_owner(settings))
    catalogue = Catalogue(backend)
    if isinstance(backend, DuckDBBackend):
        # We own the file, so no driver can be writing to it: a run still "running" whose
        # heartbeats stopped has crashed (its embedded Ray, and owner, died with it).
        # One sweep at a time per process: two threads (two screens of the app) opening at
        # once would each update the same rows, and DuckDB fails the second on a conflict.
        with _SWEEP_LOCK:
            PipelineLedger(catalogue).sweep_stale(STALE_AFTER_S)
    return catalogue


def _through_owner(settings: Settings) -> Backend | None:
    """The owner named in the owner file: its local socket, else (if allowed) Ray; None
    when there is no owner file or its socket is stale (the owner is gone: keep trying)."""
    info = read_owner_file(settings)
    if info is None:
        return None
    location = f"{settings.catalogue_path} (owner pid {info.get('pid')} on {info.get('host')})"
    if info.get("socket") and info.get("host") == socket.gethostname():
        try:
            return SocketBackend(Path(info["socket"]), location)
        except OSError:
            return None
    if not settings.may_join_ray:
        raise CatalogueError(
            f"catalogue {settings.catalogue_path} is held by an owner on {info.get('host')}, "
            "which this process can reach only through Ray",
            "run the app on the owner's host, or use the CLI here",
        )
    return _connect_to_owner(settings, info)


def read_owner_file(settings: Settings) -> dict[str, Any] | None:
    """What the cluster-side owner wrote about itself, or None."""
    try:
        info = json.loads(settings.owner_file.read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and "address" in info else None


def _connect_to_owner(settings: Settings, info: dict[str, Any]) -> RemoteBackend:
    if info.get("auth_mode"):
        # Before importing Ray: it reads the auth mode once, when it loads its config.
        os.environ.setdefault("RAY_AUTH_MODE", str(info["auth_mode"]))
    import ray

    try:
        ray.init(
            address=info["address"],
            namespace=RAY_NAMESPACE,
            logging_level=logging.ERROR,
            log_to_driver=False,
            configure_logging=False,
        )
        actor = ray.get_actor(info["actor"], namespace=RAY_NAMESPACE)
    except (ConnectionError, ValueError, RuntimeError) as error:
        raise CatalogueError(
            f"catalogue {settings.catalogue_path} is locked and its owner at {info['address']} "
            f"cannot be reached: {first_line(error)}",
            "is the cluster up? check `ray status`",
        ) from None
    return RemoteBackend(actor, f"{settings.catalogue_path} (owner on {info.get('host')})")
