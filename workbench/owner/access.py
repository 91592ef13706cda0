"""Open the catalogue through whoever owns it: this process, or the cluster's owner actor.

DuckDB lets one process hold a file. With no cluster, the caller opens it itself. With
Ray connected, the owner actor (see actor.py) holds it. The owner leaves a small JSON file
beside the catalogue, so a process that finds the file locked knows where to go.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

from workbench.catalogue import Catalogue
from workbench.catalogue.pipelines import PipelineLedger
from workbench.core.errors import CatalogueError, first_line
from workbench.core.settings import RAY_NAMESPACE, Settings, load_settings
from workbench.owner.actor import STALE_AFTER_S, RemoteBackend, ensure_owner


def ray_connected() -> bool:
    """True when this process is a Ray driver or worker, without importing Ray."""
    ray = sys.modules.get("ray")
    return bool(ray is not None and ray.is_initialized())


def open_catalogue(settings: Settings | None = None) -> Catalogue:
    """The catalogue for `settings.home`, through whoever owns it (see the module docstring)."""
    settings = settings or load_settings()
    if ray_connected():
        return Catalogue(ensure_owner(settings))
    # Deferred: processes that reach the catalogue through the owner never need DuckDB.
    from workbench.catalogue.duckdb_backend import CatalogueLockedError, DuckDBBackend

    try:
        catalogue = Catalogue(DuckDBBackend(settings.catalogue_path))
    except CatalogueLockedError:
        info = read_owner_file(settings)
        if info is None:
            raise
        return Catalogue(_connect_to_owner(settings, info))
    # We own the file, so no driver can be writing to it: a run still "running" whose
    # heartbeats stopped has crashed (its embedded Ray, and owner, died with it).
    PipelineLedger(catalogue).sweep_stale(STALE_AFTER_S)
    return catalogue


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
