"""The Ray Serve runtime: one application per deployment, the shared scoring app at its prefix.

No `from __future__ import annotations` here: Serve inspects the deployment class at run time.
"""

import asyncio
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import ray
from ray import serve
from ray.serve.api import _run as _submit  # serve.run without its once-a-second wait

from workbench.core.deployments import DeploymentSpec, RequestRecord, Routing
from workbench.core.settings import Settings
from workbench.core.version import __version__
from workbench.serving.app import AppOptions, Scored, make_app
from workbench.serving.hosts import allowed_hosts_from
from workbench.serving.lanes import ModelLane, Result
from workbench.serving.replica import RequestLog, VersionRouter
from workbench.serving.signature import Columns, InputSchema

BUSY_HOLD_S = 0.05  # how long the replica counts as busy after it last had company


@serve.deployment
@serve.ingress()
class ModelServer:
    """A replica: every loaded version of the deployment, each on its own lane; routing from
    Serve's user_config (`reconfigure`); requests sampled to the catalogue."""

    def __init__(self, spec: DeploymentSpec) -> None:
        self.spec = spec
        self.router = VersionRouter(spec, self._breach)
        self.lanes = {
            version: ModelLane(
                version, partial(self._predict, version), spec.batching.max_batch_size
            )
            for version in self.router.models
        }
        self._busy_wait_s = spec.batching.batch_wait_timeout_s
        self._in_flight = 0
        self._busy_until = 0.0
        self.log = RequestLog(self._write_requests)
        self._ledger: Any = None
        self._flusher: asyncio.Task[None] | None = None
        self._breached = False
        self._stuck_reported = False

    def __serve_build_asgi_app__(self) -> Any:
        token_file = self.spec.token_file
        token = Path(token_file).read_text().strip() if token_file else None
        options = AppOptions(
            token=token,
            max_body_bytes=self.spec.limits.max_body_bytes,
            timeout_s=self.spec.limits.timeout_s,
            on_request=self.log.add,
            sample_rate=self.spec.sample_rate,
            allowed_hosts=allowed_hosts_from(os.environ),
        )
        return make_app(self, options)

    def reconfigure(self, config: dict[str, Any]) -> None:
        """Serve's user_config: the routing (a promote, rollback or canary weight lands here)."""
        routing = Routing.from_json(config)
        if routing.canary != self.router.canary:
            self._breached = False  # a new canary may be rolled back in its turn
        self.router.route(routing)

    # -- Scorer protocol ----------------------------------------------------------------------

    @property
    def schema(self) -> InputSchema:
        return self.router.schema

    def metadata(self) -> dict[str, Any]:
        replica = serve.get_replica_context().replica_id.unique_id
        return {**self.router.meta, "replica": replica}

    def healthy(self) -> bool:
        return self.router.routing is not None

    async def score(self, columns: Columns) -> Scored:
        if self._flusher is None:  # started lazily: the constructor has no running loop
            self._flusher = asyncio.ensure_future(self.log.run())
        self._in_flight += 1
        self._adapt_batch_wait()
        try:
            return await self.router.score(columns, self._call)
        finally:
            self._in_flight -= 1

    def _call(self, version: int, columns: Columns) -> asyncio.Future[Result]:
        return self.lanes[version].submit(columns)

    def _predict(self, version: int, parts: list[Columns]) -> list[Result]:
        """On the version's lane thread: one model call for the parts (split back per request)."""
        return self.router.predict_batch([(version, columns) for columns in parts])

    def _adapt_batch_wait(self) -> None:
        """Wait for a batch to fill only while the replica is busy (and 50 ms after).

        Alone, a request goes straight to the model (no added latency); under concurrency an
        idle lane waits a moment for the requests behind it, so one model call serves many
        (the model's cost barely grows with rows; see benchmarks/RESULTS.md).
        """
        now = time.monotonic()
        if self._in_flight > 1:
            self._busy_until = now + BUSY_HOLD_S
        wait = self._busy_wait_s if now < self._busy_until else 0.0
        for lane in self.lanes.values():
            lane.batch_wait_s = wait

    def check_health(self) -> None:
        """Fail (so Serve restarts this replica) when a model call is stuck past the hard limit."""
        if not self.healthy():
            raise RuntimeError("no routing received")
        limit = self.spec.limits.stuck_after_s
        now = time.monotonic()
        stuck = [lane for lane in self.lanes.values() if lane.running_for(now) > limit]
        if not stuck:
            return
        lane = stuck[0]
        why = (
            f"model version {lane.version} has been predicting for "
            f"{lane.running_for(now):.0f} s (hard limit {limit:g} s); replica restarted"
        )
        if not self._stuck_reported:
            self._stuck_reported = True
            self._audit_restart(why)
        raise RuntimeError(why)

    # -- catalogue ------------------------------------------------------------------------------

    def _catalogue_ledger(self) -> Any:
        if self._ledger is None:
            from workbench.catalogue.deployments import DeploymentLedger
            from workbench.owner import open_catalogue

            self._ledger = DeploymentLedger(open_catalogue(Settings(home=Path(self.spec.home))))
        return self._ledger

    def _write_requests(self, records: list[RequestRecord]) -> None:
        self._catalogue_ledger().log_requests(self.spec.name, records)

    def _audit_restart(self, why: str) -> None:
        """Record the restart before Serve ends this replica (best effort: serving comes first)."""
        try:
            replica = serve.get_replica_context().replica_id.unique_id
            self._catalogue_ledger().audit(
                self.spec.name, "deployment.replica_restarted", why, {"replica": replica}
            )
        except Exception as error:
            logging.getLogger(__name__).warning("could not audit the restart: %s", error)

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
        # Record first: this task is owned by a replica, and Ray ends a task whose owner dies
        # (a replica may be restarted meanwhile). The update itself, once sent, is Serve's.
        ledger.record(spec, "running", action="deployment.rollback", reason=why)
    deploy(spec)


def deploy(spec: DeploymentSpec) -> None:
    """Create or update the Serve application for `spec` and wait until it runs.

    A traffic change (same loaded versions and options) reconfigures the running replicas
    in place. Anything else rolls: Serve starts new replicas before it stops old ones
    (max_surge), so the endpoint keeps answering; a version that cannot start leaves the old
    replicas serving.
    """
    scaling = spec.scaling
    replica_spec = spec.for_replicas()
    actor_options = {"num_cpus": scaling.cpus_per_replica}
    options: dict[str, Any] = {
        "name": "model",
        "max_ongoing_requests": scaling.max_ongoing_requests,
        "max_queued_requests": scaling.max_queued_requests,
        "ray_actor_options": actor_options,
        "user_config": spec.routing.to_json(),
        "health_check_period_s": 2.0,
        "health_check_timeout_s": 10.0,
        "max_constructor_retry_count": 3,
        "max_surge_percent": 100,
        "graceful_shutdown_wait_loop_s": 0.5,
        "graceful_shutdown_timeout_s": 2.0,
    }
    if scaling.autoscale:
        low, high = scaling.autoscale
        options["autoscaling_config"] = {"min_replicas": low, "max_replicas": high,
                                         "target_ongoing_requests": 8}  # fmt: skip
        options["num_replicas"] = "auto"
    else:
        options["num_replicas"] = scaling.replicas
    server: Any = ModelServer  # a serve.Deployment once decorated; mypy sees the class
    deployment = server.options(**options)
    _pin_code_version(deployment, replica_code_version(replica_spec, actor_options))
    _quiet_serve()
    # `serve.run` waits for RUNNING polling once a second, which made a traffic change (about
    # 100 ms of reconfiguring) cost a second or more; submit without waiting, then poll finer.
    _submit(deployment.bind(replica_spec), name=spec.name, route_prefix=spec.route_prefix,
            _blocking=False)  # fmt: skip
    _wait(spec.name, _running)


def replica_code_version(replica_spec: DeploymentSpec, actor_options: dict[str, Any]) -> str:
    """A digest of everything a replica is built from: equal digests, equal replicas.

    Its loaded versions (with their sha256), limits, token, batching and policies, its actor
    options and Workbench's own version; scaling is left out (Serve scales in place).
    """
    document = replica_spec.to_json()
    document.pop("scaling")
    text = json.dumps([document, actor_options, __version__], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _pin_code_version(deployment: Any, version: str) -> None:
    """Give the deployment a deterministic code version.

    Serve restarts replicas whenever the code version changes, and `serve.run` assigns a
    random one unless the deployment carries its own (`deployment._version or
    get_random_string()` in ray/serve/_private/client.py, `requires_actor_restart` in
    serve/_private/version.py). Ray 2.60 sets it only through this private attribute; with
    it pinned, a change of user_config alone (the routing) reconfigures replicas in place.
    """
    deployment._version = version


def start_http(port: int) -> None:
    """Start Serve's HTTP ingress on 127.0.0.1:`port` (a no-op when it is already up).

    One proxy, on the head: a proxy on every node with a replica (Serve's default) would
    listen on each node's loopback, which nothing outside that node can reach, and two nodes
    on one machine would fight over the port.
    """
    _quiet_serve()
    serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": port})


def delete(name: str) -> None:
    """Remove application `name` and wait until its replicas are gone (2 s drain at most)."""
    _quiet_serve()
    serve.delete(name, _blocking=False)  # Serve's own wait polls once a second
    _wait(name, lambda status: status is None)


POLL_S = 0.05
"""How often `deploy` and `delete` ask the Serve controller how the application stands."""


def _running(status: Any) -> bool:
    """True once the application runs; raises (as `serve.run` does) when it failed to deploy."""
    if status is None:
        raise RuntimeError("the application disappeared while it was being deployed")
    if _plain(status.status) == "DEPLOY_FAILED":
        raise RuntimeError(f"Deploying application failed: {status.message}")
    return _plain(status.status) == "RUNNING"


def _wait(name: str, done: Callable[[Any], bool]) -> None:
    """Poll Serve's status of application `name` until `done(status or None)` holds.

    Unbounded, like `serve.run`: a version that never starts is Serve's to fail (its
    constructor retries), and a failure comes back as DEPLOY_FAILED.
    """
    while not done(serve.status().applications.get(name)):
        time.sleep(POLL_S)


def _quiet_serve() -> None:
    """Serve logs each application change at INFO on the driver's terminal: noise for a CLI."""
    logging.getLogger("ray.serve").setLevel(logging.WARNING)


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
