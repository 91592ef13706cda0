"""Reference vs current shares over the same bins: one line per bin, two bars in it.

Each line holds two horizontal bars in half-height blocks: the upper half is the
reference's share, the lower half the current window's (`▀` in the reference colour on the
current colour where both reach). Bars are scaled to the largest share of either side;
the shares follow as numbers. A plain Rich `Text`, so it draws the same in any terminal.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from workbench.core.drift.check import Histogram

REFERENCE_STYLE = "#5fafff"
CURRENT_STYLE = "#ff9f1a"
LABEL_WIDTH = 18
NUMBERS_WIDTH = 16  # "  10.0% → 100.0%"
MIN_BAR = 4


def legend() -> Text:
    """`■ reference  ■ current`, in the bars' colours."""
    return Text.assemble(("■ reference", REFERENCE_STYLE), "  ", ("■ current", CURRENT_STYLE))


def histogram_lines(histogram: Histogram, width: int, height: int) -> Text:
    """The legend, then up to `height - 1` bins of `histogram` in `width` cells (the rest
    summed up in a last line)."""
    lines = [legend()]
    label_width = min(LABEL_WIDTH, max((len(label) for label in histogram.labels), default=1))
    bar_width = max(MIN_BAR, width - label_width - 1 - NUMBERS_WIDTH)
    largest = max((*histogram.reference, *histogram.current, 0.0)) or 1.0
    bins = list(zip(histogram.labels, histogram.reference, histogram.current, strict=True))
    room = max(1, height - 1)
    shown = bins if len(bins) <= room else bins[: room - 1]
    for label, reference, current in shown:
        line = Text(_fit(label, label_width).rjust(label_width) + " ", style="dim")
        line.append_text(_bars(reference / largest, current / largest, bar_width))
        line.append(f" {reference:6.1%}", style=REFERENCE_STYLE)
        line.append(" → ")
        line.append(f"{current:.1%}", style=CURRENT_STYLE)
        lines.append(line)
    if len(shown) < len(bins):
        lines.append(Text(f"… {len(bins) - len(shown)} more bins", style="dim"))
    text = Text("\n").join(lines)
    text.no_wrap = True
    return text


def _bars(reference: float, current: float, width: int) -> Text:
    """Two bars of `width` cells in one line: `reference` on top, `current` below (0-1)."""
    top, bottom = _cells(reference, width), _cells(current, width)
    both = min(top, bottom)
    bars = Text()
    bars.append("▀" * both, style=f"{REFERENCE_STYLE} on {CURRENT_STYLE}")
    if top > both:
        bars.append("▀" * (top - both), style=REFERENCE_STYLE)
    if bottom > both:
        bars.append("▄" * (bottom - both), style=CURRENT_STYLE)
    bars.append(" " * (width - max(top, bottom)))
    return bars


def _cells(share: float, width: int) -> int:
    """Cells of a bar: rounded, but a share above zero always gets one."""
    cells = round(share * width)
    return max(cells, 1) if share > 0 else 0


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class DriftHistogram(Widget):
    """The highlighted feature's reference vs current histogram, redrawn at its size."""

    DEFAULT_CSS = """
    DriftHistogram { height: 1fr; min-height: 4; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.histogram: Histogram | None = None
        self.note = ""

    def plot(self, histogram: Histogram | None, note: str = "") -> None:
        """Draw `histogram`; without one, say why (`note`)."""
        self.histogram = histogram
        self.note = note
        self.refresh()

    def render(self) -> Text:
        if self.histogram is None or not self.histogram.labels:
            return Text(self.note or "no histogram for this feature", style="dim")
        width, height = self.content_size.width, self.content_size.height
        return histogram_lines(self.histogram, width, height)
