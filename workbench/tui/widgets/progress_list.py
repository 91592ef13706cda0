"""Runs in flight as text: a bar per run, a line per step; plain text so snapshots are exact."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from workbench.services.overview import RunProgress

STEP_MARKS = {
    "finished": ("✓", "green"),
    "running": ("▶", "bold yellow"),
    "failed": ("✗", "red"),
    "cancelled": ("■", "magenta"),
    "crashed": ("✗", "red"),
}
"""How a step's status is drawn; a step not yet started is a dim dot."""


def progress_bar(fraction: float, width: int) -> str:
    """`████░░░░` of `width` cells, `fraction` (0..1) of them full."""
    full = round(max(0.0, min(1.0, fraction)) * width)
    return "█" * full + "░" * (width - full)


def format_elapsed(seconds: float | None) -> str:
    """`2m13s`, `1h04m`, `9s`; a dash when unknown."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def run_line(run: RunProgress, bar_width: int = 10, project_width: int = 22) -> Text:
    """`f607 predictive_maint  train  ██░░░░ 1/4 steps  10m00s` for one run."""
    step = run.current_step or ("queued" if run.status == "queued" else "between steps")
    line = Text()
    line.append(f"{run.run_id[:4]} ", style="bold")
    line.append(f"{run.project[:project_width]:<{project_width}} ")
    line.append(f"{step[:10]:<10} ", style="yellow")
    line.append(progress_bar(run.fraction, bar_width), style="green")
    line.append(f" {run.done}/{run.total_steps} steps  {format_elapsed(run.elapsed_s)}")
    return line


class RunProgressList(Static):
    """The runs in flight, one line each, newest first; a plain sentence when there are none."""

    def show_runs(
        self, runs: Sequence[RunProgress], *, bar_width: int = 10, project_width: int = 22
    ) -> None:
        """Replace the lines with `runs`."""
        if not runs:
            self.update(Text("no runs in flight", style="dim"))
            return
        self.update(Text("\n").join(run_line(run, bar_width, project_width) for run in runs))


class StepProgressList(Static):
    """One run's steps in spec order: done, running, or still to come, with their timings."""

    def show_steps(self, run: RunProgress, planned: Sequence[str], note: str = "") -> None:
        """Draw `run`'s steps (`planned`: the spec's, so pending ones show too), then `note`."""
        recorded = {step.step: step for step in run.steps}
        names = list(planned) + [name for name in recorded if name not in planned]
        lines = [
            Text.assemble(
                (f"run {run.run_id[:12]} ", "bold"),
                f"{run.status}  ",
                (progress_bar(run.fraction, 20), "green"),
                f" {run.done}/{run.total_steps} steps  {format_elapsed(run.elapsed_s)}",
            )
        ]
        for name in names:
            step = recorded.get(name)
            if step is None:
                lines.append(Text.assemble(("  · ", "dim"), (name, "dim")))
                continue
            mark, style = STEP_MARKS.get(step.status, ("?", ""))
            took = (
                format_elapsed((step.ended_at - step.started_at).total_seconds())
                if step.started_at and step.ended_at
                else ""
            )
            how = "cached" if step.cached else step.status
            lines.append(Text.assemble((f"  {mark} {name:<14}", style), f" {how:<10} {took}"))
        if note:
            lines.append(Text(note, style="dim"))
        self.update(Text("\n").join(lines))
