"""A line chart drawn by plotext into a widget: several named series, one colour each.

plotext renders to a string of ANSI colour codes; `Text.from_ansi` makes it Rich text.
The chart is drawn at the widget's size on every render, so it follows resizes. Used by
the run detail and compare screens (metric histories) and the deployments screen (QPS,
latency), so it knows nothing about runs: only series of (x, y) points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import plotext
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Label, SelectionList

PALETTE: tuple[int, ...] = (12, 10, 9, 14, 13, 11, 208, 141)
"""256-colour indexes given to series in order (bright blue, green, red, cyan, ...)."""
MIN_WIDTH = 16
MIN_HEIGHT = 5


@dataclass(frozen=True)
class Series:
    """One line of a chart: its name (the legend entry), its points and its colour."""

    name: str
    points: Sequence[tuple[float, float]]
    color: int | str | None = None
    """A 256-colour index or a plotext colour name; None takes the next of PALETTE."""


def rich_color(color: int | str) -> str:
    """The Rich colour of a series colour, to style a legend or a table row the same."""
    return f"color({color})" if isinstance(color, int) else color


def series_color(index: int) -> int:
    """The colour the index-th series of a chart gets when it names none."""
    return PALETTE[index % len(PALETTE)]


def thin(points: Sequence[tuple[float, float]], limit: int) -> list[tuple[float, float]]:
    """At most `limit` points spread evenly over `points`, always keeping the last one."""
    if len(points) <= limit or limit < 2:
        return list(points)
    stride = (len(points) - 1) / (limit - 1)
    return [points[round(index * stride)] for index in range(limit)]


def render_chart(
    series: Sequence[Series], width: int, height: int, *, x_label: str = "", y_label: str = ""
) -> str:
    """The plot as plotext draws it: `height` lines of `width` cells with ANSI colours."""
    plotext.terminal.limit(False, False)  # the caller sizes the chart, not the terminal
    figure = plotext.figure
    figure.clear()
    figure.plot_size(width, height)
    figure.theme("simple")
    for index, line in enumerate(series):
        points = thin(line.points, width * 2)  # braille: two dots per cell across
        marker = plotext.marker("braille", plotext.pixel(foreground=_color(line, index)))
        signal = figure.signal([x for x, _ in points], [y for _, y in points], marker=marker)
        figure.draw(signal.lines(True))
    if x_label:
        figure.label(x_label, axis="x")
    if y_label:
        figure.label(y_label, axis="y")
    return str(figure.build().string(colorless=False)).removesuffix("\n")


def chart_header(title: str, series: Sequence[Series]) -> Text:
    """The line above a plot: its title, then (with two or more series) a coloured legend."""
    header = Text(title, style="bold")
    if len(series) > 1:
        for index, line in enumerate(series):
            header.append("  ")
            header.append(f"■ {line.name}", style=rich_color(_color(line, index)))
    return header


def _color(line: Series, index: int) -> int | str:
    return line.color if line.color is not None else series_color(index)


class Chart(Widget):
    """A plotext line chart of named series; redrawn at its size whenever it changes."""

    DEFAULT_CSS = """
    Chart { height: 12; min-height: 6; }
    """

    def __init__(
        self,
        title: str = "",
        *,
        series: Sequence[Series] = (),
        x_label: str = "",
        y_label: str = "",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.x_label = x_label
        self.y_label = y_label
        self.series: tuple[Series, ...] = tuple(series)
        self._drawn: tuple[tuple[object, ...], Text] | None = None

    def plot(self, series: Sequence[Series], *, title: str | None = None) -> None:
        """Replace the series (and the title) and redraw."""
        self.series = tuple(series)
        if title is not None:
            self.title = title
        self.refresh()

    def render(self) -> Text:
        width, height = self.content_size.width, self.content_size.height
        if not any(line.points for line in self.series):
            return Text(f"{self.title}: no points yet" if self.title else "no points yet",
                        style="dim")  # fmt: skip
        if width < MIN_WIDTH or height < MIN_HEIGHT:
            return Text(f"{self.title}: too small to chart", style="dim")
        key = (self.series, self.title, self.x_label, self.y_label, width, height)
        if self._drawn is None or self._drawn[0] != key:  # a repaint alone does not redraw
            drawn = render_chart(
                self.series, width, height - 1, x_label=self.x_label, y_label=self.y_label
            )
            text = chart_header(self.title, self.series)
            text.truncate(width)
            text.append("\n")
            text.append_text(Text.from_ansi(drawn, no_wrap=True, end=""))
            text.rstrip()
            text.no_wrap = True
            self._drawn = (key, text)
        return self._drawn[1]


class ChartPicker(ModalScreen[list[str]]):
    """Pick which of `names` to chart: space or enter toggles, esc closes with the choice."""

    DEFAULT_CSS = """
    ChartPicker { align: center middle; }
    ChartPicker > Vertical {
        width: 48; height: auto; max-height: 90%; max-width: 95%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    ChartPicker SelectionList { height: auto; max-height: 20; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "done", "Done")]

    def __init__(self, names: Sequence[str], chosen: Sequence[str]) -> None:
        super().__init__()
        self._names = list(names)
        self._chosen = set(chosen)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Charts[/b]  space toggles, esc closes")
            yield SelectionList[str](*((n, n, n in self._chosen) for n in self._names))

    def action_done(self) -> None:
        """Close, handing back the chosen names in their listed order."""
        chosen = set(self.query_one(SelectionList).selected)
        self.dismiss([name for name in self._names if name in chosen])
