"""`workbench sweep`: a Ray Tune search over a project's parameters."""

from __future__ import annotations

from pathlib import Path

import click

from workbench.cli.pipeline import parse_params
from workbench.cli.render import console, emit_json, format_value, print_table


@click.command("sweep")
@click.argument("project_dir", type=click.Path(path_type=Path))
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="K=SPEC",
    help="A distribution (uniform, loguniform, randint, choice) or a fixed value.",
)
@click.option("--trials", "-n", type=int, required=True, help="How many trials to run.")
@click.option("--concurrency", "-c", type=int, help="Trials at once (default: what fits).")
@click.option("--seed", type=int, help="Seed for sampling the space (repeatable sweeps).")
@click.option("--json", "as_json", is_flag=True, help="Print every trial and the best as JSON.")
def sweep(
    project_dir: Path,
    params: tuple[str, ...],
    trials: int,
    concurrency: int | None,
    seed: int | None,
    as_json: bool,
) -> None:
    """Search PROJECT_DIR's parameters with Ray Tune; each trial is a child run.

    Trials are compared by the project's [evaluation] primary metric; the best is
    tagged best_trial=true and the sweep run gets best_run_id. Steps a trial shares
    with earlier ones (data preparation) come from the step cache.

    \b
    Example:
      workbench sweep sample_projects/fraud_detection --trials 8 \\
          --param 'max_depth=randint(4,16)' --param 'n_estimators=choice(100,200)'
    """
    from workbench.core.settings import load_settings
    from workbench.services.sweep import SweepRequest, run_sweep

    request = SweepRequest(project_dir, parse_params(params), trials, concurrency, seed)
    with console(stderr=True).status(f"running {trials} trials ..."):
        result = run_sweep(load_settings(), request)
    if as_json:
        emit_json(result.to_json())
        return
    shown = [k for k, v in request.items.items() if "(" in v]
    best_id = result.best["run_id"] if result.best else None
    rows: list[list[str]] = []
    for trial in result.trials:
        values = [format_value(trial["config"].get(k)) for k in shown]
        if "error" in trial:
            rows.append(["-", *values, "failed", trial["error"][:60]])
            continue
        mark = "[green]best[/]" if trial["run_id"] == best_id else ""
        score = format_value(trial["metrics"].get(result.metric))
        rows.append([trial["run_id"][:12], *values, score, mark])
    columns = ("TRIAL", *shown, result.metric.upper(), "")
    print_table(columns, rows, title=f"sweep {result.run_id[:12]}")
