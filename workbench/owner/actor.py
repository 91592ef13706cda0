"""The owner actor: a named, detached Ray actor on the head node that holds the DuckDB file.

Every other process (driver, training workers, Serve replicas, CLI) reads and writes
through `RemoteBackend`. Ray is imported inside the functions that need it, never here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.catalogue import Backend, Catalogue, Statement
from workbench.catalogue.catalogue import utcnow
from workbench.catalogue.pipelines import PipelineLedger
from workbench.catalogue.run_resources import SETTLE_S, RunResourceLedger
from workbench.catalogue.telemetry import TelemetryLedger
from workbench.core.errors import CatalogueError, WorkbenchError, first_line
from workbench.core.settings import (
    RAY_NAMESPACE,
    ResourcePricing,
    Settings,
    load_pricing,
    telemetry_retention_seconds,
)
from workbench.owner.endpoint import OwnerEndpoint, socket_path

if TYPE_CHECKING:
    import pyarrow as pa

SWEEP_EVERY_S = 2.0
# Telemetry older than the full-resolution hour is folded into minute aggregates this often,
# and ended runs' resources are settled.
COMPACT_EVERY_S = 60.0
# Drivers beat every 5 s; three missed beats mean the driver is gone.
STALE_AFTER_S = 15.0
# A front end may hold the file for a moment between its reads; the owner waits that out.
OPEN_WAIT_S = 10.0


class CatalogueOwner:
    """Body of the owner actor: a DuckDBBackend plus the owner file. Runs inside Ray."""

    def __init__(self, catalogue_path: str, owner_file: str) -> None:
        import ray  # deferred: this class only runs inside a Ray worker

        from workbench.owner.local import open_file

        self._backend = open_file(Path(catalogue_path), OPEN_WAIT_S)
        self._owner_file = Path(owner_file)
        self._endpoint = OwnerEndpoint(self._backend, socket_path(Path(catalogue_path)))
        context = ray.get_runtime_context()
        self._info = {
            "address": context.gcs_address,
            "namespace": RAY_NAMESPACE,
            "actor": owner_name(Path(catalogue_path)),
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "auth_mode": os.environ.get("RAY_AUTH_MODE", ""),
            "socket": str(self._endpoint.path),
        }
        temporary = self._owner_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(self._info))
        temporary.replace(self._owner_file)
        self._stop = threading.Event()
        threading.Thread(target=self._sweep, name="workbench-run-sweeper", daemon=True).start()
        threading.Thread(
            target=self._compact, name="workbench-telemetry-compactor", daemon=True
        ).start()

    def _sweep(self) -> None:
        """Mark runs whose driver stopped sending heartbeats as crashed."""
        ledger = PipelineLedger(Catalogue(self._backend))
        while not self._stop.wait(SWEEP_EVERY_S):
            try:
                ledger.sweep_stale(STALE_AFTER_S)
            except WorkbenchError as error:  # a failed sweep is retried at the next tick
                logging.getLogger(__name__).warning("run sweep failed: %s", error.message)

    def _compact(self) -> None:
        """Every minute: settle ended runs' resources, then compact and prune telemetry history
        (see RunResourceLedger.settle_ended and TelemetryLedger.compact)."""
        catalogue = Catalogue(self._backend)
        retention_s, pricing = _housekeeping_settings()
        while not self._stop.wait(COMPACT_EVERY_S):
            try:
                housekeeping(catalogue, utcnow(), retention_s, pricing)
            except WorkbenchError as error:  # a failed compaction is retried at the next tick
                logging.getLogger(__name__).warning("telemetry compaction: %s", error.message)

    def write(self, statements: Sequence[Statement]) -> None:
        self._backend.write(statements)

    def query(self, sql: str, params: Sequence[object]) -> pa.Table:
        return self._backend.query(sql, params)

    def info(self) -> dict[str, Any]:
        return self._info

    def close(self) -> None:
        self._stop.set()
        self._endpoint.close()
        self._backend.close()
        if self._owner_file.exists() and json.loads(self._owner_file.read_text()) == self._info:
            self._owner_file.unlink()


def housekeeping(
    catalogue: Catalogue, now: datetime, retention_s: float, pricing: ResourcePricing
) -> None:
    """Settle the runs that ended before the samples in flight landed, then compact and prune
    (in that order, so a run is settled before its samples can pass retention)."""
    RunResourceLedger(catalogue).settle_ended(pricing, now - timedelta(seconds=SETTLE_S))
    TelemetryLedger(catalogue).compact(now, retention_s=retention_s)


def _housekeeping_settings() -> tuple[float, ResourcePricing]:
    """Retention and prices from the cluster's environment; a bad value is logged and the
    default used (`cluster up` refuses bad values before the owner starts)."""
    log = logging.getLogger(__name__)
    try:
        retention_s = telemetry_retention_seconds()
    except WorkbenchError as error:
        log.warning("%s; keeping telemetry for 30 days", error.message)
        retention_s = telemetry_retention_seconds({})
    try:
        pricing = load_pricing()
    except WorkbenchError as error:
        log.warning("%s; pricing settled runs at the defaults", error.message)
        pricing = ResourcePricing()
    return retention_s, pricing


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


def ensure_owner(settings: Settings) -> RemoteBackend:
    """Get, or start, the owner actor of this catalogue on the connected cluster's head node."""
    import ray

    path = settings.catalogue_path
    path.parent.mkdir(parents=True, exist_ok=True)
    actor: Any = (
        ray.remote(CatalogueOwner)
        .options(
            name=owner_name(path),
            namespace=RAY_NAMESPACE,
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
        actor = ray.get_actor(owner_name(settings.catalogue_path), namespace=RAY_NAMESPACE)
    except ValueError:
        return False
    try:
        ray.get(actor.close.remote())
    finally:
        ray.kill(actor, no_restart=True)
    return True
