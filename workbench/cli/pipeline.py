"""`workbench run`: run a project's pipeline on Ray, with progress on stderr."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from workbench.cli.render import console, emit_json, format_value

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

    from workbench.core.spec import ProjectSpec, StepSpec
    from workbench.services.pipeline import RunResult

HOW_STYLE = {"ran": "green", "cached": "cyan", "resumed": "blue"}


def parse_params(values: tuple[str, ...]) -> dict[str, str]:
    """`--param K=V` pairs as a dict; a value may itself contain '='."""
    params: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected K=V, got {item!r}", param_hint="--param")
        params[key.strip()] = value
    return params


class ProgressPrinter:
    """Step-by-step progress on stderr: what runs, what was cached, how long each took."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self.status: Status | None = None

    def run_started(self, run_id: str, spec: ProjectSpec, attempt: int) -> None:
        again = f" (attempt {attempt})" if attempt > 1 else ""
        self.out.print(f"[bold]run {run_id[:12]}[/] {spec.name}{again}")

    def step_started(self, step: StepSpec, index: int, total: int) -> None:
        where = f" on {step.runner}" if step.runner == "torch" else ""
        self.status = self.out.status(f"[{index + 1}/{total}] {step.name}{where} ...")
        self.status.start()

    def step_finished(self, step: StepSpec, status: str, seconds: float) -> None:
        self.close()
        style = HOW_STYLE.get(status, "")
        self.out.print(f"  {step.name:<12} [{style}]{status:<8}[/] {seconds:6.1f}s")

    def close(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None


@click.command("run")
@click.argument("project_dir", type=click.Path(path_type=Path))
@click.option("--param", "params", multiple=True, metavar="K=V", help="Override a parameter.")
@click.option("--workers", type=int, help="Workers for distributed steps (default: the spec's).")
@click.option("--gpus-per-worker", type=float, help="GPUs per worker (NCCL when > 0).")
@click.option("--resume", metavar="RUN_ID", help="Continue a crashed, failed or cancelled run.")
@click.option("--detach", is_flag=True, help="Submit to the cluster and return at once.")
@click.option("--adopt", hidden=True, help="Internal: drive a run queued by --detach.")
@click.option("--alias", metavar="ALIAS", help="Point ALIAS at the version it registers.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def run(
    project_dir: Path,
    params: tuple[str, ...],
    workers: int | None,
    gpus_per_worker: float | None,
    resume: str | None,
    detach: bool,
    adopt: str | None,
    alias: str | None,
    as_json: bool,
) -> None:
    """Run the pipeline of the project in PROJECT_DIR (its workbench.toml) on Ray.

    \b
    With no cluster up (`workbench cluster up`), an embedded Ray uses this machine's cores.
    Every step, param and metric lands in the catalogue; unchanged steps are reused.
    Exit code 1 when a step fails or the registration gate rejects the model.

    \b
    Examples:
      workbench run sample_projects/fraud_detection --param n_rows=50000
      workbench run sample_projects/predictive_maintenance --workers 2 --detach
      workbench run sample_projects/predictive_maintenance --resume 3f2a9c
    """
    from workbench.core.settings import load_settings
    from workbench.services.pipeline import RunRequest

    if alias is not None:
        from workbench.services.models import check_run_alias

        check_run_alias(alias)
    settings = load_settings()
    request = RunRequest(
        project_dir=project_dir,
        overrides=parse_params(params),
        workers=workers,
        gpus_per_worker=gpus_per_worker,
        resume=resume,
        adopt_run_id=adopt,
        alias=alias,
    )
    if detach:
        from workbench.services.control import submit_detached

        submitted = submit_detached(settings, request)
        if as_json:
            emit_json(submitted)
        else:
            click.echo(f"submitted run {submitted['run_id']} as Ray job {submitted['job_id']}")
            click.echo(f"follow it: workbench runs show {submitted['run_id'][:12]}", err=True)
        return
    from workbench.services.pipeline import run_pipeline

    printer = ProgressPrinter(console(stderr=True))
    try:
        result = run_pipeline(settings, request, printer)
    finally:
        printer.close()
    if as_json:
        emit_json(result.to_json())
    else:
        print_summary(console(), result)
    rejection = result.gate_rejection()
    if rejection is not None:
        raise rejection


def print_summary(out: Console, result: RunResult) -> None:
    """What a run ended with: status, metrics, the gate's checks, the registered model."""
    out.print(f"[bold green]{result.status}[/] run {result.run_id}")
    for key, value in sorted(result.metrics.items()):
        out.print(f"  {key:<24} {format_value(value)}")
    if result.gate is not None:
        verdict = "[green]passed[/]" if result.gate.passed else "[red]rejected[/]"
        out.print(f"  gate {verdict}")
        for check in result.gate.checks:
            mark = "[green]✓[/]" if check.passed else "[red]✗[/]"
            out.print(f"    {mark} {check.detail}")
    if result.model is not None:
        name, version = result.model
        if result.model_is_new:
            out.print(f"  registered [bold]{name}[/] v{version}")
        else:
            out.print(f"  model unchanged: same bytes as [bold]{name}[/] v{version}")
