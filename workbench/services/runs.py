"""Reading runs: list, show, metric history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.catalogue.models import ModelLedger
from workbench.catalogue.pipelines import PipelineLedger
from workbench.core.entities import Run, RunStatus
from workbench.core.models import ModelVersion
from workbench.core.settings import Settings
from workbench.owner import open_catalogue

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


@dataclass(frozen=True)
class RunDetails:
    """A run plus what its pipeline left: steps, gate verdict, models, traceback."""

    run: Run
    steps: list[dict[str, Any]]
    gate: dict[str, Any] | None
    models: list[ModelVersion]
    traceback: str | None

    def to_json(self) -> dict[str, Any]:
        """The `runs show --json` document."""
        models = [
            {"name": m.name, "version": m.version, "uri": m.uri, "sha256": m.sha256,
             "created_at": m.created_at}
            for m in self.models
        ]  # fmt: skip
        return {
            **self.run.to_json(),
            "steps": self.steps,
            "gate": self.gate,
            "models": models,
            "traceback": self.traceback,
        }


def show_run(settings: Settings, ref: str) -> RunDetails:
    """One run by id or unique prefix, with its steps, gate, models and traceback."""
    with open_catalogue(settings) as catalogue:
        run = catalogue.get_run(ref)
        pipeline = PipelineLedger(catalogue)
        return RunDetails(
            run=run,
            steps=pipeline.steps(run.run_id),
            gate=pipeline.gate(run.run_id),
            models=ModelLedger(catalogue).versions(run.run_id),
            traceback=catalogue.run_traceback(run.run_id),
        )


def cancel(settings: Settings, ref: str) -> RunStatus:
    """Stop a queued or running run; it ends `cancelled`."""
    from workbench.services.control import cancel_run

    return cancel_run(settings, ref)


def metric_history(settings: Settings, ref: str, key: str) -> tuple[str, pa.Table]:
    """The full run id and the (step, timestamp, value) history of one metric."""
    with open_catalogue(settings) as catalogue:
        run_id = catalogue.resolve_run_id(ref)
        return run_id, catalogue.metric_history(run_id, key)
