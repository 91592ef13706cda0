"""Reading runs: list, show, metric history."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.compute.owner import open_catalogue
from workbench.core.entities import Run
from workbench.core.settings import Settings

if TYPE_CHECKING:
    import pyarrow as pa


def list_runs(
    settings: Settings,
    *,
    project: str | None = None,
    status: str | None = None,
    where: str | None = None,
    sort: str | None = None,
    limit: int = 50,
) -> list[Run]:
    """Runs matching the filters, newest first unless `sort` says otherwise."""
    with open_catalogue(settings) as catalogue:
        return catalogue.search_runs(
            project=project, status=status, where=where, sort=sort, limit=limit
        )


def show_run(settings: Settings, ref: str) -> Run:
    """One run by id or unique prefix."""
    with open_catalogue(settings) as catalogue:
        return catalogue.get_run(ref)


def metric_history(settings: Settings, ref: str, key: str) -> tuple[str, pa.Table]:
    """The full run id and the (step, timestamp, value) history of one metric."""
    with open_catalogue(settings) as catalogue:
        run_id = catalogue.resolve_run_id(ref)
        return run_id, catalogue.metric_history(run_id, key)
