"""A detached, named actor that calls one task every period on the cluster, like a cron job.

The task is a picklable callable the caller supplies (a service's check, say); it runs on
the actor's thread, so it must not need the caller's process. A failing call is logged and
the next one runs on time. Ray is imported inside the functions that need it, never here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from workbench.core.settings import RAY_NAMESPACE

_log = logging.getLogger(__name__)


class PeriodicActor:
    """Body of the actor: `task()` every `period_s` seconds on a thread, first after one period."""

    def __init__(self, task: Callable[[], object], period_s: float) -> None:
        if not period_s > 0:
            raise ValueError(f"period must be above 0 seconds, got {period_s}")
        self._task = task
        self._period_s = period_s
        self._runs = 0
        self._failures = 0
        self._last_error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="workbench-periodic", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._period_s):
            self.run_now()

    def run_now(self) -> bool:
        """Run the task once now (also what the thread does each period); True if it passed."""
        started = time.monotonic()
        try:
            self._task()
        except Exception as error:  # noqa: BLE001 - one failed call never stops the schedule
            self._failures += 1
            self._last_error = f"{type(error).__name__}: {error}"[:300]
            _log.exception("periodic task failed after %.1f s", time.monotonic() - started)
            return False
        finally:
            self._runs += 1
        return True

    def info(self) -> dict[str, Any]:
        """Runs so far, failures and the last error."""
        return {
            "period_s": self._period_s,
            "runs": self._runs,
            "failures": self._failures,
            "last_error": self._last_error,
        }

    def stop(self) -> None:
        """Stop after the call in progress, if any."""
        self._stop.set()


def ensure_periodic(name: str, task: Callable[[], object], period_s: float) -> Any:
    """Get, or start, the detached actor `name` calling `task` every `period_s`; its handle.

    An actor that exists already keeps the task and period it was started with.
    """
    import ray  # deferred: importing this module must not load Ray

    actor_class = ray.remote(PeriodicActor)
    return actor_class.options(
        name=name,
        namespace=RAY_NAMESPACE,
        get_if_exists=True,
        lifetime="detached",  # outlives the CLI that started it
        num_cpus=0,
        max_restarts=-1,
    ).remote(task, period_s)


def stop_periodic(name: str) -> bool:
    """Stop and kill the actor `name`; False when there was none."""
    import ray

    try:
        actor = ray.get_actor(name, namespace=RAY_NAMESPACE)
    except ValueError:
        return False
    try:
        ray.get(actor.stop.remote(), timeout=30)
    except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
        pass  # dead or stuck: killed below all the same
    ray.kill(actor, no_restart=True)
    return True
