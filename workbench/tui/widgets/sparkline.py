"""Sparklines as text: a trend of percentages in block characters, one cell per value."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

BLOCKS = "▁▂▃▄▅▆▇█"
"""From 0 % (lowest block) to 100 % (full block); a gap (no sample) is a space."""


def sparkline(values: Sequence[float | None], width: int) -> str:
    """The newest `width` values of a 0-100 trend as blocks, right-aligned."""
    cells = []
    for value in values[-width:] if width > 0 else ():
        if value is None:
            cells.append(" ")
            continue
        share = min(max(value, 0.0), 100.0) / 100.0
        cells.append(BLOCKS[min(len(BLOCKS) - 1, int(share * len(BLOCKS)))])
    return "".join(cells).rjust(max(width, 0))


def spark_line(label: str, values: Sequence[float | None], width: int) -> Text:
    """` CPU ▂▃▅▇  62%`: a label, the sparkline coloured by the newest value, and that value."""
    newest = next((value for value in reversed(values) if value is not None), None)
    style = level_style(newest)
    number = "   -" if newest is None else f"{newest:3.0f}%"
    return Text.assemble(f" {label} ", (sparkline(values, width), style), f" {number}")


def level_style(percent: float | None) -> str:
    """How a utilisation reads at a glance: green, yellow from 60 %, red from 85 %."""
    if percent is None:
        return "dim"
    return "green" if percent < 60 else "yellow" if percent < 85 else "red"
