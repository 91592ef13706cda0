"""`workbench sweep`: Ray Tune trials over a project's parameters, each trial a child run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.catalogue.pipelines import PipelineLedger
from workbench.compute import cluster
from workbench.compute.tuning import run_trials
from workbench.core.entities import RunStatus
from workbench.core.errors import InvalidInputError, WorkbenchError
from workbench.core.search_space import parse_space
from workbench.core.settings import Settings, load_settings
from workbench.core.spec import load_spec
from workbench.owner import open_catalogue
from workbench.services.driver import driver_info, heartbeat
from workbench.services.lineage import collect_lineage


@dataclass(frozen=True)
class SweepRequest:
    project_dir: Path
    items: dict[str, str]  # K=V or K=distribution(...)
    trials: int
    concurrency: int | None = None
    seed: int | None = None


@dataclass
class SweepResult:
    run_id: str
    metric: str
    mode: str
    trials: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "metric": self.metric,
            "mode": self.mode,
            "trials": self.trials,
            "best": self.best,
        }


class _Silent:
    def run_started(self, *args: object) -> None: ...
    def step_started(self, *args: object) -> None: ...
    def step_finished(self, *args: object) -> None: ...


def run_sweep(settings: Settings, request: SweepRequest) -> SweepResult:
    """Run the trials, record each as a child run, and mark the best one."""
    spec = load_spec(request.project_dir)
    space, fixed = parse_space(spec, request.items)
    if request.trials < 1:
        raise InvalidInputError(f"--trials must be at least 1, got {request.trials}")
    metric = spec.evaluation.primary
    if metric is None:
        raise InvalidInputError(
            f"{spec.name} has no [evaluation] primary metric to compare trials by",
            'add `primary = "auc"` under [evaluation] in workbench.toml',
        )
    mode = "max" if spec.evaluation.higher_is_better else "min"
    connection = cluster.connect(settings)
    per_trial = max(
        (spec.resources.workers * spec.resources.cpus_per_worker if s.distributed
         else spec.resources.cpus_per_worker) for s in spec.steps
    )  # fmt: skip
    cluster.require_resources(1, per_trial, 0)
    available = connection.resources.get("CPU", 1.0)
    concurrency = request.concurrency or max(1, int(available // per_trial))
    if concurrency < 1:
        raise InvalidInputError(f"--concurrency must be at least 1, got {concurrency}")
    with open_catalogue(settings) as catalogue:
        run_id = catalogue.create_run(
            spec.name,
            params=fixed,
            kind="sweep",
            lineage=collect_lineage(request.project_dir.resolve(), connection),
            tags={
                "search_space": ", ".join(f"{k}={d.describe()}" for k, d in space.items()),
                "trials": str(request.trials),
                "concurrency": str(concurrency),
            },
        )
        PipelineLedger(catalogue).set_driver(run_id, driver_info())
    result = SweepResult(run_id, metric, mode)
    try:
        with heartbeat(settings, run_id):
            reported = run_trials(
                _trial,
                {
                    "home": str(settings.home),
                    "project_dir": str(request.project_dir.resolve()),
                    "fixed": {k: str(v) for k, v in fixed.items()},
                    "parent_run_id": run_id,
                    "metric": metric,
                },
                space,
                trials=request.trials,
                concurrency=concurrency,
                metric=metric,
                mode=mode,
                storage_dir=settings.run_dir(run_id),
                seed=request.seed,
            )
    except Exception as error:
        with open_catalogue(settings) as catalogue:
            catalogue.set_status(run_id, RunStatus.FAILED, error=str(error).splitlines()[0])
        raise
    result.trials = reported
    _mark_best(settings, result)
    return result


def _mark_best(settings: Settings, result: SweepResult) -> None:
    scored = [
        t for t in result.trials if isinstance(t.get("metrics", {}).get(result.metric), float)
    ]
    with open_catalogue(settings) as catalogue:
        if not scored:
            catalogue.set_status(result.run_id, RunStatus.FAILED, error="no trial reported a score")
            raise WorkbenchError(
                f"sweep {result.run_id[:12]}: no trial reported {result.metric!r}",
                f"see the trials: workbench runs ls --where \"parent_run_id = '{result.run_id}'\"",
                exit_code=1,
            )
        pick = max if result.mode == "max" else min
        best = pick(scored, key=lambda t: float(t["metrics"][result.metric]))
        result.best = best
        catalogue.set_tags(str(best["run_id"]), {"best_trial": "true"})
        catalogue.set_tags(result.run_id, {"best_run_id": str(best["run_id"])})
        catalogue.log_metric(result.run_id, result.metric, best["metrics"][result.metric], step=0)
        catalogue.finish_run(result.run_id)


def _trial(
    config: dict[str, Any],
    *,
    home: str,
    project_dir: str,
    fixed: dict[str, str],
    parent_run_id: str,
    metric: str,
) -> None:
    """One Tune trial: the whole pipeline as a child run (unchanged steps come from cache)."""
    from workbench.compute.tuning import report
    from workbench.services.pipeline import RunRequest, run_pipeline

    overrides = {**fixed, **{k: str(v) for k, v in config.items()}}
    request = RunRequest(
        Path(project_dir), overrides=overrides, parent_run_id=parent_run_id, register=False
    )
    outcome = run_pipeline(load_settings(home), request, _Silent())
    report({"run_id": outcome.run_id, "metrics": outcome.metrics})
