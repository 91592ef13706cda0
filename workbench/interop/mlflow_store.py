"""Copy runs and model versions between the catalogue and an MLflow tracking store.

MLflow is imported inside these functions: it costs ~1.7 s and only these commands need it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from typing import Any

from workbench.catalogue import Catalogue
from workbench.core.entities import Run, RunStatus
from workbench.core.errors import WorkbenchError

SOURCE_TAG = "workbench.run_id"  # on MLflow runs we exported
IMPORTED_TAG = "mlflow.source_run_id"  # on Workbench runs we imported
_TO_MLFLOW = {
    RunStatus.FINISHED: "FINISHED",
    RunStatus.FAILED: "FAILED",
    RunStatus.CRASHED: "FAILED",
    RunStatus.CANCELLED: "KILLED",
}
_FROM_MLFLOW = {"FINISHED": RunStatus.FINISHED, "FAILED": RunStatus.FAILED,
                "KILLED": RunStatus.CANCELLED}  # fmt: skip
BATCH = 1000  # MLflow's own limit on metrics per log_batch


def _client(tracking_uri: str) -> Any:
    import mlflow  # deferred: heavy, and only these commands need it

    return mlflow.MlflowClient(tracking_uri=tracking_uri)


def export_run(catalogue: Catalogue, run: Run, tracking_uri: str) -> str:
    """Write one run (params, full metric histories, tags, status) to MLflow; its MLflow id."""
    from mlflow.entities import Metric, Param, RunTag

    client = _client(tracking_uri)
    experiment = client.get_experiment_by_name(run.project)
    experiment_id = (
        experiment.experiment_id if experiment else client.create_experiment(run.project)
    )
    tags = {**run.tags, SOURCE_TAG: run.run_id, "mlflow.runName": run.name or run.run_id[:12]}
    created = client.create_run(experiment_id, start_time=_ms(run.started_at or run.created_at),
                                tags=tags)  # fmt: skip
    mlflow_id = str(created.info.run_id)
    client.log_batch(mlflow_id, params=[Param(k, v) for k, v in run.params.items()])
    for chunk in _chunks(catalogue.metric_points(run.run_id), BATCH):
        client.log_batch(mlflow_id, metrics=[Metric(k, v, t, s) for k, v, t, s in chunk])
    client.log_batch(mlflow_id, tags=[RunTag("workbench.status", str(run.status))])
    status = _TO_MLFLOW.get(run.status, "RUNNING")
    if status != "RUNNING":
        client.set_terminated(mlflow_id, status=status, end_time=_ms(run.ended_at))
    return mlflow_id


def export_model_version(name: str, version: int, uri: str, mlflow_run_id: str,
                         tracking_uri: str) -> str:  # fmt: skip
    """Register `uri` as a version of `name` in MLflow's registry; the MLflow version."""
    client = _client(tracking_uri)
    try:
        client.get_registered_model(name)
    except Exception:  # MLflow raises its own RestException subclasses for "not found"
        client.create_registered_model(name)
    created = client.create_model_version(
        name, source=uri, run_id=mlflow_run_id, tags={"workbench.version": str(version)}
    )
    return str(created.version)


def import_experiment(catalogue: Catalogue, tracking_uri: str, experiment: str) -> list[str]:
    """Bring every run of an MLflow experiment into the catalogue (once); new run ids."""
    client = _client(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise WorkbenchError(f"MLflow store {tracking_uri} has no experiment {experiment!r}",
                             "list them with mlflow.search_experiments()")  # fmt: skip
    seen = catalogue.tag_values(IMPORTED_TAG)
    imported = []
    for source in client.search_runs([found.experiment_id], max_results=50_000):
        if source.info.run_id in seen:
            continue
        tags = {k: v for k, v in source.data.tags.items() if not k.startswith("mlflow.")}
        tags[IMPORTED_TAG] = source.info.run_id
        run_id = catalogue.create_run(
            experiment, name=source.info.run_name, params=source.data.params, tags=tags,
            status=RunStatus.RUNNING,
        )  # fmt: skip
        for key in source.data.metrics:
            history = client.get_metric_history(source.info.run_id, key)
            catalogue.log_metric_history(run_id, key, [m.step for m in history],
                                  [m.value for m in history],
                                  [m.timestamp * 1000 for m in history])  # fmt: skip
        catalogue.set_status(run_id, _FROM_MLFLOW.get(source.info.status, RunStatus.RUNNING))
        imported.append(run_id)
    catalogue.flush()
    return imported


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _ms(value: Any) -> int | None:
    # Catalogue timestamps are naive UTC.
    return int(value.replace(tzinfo=UTC).timestamp() * 1000) if value is not None else None
