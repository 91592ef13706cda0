"""The Ray Serve runtime: one application per deployment, the shared scoring app at its prefix.

No `from __future__ import annotations` here: Serve inspects the deployment class at run time.
"""

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import ray
from ray import serve

from workbench.core.deployments import DeploymentSpec, RequestRecord
from workbench.core.settings import Settings
from workbench.serving.app import AppOptions, Scored, make_app
from workbench.serving.replica import RequestLog, VersionRouter
from workbench.serving.signature import Columns, InputSchema

BUSY_HOLD_S = 0.05  # how long the replica counts as busy after it last had company


@serve.deployment
@serve.ingress()
class ModelServer:
    """A replica: every version of the deployment loaded, batching on, requests sampled."""

    def __init__(self, spec: DeploymentSpec) -> None:
        self.spec = spec
        self.router = VersionRouter(spec, self._breach)
        self.schema: InputSchema = self.router.schema
        # serve.batch adds these setters to the method; mypy sees only the plain signature.
        batched: Any = self._batched
        batched.set_max_batch_size(spec.batching.max_batch_size)
        self._busy_wait_s = spec.batching.batch_wait_timeout_s
        self._in_flight = 0
        self._waiting = False
        self._busy_until = 0.0
        self.log = RequestLog(self._write_requests)
        self._ledger: Any = None
        self._flusher: asyncio.Task[None] | None = None
        self._breached = False

    def __serve_build_asgi_app__(self) -> Any:
        token_file = self.spec.token_file
        token = Path(token_file).read_text().strip() if token_file else None
        options = AppOptions(
            token=token,
            max_body_bytes=self.spec.limits.max_body_bytes,
            timeout_s=self.spec.limits.timeout_s,
            on_request=self.log.add,
            sample_rate=self.spec.sample_rate,
        )
        return make_app(self, options)

    # -- Scorer protocol ----------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        replica = serve.get_replica_context().replica_id.unique_id
        return {**self.router.meta, "replica": replica}

    def healthy(self) -> bool:
        return bool(self.router.models)

    async def score(self, columns: Columns) -> Scored:
        if self._flusher is None:  # started lazily: the constructor has no running loop
            self._flusher = asyncio.ensure_future(self.log.run())
        self._in_flight += 1
        self._adapt_batch_wait()
        try:
            return await self.router.score(columns, self._batched)
        finally:
            self._in_flight -= 1

    def _adapt_batch_wait(self) -> None:
        """Wait for a batch to fill only while the replica is busy (and 50 ms after).

        Alone, a request goes straight to the model (no added latency); under concurrency a
        short wait lets the event loop parse the requests queued behind it, so one model call
        serves many (the model's cost barely grows with rows; see benchmarks/RESULTS.md).
        """
        now = time.monotonic()
        if self._in_flight > 1:
            self._busy_until = now + BUSY_HOLD_S
        busy = now < self._busy_until
        if busy != self._waiting:
            self._waiting = busy
            batched: Any = self._batched  # serve.batch's setter; mypy sees the plain method
            batched.set_batch_wait_timeout_s(self._busy_wait_s if busy else 0.0)

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.0)
    async def _batched(self, items: list[tuple[int, Columns]]) -> list[list[Any] | Exception]:
        # On the loop, not in a thread: the model holds the GIL either way, and a thread hop
        # costs ~0.2 ms alone and cuts c=32 throughput ~4x (fewer requests parsed per batch
        # wait). The price: during a model call the replica answers nothing else, so --timeout
        # covers the wait for a batch, not the model call itself.
        return self.router.predict_batch(items)

    def check_health(self) -> None:
        if not self.healthy():
            raise RuntimeError("no model loaded")

    # -- catalogue ------------------------------------------------------------------------------

    def _catalogue_ledger(self) -> Any:
        if self._ledger is None:
            from workbench.catalogue.deployments import DeploymentLedger
            from workbench.owner import open_catalogue

            self._ledger = DeploymentLedger(open_catalogue(Settings(home=Path(self.spec.home))))
        return self._ledger

    def _write_requests(self, records: list[RequestRecord]) -> None:
        self._catalogue_ledger().log_requests(self.spec.name, records)

    def _breach(self, why: str) -> None:
        if self._breached:
            return
        self._breached = True
        rollback_canary.options(num_cpus=0).remote(self.spec.home, self.spec.name, why)


def _rollback_canary(home: str, name: str, why: str) -> None:
    """Redeploy `name` without its canary (once, whichever replica asks first) and audit it."""
    from workbench.catalogue.deployments import DeploymentLedger
    from workbench.owner import open_catalogue

    with open_catalogue(Settings(home=Path(home))) as catalogue:
        ledger = DeploymentLedger(catalogue)
        current = ledger.get(name)
        if current is None or current.status == "stopped":
            return
        if current.spec.canary is None:
            return  # another replica got here first
        spec = current.spec.without_canary()
        # Record first: this task is owned by a replica that the update below replaces, and
        # Ray ends a task whose owner dies. The update itself, once sent, is Serve's to finish.
        ledger.record(spec, "running", action="deployment.rollback", reason=why)
    deploy(spec)


def deploy(spec: DeploymentSpec) -> None:
    """Create or update the Serve application for `spec` and wait until it runs.

    Updates roll: Serve starts new replicas before it stops old ones (max_surge), so the
    endpoint keeps answering; a version that cannot start leaves the old replicas serving.
    """
    scaling = spec.scaling
    options: dict[str, Any] = {
        "name": "model",
        "max_ongoing_requests": scaling.max_ongoing_requests,
        "max_queued_requests": scaling.max_queued_requests,
        "ray_actor_options": {"num_cpus": scaling.cpus_per_replica},
        "health_check_period_s": 2.0,
        "health_check_timeout_s": 10.0,
        "max_constructor_retry_count": 3,
        "max_surge_percent": 100,
        "graceful_shutdown_timeout_s": 10.0,
    }
    if scaling.autoscale:
        low, high = scaling.autoscale
        options["autoscaling_config"] = {"min_replicas": low, "max_replicas": high,
                                         "target_ongoing_requests": 8}  # fmt: skip
        options["num_replicas"] = "auto"
    else:
        options["num_replicas"] = scaling.replicas
    server: Any = ModelServer  # a serve.Deployment once decorated; mypy sees the class
    app = server.options(**options).bind(spec)
    serve.run(app, name=spec.name, route_prefix=spec.route_prefix, blocking=False)


def start_http(port: int) -> None:
    """Start Serve's HTTP ingress on 127.0.0.1:`port` (a no-op when it is already up)."""
    logging.getLogger("ray.serve").setLevel(logging.WARNING)  # its INFO lines are noise here
    serve.start(http_options={"host": "127.0.0.1", "port": port})


def delete(name: str) -> None:
    serve.delete(name, _blocking=True)


def application_status(name: str) -> dict[str, Any]:
    """Serve's view of one application: status, message, replicas by state."""
    status = serve.status().applications.get(name)
    if status is None:
        return {"status": "NOT_FOUND", "message": "", "replicas": {}}
    replicas: dict[str, int] = {}
    messages = [status.message] + [d.message for d in status.deployments.values() if d.message]
    for deployment in status.deployments.values():
        for replica_state, count in deployment.replica_states.items():
            label = _plain(replica_state)
            replicas[label] = replicas.get(label, 0) + count
    message = "\n".join(m for m in messages if m)
    return {"status": _plain(status.status), "message": message, "replicas": replicas}


def _plain(state: Any) -> str:
    """An enum's value ("RUNNING"), not its repr ("ApplicationStatus.RUNNING")."""
    return str(getattr(state, "value", state))


rollback_canary = ray.remote(_rollback_canary)
