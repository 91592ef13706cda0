"""`workbench mlflow export|import`: runs and model versions to and from MLflow."""

from __future__ import annotations

from typing import Any

from workbench.catalogue.models import ModelLedger
from workbench.core.errors import NotFoundError
from workbench.core.models import MODELS_HINT, ModelRef
from workbench.core.settings import Settings
from workbench.interop import mlflow_store
from workbench.owner import open_catalogue


def export(settings: Settings, target: str, tracking_uri: str) -> dict[str, Any]:
    """Export a run (RUN) or a model version (NAME:VERSION) and its source run."""
    with open_catalogue(settings) as catalogue:
        if ":" not in target and "@" not in target:
            run = catalogue.get_run(target)
            mlflow_run = mlflow_store.export_run(catalogue, run, tracking_uri)
            return {"run_id": run.run_id, "mlflow_run_id": mlflow_run}
        found = ModelLedger(catalogue).resolve(ModelRef.parse(target))
        if found.run_id is None:
            raise NotFoundError(f"{found.label} has no source run to export", MODELS_HINT)
        run = catalogue.get_run(found.run_id)
        mlflow_run = mlflow_store.export_run(catalogue, run, tracking_uri)
        mlflow_version = mlflow_store.export_model_version(
            found.name, found.version, found.uri, mlflow_run, tracking_uri
        )
    return {"run_id": run.run_id, "mlflow_run_id": mlflow_run, "model": found.name,
            "version": found.version, "mlflow_version": mlflow_version}  # fmt: skip


def import_runs(settings: Settings, tracking_uri: str, experiment: str) -> list[str]:
    """Import an MLflow experiment's runs; ids of the runs created."""
    with open_catalogue(settings) as catalogue:
        return mlflow_store.import_experiment(catalogue, tracking_uri, experiment)
