"""`workbench mlflow export|import`: interoperate with an MLflow tracking store."""

from __future__ import annotations

import click

from workbench.cli.render import emit_json


@click.group("mlflow")
def mlflow_group() -> None:
    """Copy runs and model versions to and from an MLflow tracking store."""


@mlflow_group.command("export")
@click.argument("target", metavar="RUN|NAME:VERSION")
@click.option("--tracking-uri", required=True, help="e.g. sqlite:///mlflow.db or http://host:5000")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def export(target: str, tracking_uri: str, as_json: bool) -> None:
    """Write a run (params, metric histories, tags) or a model version to MLflow."""
    from workbench.core.settings import load_settings
    from workbench.services.mlflow_sync import export as export_target

    done = export_target(load_settings(), target, tracking_uri)
    if as_json:
        emit_json(done)
        return
    click.echo(f"exported run {done['run_id'][:12]} as MLflow run {done['mlflow_run_id']}")
    if "model" in done:
        click.echo(f"registered {done['model']} v{done['version']} as MLflow version "
                   f"{done['mlflow_version']}")  # fmt: skip


@mlflow_group.command("import")
@click.option("--tracking-uri", required=True, help="e.g. sqlite:///mlflow.db")
@click.option("--experiment", required=True, help="MLflow experiment name; becomes the project.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def import_(tracking_uri: str, experiment: str, as_json: bool) -> None:
    """Bring an MLflow experiment's runs into the catalogue (runs already imported are skipped)."""
    from workbench.core.settings import load_settings
    from workbench.services.mlflow_sync import import_runs

    created = import_runs(load_settings(), tracking_uri, experiment)
    if as_json:
        emit_json({"imported": created})
        return
    click.echo(f"imported {len(created)} runs into project {experiment!r}")
