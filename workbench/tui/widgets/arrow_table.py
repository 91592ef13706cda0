"""A virtualised table over a pyarrow.Table: only the rows in view are ever formatted.

Built on Textual's Line API (`ScrollView.render_line`): the data stays in Arrow, a screen's
worth of rows is sliced out and formatted when painted, so 100,000 rows cost the same as
100. The table does not sort itself: `s` or a header click posts `SortChanged` and the
owner hands back a new table (sorted where the data lives).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

GUTTER = 2
"""Columns left of the cells: the mark of a marked row."""
MAX_WIDTH = 28
"""No column is laid out wider than this (longer values are cut with an ellipsis)."""
_SAMPLE = 200


def format_cell(value: Any) -> str:
    """A value as shown in a cell: short, stable and sortable by eye."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e5 else f"{value:.4g}"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, timedelta):
        return format_duration(value)
    return str(value)


def format_duration(value: timedelta) -> str:
    """`12s`, `6m05s`, `2h03m`, `3d04h`: two units at most."""
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def _right_aligned(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_duration(kind)
    )


class ArrowTable(ScrollView, can_focus=True):
    """Rows of an Arrow table with a cursor, marks (by key), a sortable header and fixed columns."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("left", "column_left", "Column left", show=False),
        Binding("right", "column_right", "Column right", show=False),
        Binding("enter", "select", "Open"),
        Binding("space", "toggle_mark", "Mark"),
        Binding("s", "sort", "Sort"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "arrow-table--header",
        "arrow-table--header-cursor",
        "arrow-table--cursor",
        "arrow-table--marked",
    }
    DEFAULT_CSS = """
    ArrowTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        & > .arrow-table--header { text-style: bold; background: $panel; color: $foreground; }
        & > .arrow-table--header-cursor { background: $accent-darken-1; color: $foreground; }
        & > .arrow-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
        }
        & > .arrow-table--marked { color: $warning; text-style: bold; }
        &:focus > .arrow-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """

    cursor_row: reactive[int] = reactive(0, always_update=True, repaint=False)
    """The row under the cursor (position in the current table)."""
    cursor_column: reactive[int] = reactive(0, repaint=False)
    """The column `s` sorts by (index among the shown columns)."""

    class RowSelected(Message):
        """Enter (or a click on the cursor row) on a row: `key` is its key column's value."""

        def __init__(self, table: ArrowTable, key: str, row: int) -> None:
            super().__init__()
            self.table = table
            self.key = key
            self.row = row

    class SortChanged(Message):
        """The user asked to sort by `column`; the owner re-queries and calls `set_table`."""

        def __init__(self, table: ArrowTable, column: str, descending: bool) -> None:
            super().__init__()
            self.table = table
            self.column = column
            self.descending = descending

    class MarksChanged(Message):
        """A row was marked or unmarked; `marked` holds the keys of every marked row."""

        def __init__(self, table: ArrowTable, marked: frozenset[str]) -> None:
            super().__init__()
            self.table = table
            self.marked = marked

    def __init__(
        self,
        *,
        key_column: str,
        fixed_columns: int = 1,
        value_styles: Mapping[str, Mapping[str, str]] | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.key_column = key_column
        self.fixed_columns = fixed_columns
        self.marked: set[str] = set()
        self.sort: tuple[str, bool] | None = None
        self._value_styles = {
            column: {value: Style.parse(style) for value, style in styles.items()}
            for column, styles in (value_styles or {}).items()
        }
        self._table = pa.table({key_column: pa.array([], pa.string())})
        self._columns: list[str] = []
        self._widths: list[int] = []
        self._right: list[bool] = []
        self._window: tuple[int, list[list[str]], list[str]] = (0, [], [])

    # -- data ---------------------------------------------------------------------------------

    @property
    def data(self) -> pa.Table:
        """The table shown (key column included), in display order."""
        return self._table

    @property
    def row_count(self) -> int:
        """Rows in the current table."""
        return self._table.num_rows

    @property
    def columns(self) -> list[str]:
        """The shown columns, left to right."""
        return list(self._columns)

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor, or None when the table is empty."""
        if not 0 <= self.cursor_row < self.row_count:
            return None
        return str(self._table.column(self.key_column)[self.cursor_row].as_py())

    def set_table(self, table: pa.Table, *, sort: tuple[str, bool] | None = None) -> None:
        """Show `table` (every column but the key), keeping the cursor on the same key."""
        previous_key = self.cursor_key
        self._table = table
        self.sort = sort
        self._columns = [name for name in table.column_names if name != self.key_column]
        self._right = [_right_aligned(table.schema.field(name).type) for name in self._columns]
        self._widths = self._measure()
        self._window = (0, [], [])
        self.cursor_column = min(self.cursor_column, max(len(self._columns) - 1, 0))
        self.virtual_size = Size(GUTTER + sum(w + 1 for w in self._widths), table.num_rows + 1)
        row = self.cursor_row
        if previous_key is not None and table.num_rows:
            found = pc.index(table.column(self.key_column), previous_key).as_py()
            row = found if found >= 0 else row
        self.cursor_row = max(0, min(row, table.num_rows - 1))
        self.refresh()

    def _measure(self) -> list[int]:
        """Column widths from the header and a sample of rows (head, tail and spread)."""
        count = self._table.num_rows
        if count <= _SAMPLE:
            sample = self._table
        else:
            step = max(count // (_SAMPLE // 2), 1)
            picks = sorted({*range(_SAMPLE // 2), *range(0, count, step), count - 1})
            sample = self._table.take(pa.array(picks))
        widths = []
        for name in self._columns:
            values = sample.column(name).to_pylist()
            longest = max((len(format_cell(v)) for v in values), default=0)
            widths.append(min(max(longest, len(name) + 2), MAX_WIDTH))
        return widths

    # -- painting -----------------------------------------------------------------------------

    @property
    def _page(self) -> int:
        return max(self.scrollable_content_region.height - 1, 1)

    def _rows_in_view(self, first: int) -> tuple[list[list[str]], list[str]]:
        """Formatted cells and keys of the rows from `first` to the end of the view."""
        start, cells, keys = self._window
        if start == first and len(cells) >= min(self._page, self.row_count - first):
            return cells, keys
        window = self._table.slice(first, self._page + 1)
        columns = [window.column(name).to_pylist() for name in self._columns]
        cells = [[format_cell(v) for v in row] for row in zip(*columns, strict=True)]
        keys = [str(k) for k in window.column(self.key_column).to_pylist()]
        self._window = (first, cells, keys)
        return cells, keys

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            return self._line(self._header_cells(), scroll_x, width, base, header=True)
        row = scroll_y + y - 1
        if row >= self.row_count:
            return Strip.blank(width, base)
        cells, keys = self._rows_in_view(scroll_y)
        offset = row - scroll_y
        if offset >= len(cells):
            return Strip.blank(width, base)
        style = base
        if row == self.cursor_row:
            style = base + self.get_component_rich_style("arrow-table--cursor", partial=True)
        marked = keys[offset] in self.marked
        return self._line(cells[offset], scroll_x, width, style, marked=marked)

    def _header_cells(self) -> list[str]:
        labels = []
        for name in self._columns:
            arrow = ""
            if self.sort is not None and self.sort[0] == name:
                arrow = " ▼" if self.sort[1] else " ▲"
            labels.append(name + arrow)
        return labels

    def _line(
        self, cells: list[str], scroll_x: int, width: int, style: Style, *,
        header: bool = False, marked: bool = False,
    ) -> Strip:  # fmt: skip
        if header:
            style = style + self.get_component_rich_style("arrow-table--header", partial=True)
        mark_style = style + self.get_component_rich_style("arrow-table--marked", partial=True)
        fixed: list[Segment] = [Segment("● " if marked else "  ", mark_style if marked else style)]
        moving: list[Segment] = []
        for index, (text, column_width) in enumerate(zip(cells, self._widths, strict=True)):
            cell_style = style
            if header and index == self.cursor_column and self.has_focus:
                cell_style = style + self.get_component_rich_style(
                    "arrow-table--header-cursor", partial=True
                )
            elif not header:
                extra = self._value_styles.get(self._columns[index], {}).get(text)
                cell_style = style + extra if extra is not None else style
                if marked and index == 0:
                    cell_style = cell_style + mark_style
            if len(text) > column_width:
                text = text[: column_width - 1] + "…"
            padded = text.rjust(column_width) if self._right[index] else text.ljust(column_width)
            segments = [Segment(padded, cell_style), Segment(" ", style)]
            (fixed if index < self.fixed_columns else moving).extend(segments)
        fixed_strip = Strip(fixed)
        rest = max(width - fixed_strip.cell_length, 0)
        moving_strip = Strip(moving).crop_extend(scroll_x, scroll_x + rest, style)
        return Strip.join([fixed_strip, moving_strip]).crop_extend(0, width, style)

    # -- moving -------------------------------------------------------------------------------

    def watch_cursor_row(self, old: int, new: int) -> None:
        """Scroll the cursor into view and repaint the two rows that changed."""
        if new < self.scroll_offset.y:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif new >= self.scroll_offset.y + self._page:
            self.scroll_to(y=new - self._page + 1, animate=False, immediate=True)
        self.refresh()

    def watch_cursor_column(self, old: int, new: int) -> None:
        """Scroll the column cursor into view (fixed columns never scroll)."""
        if new >= self.fixed_columns and self._widths:
            fixed = GUTTER + sum(w + 1 for w in self._widths[: self.fixed_columns])
            start = sum(w + 1 for w in self._widths[self.fixed_columns : new])
            end = start + self._widths[new] + 1
            view = max(self.scrollable_content_region.width - fixed, 1)
            if start < self.scroll_offset.x:
                self.scroll_to(x=start, animate=False, immediate=True)
            elif end > self.scroll_offset.x + view:
                self.scroll_to(x=end - view, animate=False, immediate=True)
        self.refresh()

    def _move(self, row: int) -> None:
        self.cursor_row = max(0, min(row, self.row_count - 1))

    def action_cursor_up(self) -> None:
        """One row up."""
        self._move(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        """One row down."""
        self._move(self.cursor_row + 1)

    def action_page_up(self) -> None:
        """One screen up."""
        self._move(self.cursor_row - self._page)

    def action_page_down(self) -> None:
        """One screen down."""
        self._move(self.cursor_row + self._page)

    def action_first(self) -> None:
        """The first row."""
        self._move(0)

    def action_last(self) -> None:
        """The last row."""
        self._move(self.row_count - 1)

    def action_column_left(self) -> None:
        """Move the column cursor (what `s` sorts by) left."""
        self.cursor_column = max(self.cursor_column - 1, 0)

    def action_column_right(self) -> None:
        """Move the column cursor right."""
        self.cursor_column = min(self.cursor_column + 1, max(len(self._columns) - 1, 0))

    def action_select(self) -> None:
        """Open the row under the cursor."""
        key = self.cursor_key
        if key is not None:
            self.post_message(self.RowSelected(self, key, self.cursor_row))

    def action_toggle_mark(self) -> None:
        """Mark or unmark the row under the cursor, then move down."""
        key = self.cursor_key
        if key is None:
            return
        self.marked.symmetric_difference_update({key})
        self.post_message(self.MarksChanged(self, frozenset(self.marked)))
        self._move(self.cursor_row + 1)
        self.refresh()

    def action_sort(self) -> None:
        """Sort by the column under the column cursor; again to reverse."""
        if self._columns:
            self._request_sort(self.cursor_column)

    def _request_sort(self, index: int) -> None:
        column = self._columns[index]
        if self.sort is not None and self.sort[0] == column:
            descending = not self.sort[1]
        else:  # numbers and times first high (best metric, newest run), text A to Z
            kind = self._table.schema.field(column).type
            descending = _right_aligned(kind) or pa.types.is_timestamp(kind)
        self.post_message(self.SortChanged(self, column, descending))

    def _column_at(self, x: int) -> int | None:
        """The shown column under content column `x`, or None (gutter, past the end)."""
        position = GUTTER
        for index, column_width in enumerate(self._widths):
            if index == self.fixed_columns:
                position -= self.scroll_offset.x
            if position <= x < position + column_width + 1:
                return index
            position += column_width + 1
        return None

    def on_click(self, event: events.Click) -> None:
        """A header click sorts by that column; a row click moves the cursor (again: opens)."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            index = self._column_at(offset.x)
            if index is not None:
                self.cursor_column = index
                self._request_sort(index)
            return
        row = self.scroll_offset.y + offset.y - 1
        if row < self.row_count:
            if row == self.cursor_row:
                self.action_select()
            self._move(row)
