"""The catalogue's single owner: this process, or a named detached Ray actor.

DuckDB lets one process hold a file. With no cluster, the caller opens it
itself. With Ray connected, an actor (namespace `workbench`) on the head node
holds it and every process (driver, training workers, Serve replicas, CLI)
reads and writes through `RemoteBackend`. The owner leaves a small JSON file
beside the catalogue so a process that finds the file locked knows where to go.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.catalogue import Backend, Catalogue, Statement
from workbench.catalogue.pipelines import PipelineLedger
from workbench.core.errors import CatalogueError, WorkbenchError, first_line
from workbench.core.settings import Settings, load_settings

if TYPE_CHECKING:
    import pyarrow as pa

NAMESPACE = "workbench"
SWEEP_EVERY_S = 2.0
# Drivers beat every 5 s; three missed beats mean the driver is gone.
STALE_AFTER_S = 15.0


class CatalogueOwner:
    """Body of the owner actor: a DuckDBBackend plus the owner file. Runs inside Ray."""

    def __init__(self, catalogue_path: str, owner_file: str) -> None:
        import ray  # deferred: this class only runs inside a Ray worker

        from workbench.catalogue.duckdb_backend import DuckDBBackend

        self._backend = DuckDBBackend(catalogue_path)
        self._owner_file = Path(owner_file)
        context = ray.get_runtime_context()
        self._info = {
            "address": context.gcs_address,
            "namespace": NAMESPACE,
            "actor": owner_name(Path(catalogue_path)),
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "auth_mode": os.environ.get("RAY_AUTH_MODE", ""),
        }
        temporary = self._owner_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(self._info))
        temporary.replace(self._owner_file)
        self._stop = threading.Event()
        threading.Thread(target=self._sweep, name="workbench-run-sweeper", daemon=True).start()

    def _sweep(self) -> None:
        """Mark runs whose driver stopped sending heartbeats as crashed."""
        ledger = PipelineLedger(Catalogue(self._backend))
        while not self._stop.wait(SWEEP_EVERY_S):
            try:
                ledger.sweep_stale(STALE_AFTER_S)
            except WorkbenchError as error:  # a failed sweep is retried at the next tick
                logging.getLogger(__name__).warning("run sweep failed: %s", error.message)

    def write(self, statements: Sequence[Statement]) -> None:
        self._backend.write(statements)

    def query(self, sql: str, params: Sequence[object]) -> pa.Table:
        return self._backend.query(sql, params)

    def info(self) -> dict[str, Any]:
        return self._info

    def close(self) -> None:
        self._stop.set()
        self._backend.close()
        if self._owner_file.exists() and json.loads(self._owner_file.read_text()) == self._info:
            self._owner_file.unlink()


class RemoteBackend(Backend):
    """Talks to the owner actor; writes may be fire-and-forget, errors surface at `sync`."""

    def __init__(self, actor: Any, location: str) -> None:
        self._actor = actor
        self._location = location
        self._pending: list[Any] = []

    @property
    def location(self) -> str:
        return self._location

    def write(self, statements: Sequence[Statement], *, wait: bool = True) -> None:
        ref = self._actor.write.remote(list(statements))
        if wait:
            self._get(ref)
            return
        self._pending.append(ref)
        self._collect(block=False)

    def query(self, sql: str, params: Sequence[object] = ()) -> pa.Table:
        return self._get(self._actor.query.remote(sql, list(params)))

    def sync(self) -> None:
        self._collect(block=True)

    def close(self) -> None:
        self.sync()

    def _collect(self, *, block: bool) -> None:
        import ray

        if not self._pending:
            return
        timeout = None if block else 0
        done, self._pending = ray.wait(
            self._pending, num_returns=len(self._pending), timeout=timeout
        )
        for ref in done:
            self._get(ref)

    def _get(self, ref: Any) -> Any:
        import ray

        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as error:
            if isinstance(error.cause, WorkbenchError):
                raise error.cause from None
            raise
        except ray.exceptions.RayActorError as error:
            raise CatalogueError(
                f"the catalogue owner ({self._location}) is gone: {first_line(error)}",
                "it restarts on its own; retry, or check `ray status`",
            ) from None


def owner_name(catalogue_path: Path) -> str:
    """Actor name for a catalogue file: one owner per file per cluster."""
    digest = hashlib.sha1(str(catalogue_path).encode(), usedforsecurity=False).hexdigest()
    return f"catalogue-{digest[:12]}"


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


def ensure_owner(settings: Settings) -> RemoteBackend:
    """Get, or start, the owner actor of this catalogue on the connected cluster's head node."""
    import ray

    path = settings.catalogue_path
    path.parent.mkdir(parents=True, exist_ok=True)
    actor: Any = (
        ray.remote(CatalogueOwner)
        .options(
            name=owner_name(path),
            namespace=NAMESPACE,
            lifetime="detached",
            get_if_exists=True,
            num_cpus=0,
            max_restarts=-1,
            # Pin to the head node: the catalogue file lives there and must outlive workers.
            resources={"node:__internal_head__": 0.001},
        )
        .remote(str(path), str(settings.owner_file))
    )
    backend = RemoteBackend(actor, f"{path} (owner actor {owner_name(path)})")
    try:
        backend._get(actor.info.remote())
    except ray.exceptions.RayActorError as error:
        cause = getattr(error, "cause", None) or error
        raise CatalogueError(
            f"the catalogue owner could not open {path}: {first_line(cause)}",
            "is another process holding the file? stop it, or use the cluster's owner",
        ) from None
    return backend


def stop_owner(settings: Settings) -> bool:
    """Close and kill this catalogue's owner actor, if any; returns whether one was running."""
    import ray

    try:
        actor = ray.get_actor(owner_name(settings.catalogue_path), namespace=NAMESPACE)
    except ValueError:
        return False
    try:
        ray.get(actor.close.remote())
    finally:
        ray.kill(actor, no_restart=True)
    return True


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
            namespace=NAMESPACE,
            logging_level=logging.ERROR,
            log_to_driver=False,
            configure_logging=False,
        )
        actor = ray.get_actor(info["actor"], namespace=NAMESPACE)
    except (ConnectionError, ValueError, RuntimeError) as error:
        raise CatalogueError(
            f"catalogue {settings.catalogue_path} is locked and its owner at {info['address']} "
            f"cannot be reached: {first_line(error)}",
            "is the cluster up? check `ray status`",
        ) from None
    return RemoteBackend(actor, f"{settings.catalogue_path} (owner on {info.get('host')})")
