"""`workbench` entry point: the command group, error handling and exit codes.

Exit codes: 0 success, 1 an operation failed, 2 usage or input error. A user
error prints one line saying what is wrong and one with a hint, never a
traceback unless --debug.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from workbench.core.version import __version__


class WorkbenchGroup(click.Group):
    """Turns WorkbenchError (and anything unexpected) into a message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        from workbench.core.errors import WorkbenchError

        try:
            return super().invoke(ctx)
        except WorkbenchError as error:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            _print_error(error.message, error.hint)
            ctx.exit(error.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            _print_error("interrupted", "")
            ctx.exit(130)
        except Exception as error:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            _print_error(
                f"internal error: {type(error).__name__}: {error}".splitlines()[0],
                "rerun with --debug for the traceback, and report it",
            )
            ctx.exit(1)


def _print_error(message: str, hint: str) -> None:
    click.echo(click.style("error: ", fg="red", bold=True) + message, err=True)
    if hint:
        click.echo(click.style("hint: ", fg="yellow") + hint, err=True)


@click.group(
    cls=WorkbenchGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(__version__, "-V", "--version", prog_name="workbench")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Workbench: train, ship and watch models from the terminal.

    Every run, model version, deployment and drift check lands in one DuckDB
    catalogue under WORKBENCH_HOME, queryable offline with plain SQL.

    \b
    Examples:
      workbench runs ls --where "metrics.auc > 0.9" --sort -metrics.auc
      workbench runs metrics 3f2a loss
      workbench catalogue sql "SELECT status, count(*) FROM runs GROUP BY ALL"
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    if ctx.invoked_subcommand is None:
        if sys.stdin.isatty() and sys.stdout.isatty():
            from workbench.cli.tui import open_app

            open_app()
            return
        click.echo(ctx.get_help())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def version(as_json: bool) -> None:
    """Print the versions of Workbench and the engines it drives."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    from workbench.cli.render import emit_json

    versions = {"workbench": __version__, "python": sys.version.split()[0]}
    for name in ("ray", "duckdb", "mlflow", "textual", "pyarrow"):
        try:
            versions[name] = package_version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    if as_json:
        emit_json(versions)
        return
    for name, value in versions.items():
        click.echo(f"{name:<10} {value}")


def _register() -> None:
    from workbench.cli.catalogue import catalogue
    from workbench.cli.cluster import cluster
    from workbench.cli.demo import demo
    from workbench.cli.drift import drift
    from workbench.cli.feedback import feedback, quality
    from workbench.cli.mlflow import mlflow_group
    from workbench.cli.models import audit, models
    from workbench.cli.package import package
    from workbench.cli.pipeline import run
    from workbench.cli.runs import runs
    from workbench.cli.serve import deployments, predict, serve
    from workbench.cli.sweep import sweep
    from workbench.cli.telemetry import telemetry
    from workbench.cli.tui import tui

    cli.add_command(demo)
    cli.add_command(run)
    cli.add_command(sweep)
    cli.add_command(runs)
    cli.add_command(models)
    cli.add_command(audit)
    cli.add_command(package)
    cli.add_command(mlflow_group)
    cli.add_command(serve)
    cli.add_command(deployments)
    cli.add_command(predict)
    cli.add_command(cluster)
    cli.add_command(catalogue)
    cli.add_command(telemetry)
    cli.add_command(feedback)
    cli.add_command(quality)
    cli.add_command(drift)
    cli.add_command(tui)


_register()


def main() -> None:
    """Console-script entry point."""
    if "--json" in sys.argv[1:]:
        from workbench.cli.render import keep_stdout_for_json

        keep_stdout_for_json()
    try:
        cli(prog_name="workbench")
    finally:
        if "ray" in sys.modules:  # only a command that loaded Ray can have joined it
            from workbench.services.cluster import disconnect

            disconnect()
