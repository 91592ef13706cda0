"""`workbench mlflow export|import`: runs and model versions to and from MLflow."""

from __future__ import annotations

from typing import Any

from workbench.catalogue.models import ModelLedger
from workbench.core.errors import NotFoundError
from workbench.core.settings import Settings
from workbench.interop import mlflow_store
from workbench.owner import open_catalogue
from workbench.services.models import parse_ref


def export(settings: Settings, target: str, tracking_uri: str) -> dict[str, Any]:
    """Export a run (RUN) or a model version (NAME:VERSION) and its source run."""
    with open_catalogue(settings) as catalogue:
        if ":" not in target and "@" not in target:
            run = catalogue.get_run(target)
            mlflow_run = mlflow_store.export_run(catalogue, run, tracking_uri)
            return {"run_id": run.run_id, "mlflow_run_id": mlflow_run}
        ref = parse_ref(target)
        registry = ModelLedger(catalogue)
        version = ref.version or (registry.alias_target(ref.name, ref.alias or "") or 0)
        row = registry.version(ref.name, version)
        if row is None:
            raise NotFoundError(f"no model version {target!r}", "list models: workbench models ls")
        run = catalogue.get_run(row["run_id"])
        mlflow_run = mlflow_store.export_run(catalogue, run, tracking_uri)
        mlflow_version = mlflow_store.export_model_version(
            ref.name, version, row["uri"], mlflow_run, tracking_uri
        )
    return {"run_id": run.run_id, "mlflow_run_id": mlflow_run, "model": ref.name,
            "version": version, "mlflow_version": mlflow_version}  # fmt: skip


def import_runs(settings: Settings, tracking_uri: str, experiment: str) -> list[str]:
    """Import an MLflow experiment's runs; ids of the runs created."""
    with open_catalogue(settings) as catalogue:
        return mlflow_store.import_experiment(catalogue, tracking_uri, experiment)
