"""Output helpers shared by commands: JSON on stdout, tables and messages via rich."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal, TextIO

if TYPE_CHECKING:
    from rich.console import Console

STATUS_STYLE = {
    "running": "cyan",
    "queued": "blue",
    "finished": "green",
    "failed": "red",
    "crashed": "magenta",
    "cancelled": "yellow",
}


_json_stdout: TextIO | None = None


def keep_stdout_for_json() -> None:
    """With --json, stdout carries the one document alone: anything else printed meanwhile
    (Ray prints its own messages, such as a node marked dead, on the driver's stdout) goes
    to stderr."""
    global _json_stdout
    _json_stdout = sys.stdout
    sys.stdout = sys.stderr


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout and nothing else (the --json contract)."""
    out = _json_stdout or sys.stdout
    out.write(json.dumps(document, indent=2, default=_json_default) + "\n")
    out.flush()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def console(stderr: bool = False) -> Console:
    """A rich console; on stderr for progress and messages."""
    from rich.console import Console  # deferred: keeps `workbench --help` light

    stream = sys.stderr if stderr else sys.stdout
    # Piped output is read by people with wide pagers and by grep: do not squeeze it to 80.
    width = None if stream.isatty() else 200
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width)


@dataclass(frozen=True)
class Column:
    """One table column: its header and how rich lays it out (rich's own defaults)."""

    header: str = ""
    no_wrap: bool = False
    justify: Literal["left", "center", "right"] = "left"
    style: str = ""
    min_width: int | None = None
    max_width: int | None = None
    overflow: Literal["fold", "crop", "ellipsis"] = "ellipsis"
    ratio: int | None = None


def print_table(
    columns: Sequence[str | Column],
    rows: Iterable[Sequence[str]],
    *,
    title: str | None = None,
    title_justify: Literal["left", "center", "right"] = "center",
    show_header: bool = True,
    header_style: str = "bold",
    no_wrap: bool = False,
    pad_edge: bool = True,
    out: Console | None = None,
) -> None:
    """Print a borderless table (the `ls` look) on `out`, or on stdout.

    A column given as a plain header takes `no_wrap`; cells are rich markup.
    """
    from rich.table import Table  # deferred: keeps `workbench --help` light

    table = Table(
        title=title,
        title_justify=title_justify,
        box=None,
        show_header=show_header,
        header_style=header_style,
        pad_edge=pad_edge,
    )
    for column in columns:
        spec = Column(column, no_wrap=no_wrap) if isinstance(column, str) else column
        table.add_column(
            spec.header,
            no_wrap=spec.no_wrap,
            justify=spec.justify,
            style=spec.style,
            min_width=spec.min_width,
            max_width=spec.max_width,
            overflow=spec.overflow,
            ratio=spec.ratio,
        )
    for row in rows:
        table.add_row(*row)
    (out or console()).print(table)


def short_time(value: datetime | None) -> str:
    """Compact timestamp for tables (UTC)."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def short_duration(seconds: float | None) -> str:
    """1.2s, 3m04s, 2h05m."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_value(value: object) -> str:
    """Numbers to 4 significant digits, the rest as text."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)
