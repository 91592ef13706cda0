"""`runs logs RUN [--follow]`: a run's driver output, wherever it is kept.

A run submitted with --detach is a Ray job: its driver log is read through the cluster's
Jobs API (so it works from a laptop against a shared cluster, and after reconnecting), and
`follow` streams it until the job ends; leaving the stream leaves the run running. A run the
app launched has its log under `home/logs`, followed by polling the file until the run ends.
A run started in a terminal printed there, and nothing else was kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from workbench.catalogue.pipelines import PipelineLedger
from workbench.core.entities import Run
from workbench.core.errors import InvalidInputError
from workbench.core.settings import Settings
from workbench.owner import open_catalogue
from workbench.services.control import job_client
from workbench.services.runs import launch_log_of

FOLLOW_POLL_S = 0.5
Write = Callable[[str], None]


def print_logs(settings: Settings, ref: str, write: Write, *, follow: bool = False) -> None:
    """Write a run's driver output; with `follow`, go on until the run ends."""
    with open_catalogue(settings) as catalogue:
        run = catalogue.get_run(ref)
        driver = PipelineLedger(catalogue).driver(run.run_id)
    job_id = driver.get("job_id")
    if job_id:
        _job_logs(settings, str(job_id), write, follow)
        return
    launched = launch_log_of(settings, run)
    if launched is None:
        where = f" (pid {driver['pid']} on {driver.get('host', '?')})" if driver.get("pid") else ""
        raise InvalidInputError(
            f"no log kept for run {run.run_id[:12]}: its driver{where} wrote to the terminal "
            "that started it",
            "runs submitted with --detach or launched from the app keep one",
        )
    _file_logs(settings, run, launched, write, follow)


def _job_logs(settings: Settings, job_id: str, write: Write, follow: bool) -> None:
    client = job_client(settings, job_id)
    if not follow:
        write(client.get_job_logs(job_id))
        return

    async def stream() -> None:
        async for chunk in client.tail_job_logs(job_id):
            write(chunk)

    asyncio.run(stream())


def _file_logs(settings: Settings, run: Run, path: Path, write: Write, follow: bool) -> None:
    with path.open(errors="replace") as log:
        write(log.read())
        while follow and not _ended(settings, run.run_id):
            time.sleep(FOLLOW_POLL_S)  # a poll: a file written by another process sends no event
            write(log.read())
        write(log.read())


def _ended(settings: Settings, run_id: str) -> bool:
    with open_catalogue(settings) as catalogue:
        return catalogue.get_run(run_id).status.terminal
