"""`workbench catalogue ...`: SQL, export, import and where the file lives."""

from __future__ import annotations

from pathlib import Path

import click

from workbench.cli.render import console, emit_json, print_table


@click.group()
def catalogue() -> None:
    """Query, back up and restore the DuckDB catalogue."""


@catalogue.command("sql")
@click.argument("query")
@click.option("--json", "as_json", is_flag=True, help="Print rows as a JSON list of objects.")
@click.option("--limit", "-n", default=1000, show_default=True, help="Rows to print at most.")
def sql(query: str, as_json: bool, limit: int) -> None:
    """Run one read-only SQL statement (SELECT, DESCRIBE, SHOW, SUMMARIZE).

    \b
    Tables: runs, params, metrics, latest_metrics, tags, artifacts, model_versions,
    model_aliases, deployments, requests, drift_*, resource_samples, pipeline_runs,
    audit_events, telemetry_*, run_resources, run_alerts, feedback, request_rows.
    Writes (INSERT, UPDATE, DELETE, ATTACH, COPY, ...) are refused.
    """
    from workbench.core.settings import load_settings
    from workbench.services.catalogue_admin import run_sql

    table = run_sql(load_settings(), query)
    rows = table.slice(0, limit).to_pylist()
    if as_json:
        emit_json(rows)
        return
    cells = [["NULL" if v is None else str(v) for v in row.values()] for row in rows]
    print_table(table.column_names, cells)
    more = f" (showing {limit})" if table.num_rows > limit else ""
    click.echo(f"{table.num_rows} rows{more}", err=True)


@catalogue.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--telemetry",
    is_flag=True,
    help="Also export the telemetry samples and their minute aggregates (large).",
)
@click.option("--json", "as_json", is_flag=True, help="Print rows per table as JSON.")
def export(directory: Path, telemetry: bool, as_json: bool) -> None:
    """Write every table to DIRECTORY as Parquet, with a manifest.

    \b
    Runs, models, deployments, requests, drift, audit and each run's resources and alerts
    are always exported; the telemetry samples only with --telemetry. Example:
      workbench catalogue export backups/2026-12-02 --telemetry
    """
    from workbench.core.settings import load_settings
    from workbench.services.catalogue_admin import export_to

    counts = export_to(load_settings(), directory, telemetry=telemetry)
    _report("exported", directory, counts, as_json)


@catalogue.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print rows per table as JSON.")
def import_(directory: Path, as_json: bool) -> None:
    """Load an export from DIRECTORY into this catalogue, all or nothing."""
    from workbench.core.settings import load_settings
    from workbench.services.catalogue_admin import import_from

    counts = import_from(load_settings(), directory)
    _report("imported", directory, counts, as_json)


def _report(verb: str, directory: Path, counts: dict[str, int], as_json: bool) -> None:
    if as_json:
        emit_json({"directory": str(directory), "tables": counts})
        return
    total = sum(counts.values())
    console(stderr=True).print(f"{verb} {total} rows in {len(counts)} tables ({directory})")


@catalogue.command("path")
def path() -> None:
    """Print the catalogue file's path (WORKBENCH_HOME/catalogue.duckdb)."""
    from workbench.core.settings import load_settings

    click.echo(str(load_settings().catalogue_path))
