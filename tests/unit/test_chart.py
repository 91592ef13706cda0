"""The plotext chart: sized to the cells it is given, one colour per series, thinned points."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text

from workbench.tui.widgets.chart import (
    PALETTE,
    Series,
    chart_header,
    render_chart,
    series_color,
    thin,
)

RISING = [(float(step), 0.5 + step / 100) for step in range(1, 41)]
FALLING = [(float(step), 0.9 - step / 100) for step in range(1, 41)]


def test_the_chart_fills_exactly_the_cells_it_is_given() -> None:
    for width, height in ((80, 20), (36, 8), (120, 11)):
        drawn = Text.from_ansi(render_chart([Series("auc", RISING)], width, height))
        lines = drawn.plain.split("\n")
        assert len(lines) == height
        assert {cell_len(line) for line in lines} == {width}


def test_each_series_is_drawn_in_its_own_colour() -> None:
    drawn = render_chart([Series("a", RISING), Series("b", FALLING, color=208)], 60, 12)
    assert f"38;5;{PALETTE[0]}m" in drawn  # the first series takes the palette's first colour
    assert "38;5;208m" in drawn  # the second asked for its own
    assert series_color(len(PALETTE)) == PALETTE[0]  # the palette cycles


def test_the_header_names_the_series_only_when_there_are_several() -> None:
    assert chart_header("auc", [Series("a1b2", RISING)]).plain == "auc"
    header = chart_header("auc", [Series("a1b2", RISING), Series("b2c3", FALLING)])
    assert header.plain == "auc  ■ a1b2  ■ b2c3"
    assert {span.style for span in header.spans} >= {f"color({PALETTE[0]})", f"color({PALETTE[1]})"}


def test_thin_keeps_the_ends_and_at_most_the_limit() -> None:
    points = [(float(x), float(x)) for x in range(10_000)]
    thinned = thin(points, 200)
    assert len(thinned) == 200
    assert thinned[0] == points[0]
    assert thinned[-1] == points[-1]
    assert thin(points[:50], 200) == points[:50]
