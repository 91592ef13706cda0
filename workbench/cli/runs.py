"""`workbench runs ...`: list, show and chart runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from workbench.cli.render import (
    STATUS_STYLE,
    Column,
    console,
    emit_json,
    format_value,
    print_table,
    short_duration,
    short_time,
)

if TYPE_CHECKING:
    from workbench.core.entities import Run
    from workbench.services.run_resources import RunResources
    from workbench.services.runs import RunDetails


@click.group()
def runs() -> None:
    """List, inspect and chart runs recorded in the catalogue."""


@runs.command("ls")
@click.option("--project", "-p", help="Only runs of this project.")
@click.option("--status", "-s", help="Only runs in this status (running, finished, failed, ...).")
@click.option(
    "--where",
    "-w",
    metavar="EXPR",
    help="Filter, e.g. \"params.lr = '0.01' and metrics.auc > 0.9\". "
    "Columns: attributes, params.K, metrics.K (latest value), tags.K.",
)
@click.option("--sort", metavar="KEY", help="Sort key; '-' for descending, e.g. -metrics.auc.")
@click.option("--limit", "-n", default=50, show_default=True, help="At most this many runs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list of runs).")
def ls(
    project: str | None,
    status: str | None,
    where: str | None,
    sort: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List runs, newest first."""
    from workbench.core.settings import load_settings
    from workbench.services.runs import list_runs

    found = list_runs(
        load_settings(), project=project, status=status, where=where, sort=sort, limit=limit
    )
    if as_json:
        emit_json([run.to_json() for run in found])
        return
    _print_runs(found)


def _print_runs(found: list[Run]) -> None:
    out = console()
    if not found:
        out.print("no runs yet", style="dim")
        return
    named = any(run.name for run in found)
    columns = [
        Column("RUN", no_wrap=True, min_width=12),
        Column("PROJECT", no_wrap=True, max_width=24),
        *([Column("NAME", no_wrap=True, max_width=20)] if named else []),
        Column("STATUS", no_wrap=True, min_width=9),
        Column("TRY", no_wrap=True, justify="right"),
        Column("CREATED", no_wrap=True, min_width=19),
        Column("TOOK", no_wrap=True, justify="right"),
        Column("METRICS", overflow="fold", ratio=1),
    ]
    rows: list[list[str]] = []
    for run in found:
        metrics = "  ".join(f"{k}={format_value(v)}" for k, v in sorted(run.metrics.items())[:4])
        cells = [run.run_id[:12], run.project]
        if named:
            cells.append(run.name or "-")
        cells += [
            f"[{STATUS_STYLE.get(run.status, '')}]{run.status}[/]",
            str(run.attempt),
            short_time(run.created_at),
            short_duration(run.duration_s),
            metrics or "-",
        ]
        rows.append(cells)
    print_table(columns, rows, pad_edge=False, out=out)


@runs.command("show")
@click.argument("run")
@click.option("--traceback", "show_traceback", is_flag=True, help="Print a failed run's traceback.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(run: str, show_traceback: bool, as_json: bool) -> None:
    """Show one run: status, lineage, params, metrics, steps, gate and models.

    RUN is an id or a unique prefix of one (at least 4 characters).
    """
    from workbench.core.settings import load_settings
    from workbench.services.run_resources import run_resources
    from workbench.services.runs import show_run

    settings = load_settings()
    details = show_run(settings, run)
    if show_traceback and not as_json:
        click.echo(details.traceback or f"run {details.run.run_id[:12]} has no traceback")
        return
    resources = run_resources(settings, details.run.run_id, details.run.ended_at)
    if as_json:
        emit_json({**details.to_json(), "resources": resources.to_json()})
        return
    _print_run(details)
    _print_resources(resources)


def _print_resources(resources: RunResources) -> None:
    """The `resources` section: CPU/GPU-hours, peaks, cost and alerts; nothing without samples."""
    out = console()
    usage = resources.usage
    if not usage.samples:
        out.print("resources [dim]no attributed telemetry samples[/]")
        return
    rows = [
        ("cpu-hours", f"{usage.cpu_hours:.3f}"),
        ("gpu-hours", f"{usage.gpu_hours:.3f}"),
        ("peak memory", _bytes(usage.peak_rss_bytes)),
        ("peak gpu mem", _bytes(usage.peak_gpu_memory_bytes)),
        ("cost", f"{resources.cost:.2f}" + ("" if resources.final else " (so far)")),
    ]
    print_table(
        (Column(style="dim"), Column()),
        rows,
        title="resources",
        title_justify="left",
        show_header=False,
        out=out,
    )
    for alert in resources.alerts:
        out.print(f"  [yellow]![/] {alert.kind}: {alert.detail}")


def _bytes(value: int | None) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def _print_run(details: RunDetails) -> None:
    run = details.run
    out = console()
    style = STATUS_STYLE.get(run.status, "")
    out.print(f"[bold]run {run.run_id}[/]  [{style}]{run.status}[/]  attempt {run.attempt}")
    facts = [
        ("project", run.project),
        ("name", run.name),
        ("kind", run.kind),
        ("parent", run.parent_run_id),
        ("created", short_time(run.created_at)),
        ("started", short_time(run.started_at)),
        ("ended", short_time(run.ended_at)),
        ("duration", short_duration(run.duration_s)),
        ("git", _git(run)),
        ("data", run.lineage.data_fingerprint),
        ("cluster", run.lineage.cluster_id),
        ("error", run.error),
    ]
    for label, value in facts:
        if value not in (None, "", "-"):
            out.print(f"  [dim]{label:<9}[/] {value}")
    sections: list[tuple[str, dict[str, str] | dict[str, float]]] = [
        ("params", run.params),
        ("metrics", run.metrics),
        ("tags", run.tags),
    ]
    for title, values in sections:
        if not values:
            continue
        rows = [(key, format_value(item)) for key, item in sorted(values.items())]
        print_table(
            (Column(style="dim"), Column()),
            rows,
            title=title,
            title_justify="left",
            show_header=False,
            out=out,
        )
    if details.steps:
        steps: list[tuple[str, ...]] = []
        for step in details.steps:
            took = None
            if step["started_at"] and step["ended_at"]:
                took = (step["ended_at"] - step["started_at"]).total_seconds()
            steps.append((step["step"], str(step["attempt"]), step["status"],
                          "yes" if step["cached"] else "", short_duration(took)))  # fmt: skip
        print_table(
            ("step", "attempt", "status", "cached", "took"),
            steps,
            title="steps",
            title_justify="left",
            header_style="dim",
            out=out,
        )
    if details.gate:
        verdict = "[green]passed[/]" if details.gate.get("passed") else "[red]rejected[/]"
        out.print(f"gate {verdict}")
        for check in details.gate.get("checks", []):
            mark = "[green]✓[/]" if check.get("passed") else "[red]✗[/]"
            out.print(f"  {mark} {check.get('detail')}")
    for model in details.models:
        out.print(f"model [bold]{model.name}[/] v{model.version}  {model.uri}")


def _git(run: Run) -> str | None:
    if not run.lineage.git_commit:
        return None
    return run.lineage.git_commit[:12] + (" (dirty)" if run.lineage.git_dirty else "")


@runs.command("metrics")
@click.argument("run")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
def metrics(run: str, key: str, as_json: bool) -> None:
    """Chart the history of metric KEY of RUN in the terminal (or print it with --json)."""
    from workbench.core.settings import load_settings
    from workbench.services.runs import metric_history

    run_id, history = metric_history(load_settings(), run, key)
    columns = history.to_pydict()
    if as_json:
        points = [
            {"step": s, "timestamp": t, "value": v}
            for s, t, v in zip(columns["step"], columns["timestamp"], columns["value"], strict=True)
        ]
        emit_json({"run_id": run_id, "key": key, "points": points})
        return
    click.echo(_chart(columns["step"], columns["value"], f"{key} - run {run_id[:12]}"))
    values = [v for v in columns["value"] if v is not None]
    if values:
        click.echo(
            f"{len(values)} points  last {values[-1]:.4g}  "
            f"min {min(values):.4g}  max {max(values):.4g}"
        )


def _chart(steps: list[int], values: list[float], title: str) -> str:
    """A braille line chart of one metric, sized to the terminal; colourless when piped."""
    import shutil
    import sys

    import plotext  # deferred: only this command draws

    figure = plotext.figure
    figure.clear()
    figure.draw(figure.signal(steps, values, marker="braille"))
    figure.title(title)
    figure.label("step", axis="x")
    figure.theme("clear")
    figure.plot_size(min(shutil.get_terminal_size().columns, 100), 20)
    return str(figure.build().string(colorless=not sys.stdout.isatty()))


@runs.command("cancel")
@click.argument("run")
def cancel(run: str) -> None:
    """Stop a queued or running run; it is marked cancelled."""
    from workbench.core.settings import load_settings
    from workbench.services.runs import cancel as cancel_run

    status = cancel_run(load_settings(), run)
    click.echo(f"run {run} {status}")


@runs.command("logs")
@click.argument("run")
@click.option("--follow", "-f", is_flag=True, help="Go on printing until the run ends.")
def logs(run: str, follow: bool) -> None:
    """Print RUN's driver output: a detached run's Ray job log (through the cluster's Jobs
    API, from anywhere) or the log of a run launched from the app.

    \b
    Ctrl-C stops following; the run goes on. Examples:
      workbench runs logs 3f2a9c
      workbench runs logs 3f2a9c --follow
    """
    import sys

    from workbench.core.settings import load_settings
    from workbench.services.run_logs import print_logs

    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    try:
        print_logs(load_settings(), run, write, follow=follow)
    except KeyboardInterrupt:
        click.echo("stopped following; the run goes on", err=True)
