"""The serve agent: a detached actor on the cluster through which commands change Serve.

Importing Ray Serve costs a command about a second (FastAPI, pandas, Serve's schemas) before
it can change anything; the agent has it loaded, so a traffic change from the CLI costs the
Ray connection and one call (a few hundred milliseconds of reconfiguring). It keeps no state
of its own: killed, it is restarted by Ray or made again by the next call. Its calls run one
at a time, so two commands changing Serve at once queue instead of racing.

Its name carries a digest of the installed Workbench code, so a changed install gets a new
agent instead of one still running the old code. Ray is imported inside the functions that
need it, never at module level (the services import this module).
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from workbench.core.deployments import DeploymentSpec
from workbench.core.settings import RAY_NAMESPACE
from workbench.core.version import __version__

AGENT_PREFIX = "serve-agent-"


class ServeAgent:
    """Body of the actor: Serve loaded once, called by `deploy`, `delete` and `status`."""

    def __init__(self) -> None:
        from workbench.serving import ray_app  # the second this module saves commands

        self._app = ray_app

    def deploy(self, spec: DeploymentSpec, http_port: int) -> None:
        """Serve's HTTP ingress on 127.0.0.1:`http_port`, then `spec` deployed and running."""
        self._app.start_http(http_port)
        self._app.deploy(spec)

    def delete(self, name: str) -> None:
        """Application `name` removed and its replicas gone."""
        self._app.delete(name)

    def status(self, name: str) -> dict[str, Any]:
        """Serve's view of application `name` (see `ray_app.application_status`)."""
        return self._app.application_status(name)


def deploy(spec: DeploymentSpec, http_port: int) -> None:
    """Create or update the Serve application for `spec` and wait until it runs."""
    _call("deploy", spec, http_port)


def delete(name: str) -> None:
    """Remove the Serve application `name` and wait until its replicas are gone."""
    _call("delete", name)


def application_status(name: str) -> dict[str, Any]:
    """Serve's view of one application: status, message, replicas by state."""
    result: dict[str, Any] = _call("status", name)
    return result


def _call(method: str, *args: Any) -> Any:
    """`method` on the agent, its own exception raised here (not Ray's wrapper of it)."""
    import ray  # deferred: see the module's docstring

    agent = (
        ray.remote(ServeAgent)
        .options(
            name=f"{AGENT_PREFIX}{code_digest()}",
            namespace=RAY_NAMESPACE,
            get_if_exists=True,
            lifetime="detached",  # outlives the command that made it
            num_cpus=0,
            max_restarts=-1,
            max_task_retries=1,  # each call is idempotent: a retry after a restart is safe
        )
        .remote()
    )
    try:
        return ray.get(getattr(agent, method).remote(*args))
    except ray.exceptions.RayTaskError as error:
        cause = error.cause
        raise cause if isinstance(cause, Exception) else RuntimeError(str(error)) from None


@cache
def code_digest() -> str:
    """A digest of the installed Workbench: its version and each module's size and mtime."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(package.rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path.relative_to(package)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]
