"""What a run's driver process does beside its steps: say who it is, and beat while it lives.

`runs cancel` signals the driver recorded here; the owner's sweeper marks a run whose
heartbeats stop as crashed. Used by `workbench run` and `workbench sweep` alike.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from workbench.catalogue.pipelines import PipelineLedger
from workbench.compute.cluster import submission_id
from workbench.core.settings import Settings
from workbench.owner import open_catalogue

HEARTBEAT_S = 5.0


def driver_info() -> dict[str, Any]:
    """Who drives a run: what `runs cancel` signals and the heartbeat sweeper watches."""
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "job_id": submission_id(),
    }


@contextmanager
def heartbeat(settings: Settings, run_id: str) -> Iterator[None]:
    """Beat every HEARTBEAT_S seconds from a thread, through its own catalogue client."""
    stop = threading.Event()

    def beat() -> None:
        catalogue = open_catalogue(settings)
        ledger = PipelineLedger(catalogue)
        try:
            while not stop.wait(HEARTBEAT_S):
                ledger.heartbeat(run_id)
        finally:
            catalogue.close()

    thread = threading.Thread(target=beat, name="workbench-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=HEARTBEAT_S + 5)
