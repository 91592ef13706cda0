"""A model version's labelled quality over the last day: one sparkline per metric, newest value.

Classifiers show accuracy and AUC (and the newest hour's precision and recall),
regressors RMSE and MAE. One cell per hour, a dim dot where the hour has no labelled rows.
Accuracy and AUC are drawn from the lowest tenth they reach up to 1, errors from 0 up to
their largest value, so the bars show the trend and the numbers say how good it is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta

from rich.text import Text
from textual.widget import Widget

from workbench.core.quality import CLASSIFIER, REGRESSOR, QualityMetrics
from workbench.services.quality_view import DeploymentQuality, VersionQuality
from workbench.tui.widgets.sparkline import sparkline

TREND_STYLE = "#5fafff"
GAP = "·"
"""An hour without labelled rows."""
LABEL_WIDTH = 8  # "accuracy"
VALUE_WIDTH = 7
HINT = "workbench feedback {deployment} --labels FILE"
# (label, metric, bounded in [0, 1]) of each kind's trend lines
_TRENDS = {
    CLASSIFIER: (("accuracy", "accuracy", True), ("AUC", "auc", True)),
    REGRESSOR: (("RMSE", "rmse", False), ("MAE", "mae", False)),
}


def quality_text(quality: VersionQuality, width: int) -> Text:
    """The panel's lines for `quality` in `width` cells: trends, newest values, row count; or
    how to send labels when there are none."""
    shown = quality.deployments[0] if quality.deployments else None  # the most labelled
    latest = shown.latest if shown else None
    if shown is None or latest is None or latest.metrics is None:
        return _no_labels(quality, shown)
    lines = [_trend(label, shown, metric, bounded, width)
             for label, metric, bounded in _TRENDS.get(shown.kind, ())]  # fmt: skip
    if latest.metrics.kind == CLASSIFIER:
        lines.append(Text(_precision_recall(latest.metrics), style="dim"))
    lines.append(Text(f"newest values: {latest.start:%H:%M}-{latest.end:%H:%M} UTC", style="dim"))
    others = f" (+{len(quality.deployments) - 1} more)" if len(quality.deployments) > 1 else ""
    lines.append(
        Text.assemble((f"{shown.rows:,}", "bold"), f" labelled rows on {shown.deployment}{others}")
    )
    for line in lines:
        line.truncate(width, overflow="ellipsis")
    return Text("\n").join(lines)


def _no_labels(quality: VersionQuality, shown: DeploymentQuality | None) -> Text:
    name = shown.deployment if shown else "DEPLOYMENT"
    text = Text.assemble("no labels yet: ", (f"`{HINT.format(deployment=name)}`", "bold"))
    if shown is None:
        text.append(f"\n(no deployment serves {quality.model})", style="dim")
    else:
        text.append(f"\nv{quality.version} has no labelled rows in the last day", style="dim")
    return text


def _trend(label: str, shown: DeploymentQuality, metric: str, bounded: bool, width: int) -> Text:
    """`accuracy ▇▆▅▃  0.753`: the metric hour by hour, then its newest value."""
    values = [
        None if point.metrics is None else getattr(point.metrics, metric) for point in shown.points
    ]
    newest = next((value for value in reversed(values) if value is not None), None)
    cells = max(0, min(len(values), width - LABEL_WIDTH - VALUE_WIDTH - 2))
    line = Text.assemble((label.ljust(LABEL_WIDTH), "dim"), " ")
    for cell in sparkline(_percent(values, bounded), cells):
        line.append(GAP if cell == " " else cell, "dim" if cell == " " else TREND_STYLE)
    line.append(" ")
    line.append(_number(newest).rjust(VALUE_WIDTH), "bold")
    return line


def _percent(values: Sequence[float | None], bounded: bool) -> list[float | None]:
    """`values` on the 0-100 scale a sparkline draws (see the module docstring)."""
    present = [value for value in values if value is not None]
    if not present:
        return list(values)
    if bounded:
        low, high = min(math.floor(min(present) * 10) / 10, 0.9), 1.0
    else:
        low, high = 0.0, max(present) or 1.0
    return [None if v is None else 100.0 * (v - low) / (high - low) for v in values]


def _precision_recall(metrics: QualityMetrics) -> str:
    return f"precision {_number(metrics.precision)}  recall {_number(metrics.recall)}"


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"


class QualityPanel(Widget):
    """The selected version's quality (see the module docstring); drawn at its width."""

    DEFAULT_CSS = """
    QualityPanel { height: 7; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.quality: VersionQuality | None = None
        self.border_title = "Quality"

    def show_quality(self, quality: VersionQuality | None) -> None:
        """Show `quality` (None: not read yet) and redraw."""
        self.quality = quality
        if quality is None:
            self.border_title = "Quality"
        else:
            hours = (quality.end - quality.start) // timedelta(hours=1)
            self.border_title = f"Quality v{quality.version}: last {hours} h, hourly"
        self.refresh()

    def render(self) -> Text:
        if self.quality is None:
            return Text("reading quality…", style="dim")
        return quality_text(self.quality, self.content_size.width)
