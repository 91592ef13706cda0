"""`workbench demo`: see the whole loop work in one command."""

from __future__ import annotations

import click

from workbench.cli.pipeline import ProgressPrinter, print_summary
from workbench.cli.render import console


@click.command("demo")
@click.option("--no-tui", is_flag=True, help="Print the summary only (the TUI is not built yet).")
def demo(no_tui: bool) -> None:
    """Train, evaluate and register the fraud model on an embedded Ray, then show where it is.

    Uses sample_projects/fraud_detection: 100k generated card transactions, a random
    forest trained on 2 Ray workers, a holdout evaluation, the AUC >= 0.90 gate, and
    model registration. Everything lands in the catalogue under WORKBENCH_HOME.
    """
    from workbench.core.settings import load_settings
    from workbench.services.demo import run_demo

    settings = load_settings()
    printer = ProgressPrinter(console(stderr=True))
    try:
        result = run_demo(settings, printer)
    finally:
        printer.close()
    out = console()
    print_summary(out, result)
    short = result.run_id[:12]
    out.print("\n[bold]next[/]")
    for command in (
        "workbench runs ls",
        f"workbench runs show {short}",
        f"workbench runs metrics {short} train_auc",
        'workbench catalogue sql "SELECT name, version, uri FROM model_versions"',
    ):
        out.print(f"  {command}")
    out.print(f"[dim]catalogue: {settings.catalogue_path}[/]")
