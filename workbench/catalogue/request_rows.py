"""Served input rows as columns: written as Arrow list columns, read back as numpy matrices.

Each answered request adds one `request_rows` row per input row: its numeric inputs as a
DOUBLE[], its categorical inputs as a VARCHAR[], its prediction as a DOUBLE[], tagged with
the layout (`request_layouts`) that names those list positions. Both directions are
columnar: lists are built from flattened numpy arrays and read back with one `flatten()`
and `reshape(rows, k)`, never a Python loop per row.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from numbers import Number
from operator import itemgetter
from typing import Any

import numpy as np
import pyarrow as pa

from workbench.catalogue.backend import Statement
from workbench.catalogue.catalogue import Catalogue
from workbench.core.deployments import RequestRecord
from workbench.core.drift.profile import CategoryCounts, SortedColumn
from workbench.core.request_window import (
    NUMERIC_KINDS,
    RequestLayout,
    layout_of,
)

_INSERT_ROWS = (
    "INSERT INTO request_rows (deployment_id, request_id, row_index, ts, model_version, layout, "
    "numbers, texts, outputs) SELECT ?, request_id, row_index, ts, model_version, ?, numbers, "
    "texts, outputs FROM batch"
)
_INSERT_LAYOUT = "INSERT OR IGNORE INTO request_layouts VALUES (?, ?::VARCHAR[], ?::VARCHAR[])"
_WINDOW_FILTER = "deployment_id = ? AND ts >= ? AND ts < ?"
_Answered = tuple[RequestRecord, list[np.ndarray]]


def request_row_statements(deployment_id: str, records: Sequence[RequestRecord]) -> list[Statement]:
    """Statements that store the input rows of the answered `records`, one batch per layout."""
    groups: dict[tuple[tuple[str, ...], str], list[_Answered]] = {}
    for record in records:
        columns = record.columns
        if record.status_code != 200 or not columns:
            continue
        values = list(columns.values())
        if len(values[0]):
            kinds = "".join([v.dtype.kind for v in values])
            groups.setdefault((tuple(columns), kinds), []).append((record, values))
    statements = []
    for (names, kinds), group in groups.items():
        layout = layout_of(names, kinds)
        statements.append(
            Statement(_INSERT_LAYOUT, (layout.key, list(layout.numeric), list(layout.categorical)))
        )
        table = _rows_table(kinds, group)
        statements.append(Statement(_INSERT_ROWS, (deployment_id, layout.key), data=table))
    return statements


def _rows_table(kinds: str, group: list[_Answered]) -> pa.Table:
    """One Arrow row per input row of `group` (requests with the same columns and kinds)."""
    counts = np.fromiter((len(values[0]) for _, values in group), np.int64, len(group))
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(group)), counts)  # which request each row comes from
    starts = np.cumsum(counts) - counts
    row_index = np.arange(total, dtype=np.int64) - starts[owner]
    numeric_at = [i for i, kind in enumerate(kinds) if kind in NUMERIC_KINDS]
    text_at = [i for i, kind in enumerate(kinds) if kind not in NUMERIC_KINDS]
    numbers = _row_major(group, numeric_at, counts, owner, row_index).astype(np.float64)
    if any(kinds[i] not in "UO" for i in text_at):  # datetimes, bytes, ...: as text first
        group = [
            (r, [v if v.dtype.kind in "biufUO" else v.astype(str) for v in vs]) for r, vs in group
        ]
    texts = _row_major(group, text_at, counts, owner, row_index)
    records = [record for record, _ in group]
    return pa.table(
        {
            "request_id": pa.array([r.request_id for r in records], pa.string()).take(owner),
            "row_index": pa.array(row_index.astype(np.int32)),
            "ts": pa.array([r.ts for r in records], pa.timestamp("us")).take(owner),
            "model_version": pa.array([r.model_version for r in records], pa.int32()).take(owner),
            "numbers": _fixed_lists(pa.array(numbers.ravel()), total, len(numeric_at)),
            "texts": _fixed_lists(_text_array(texts.ravel()), total, len(text_at)),
            "outputs": _output_lists(records, counts),
        }
    )


def _row_major(
    group: list[_Answered],
    positions: list[int],
    counts: np.ndarray,
    owner: np.ndarray,
    row_index: np.ndarray,
) -> np.ndarray:
    """The columns at `positions` of every request as one (rows, len(positions)) matrix.

    One numpy call per request joins its columns (column-major block); one fancy index
    then reorders all blocks to rows, so the cost per request does not grow with columns.
    """
    width = len(positions)
    if not width:
        return np.empty((int(counts.sum()), 0))
    pick = itemgetter(*positions) if width > 1 else lambda values: (values[positions[0]],)
    flat = np.concatenate([np.concatenate(pick(values)) for _, values in group])
    if (counts == 1).all():
        return flat.reshape(-1, width)
    block = (np.cumsum(counts) - counts)[owner] * width + row_index  # where each row's block is
    return flat[block[:, None] + np.arange(width)[None, :] * counts[owner][:, None]]


def _fixed_lists(values: pa.Array, rows: int, width: int) -> pa.Array:
    """`rows` lists of `width` consecutive values each (a row-major matrix as a list column)."""
    offsets = np.arange(rows + 1, dtype=np.int32) * np.int32(width)
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def _text_array(values: np.ndarray) -> pa.Array:
    """A categorical column as text: None (and a float NaN) become NULL."""
    if values.dtype.kind == "U":
        return pa.array(values, pa.string())
    if values.dtype.kind == "O":
        try:
            return pa.array(values, pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed objects: spelled one by one
            return pa.array([None if _missing(v) else str(v) for v in values], pa.string())
    return pa.array(values.astype(str), pa.string())


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _output_lists(records: list[RequestRecord], counts: np.ndarray) -> pa.Array:
    """Each row's prediction as floats: a number -> [x], a vector -> its values, else NULL."""
    every = [r.predictions for r in records]
    if all(p is not None and len(p) == n for p, n in zip(every, counts.tolist(), strict=True)):
        joined = list(chain.from_iterable(p for p in every if p is not None))
        flat, widths = _outputs_of(joined, int(counts.sum()))
    else:  # some request's predictions do not match its rows: those rows get NULL
        parts = [_outputs_of(p, n) for p, n in zip(every, counts.tolist(), strict=True)]
        flat = np.concatenate([values for values, _ in parts])
        widths = np.concatenate([row_widths for _, row_widths in parts])
    offsets = np.zeros(len(widths) + 1, dtype=np.int32)
    np.cumsum(np.maximum(widths, 0), out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat), mask=pa.array(widths < 0))


def _outputs_of(predictions: Sequence[Any] | None, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat float values and each row's width (-1: NULL) of one request's predictions."""
    if predictions is None or len(predictions) != rows:
        return np.empty(0), np.full(rows, -1)
    try:
        matrix = np.asarray(predictions)
    except ValueError:  # ragged rows
        matrix = np.empty(0, dtype=object)
    if matrix.dtype.kind in "biuf" and matrix.ndim in (1, 2):
        width = 1 if matrix.ndim == 1 else matrix.shape[1]
        return matrix.astype(np.float64).ravel(), np.full(rows, width)
    per_row = [_row_output(p) for p in predictions]
    widths = np.array([-1 if v is None else len(v) for v in per_row], dtype=np.int64)
    flat = [x for v in per_row if v is not None for x in v]
    return np.asarray(flat, dtype=np.float64), widths


def _row_output(prediction: Any) -> list[float] | None:
    """One row's prediction as floats, or None where it is not numeric."""
    if isinstance(prediction, dict):
        prediction = list(prediction.values())
    if isinstance(prediction, list | tuple):
        numeric = all(isinstance(v, Number) and not isinstance(v, str) for v in prediction)
        return [float(v) for v in prediction] if numeric else None
    if isinstance(prediction, Number):
        return [float(prediction)]  # type: ignore[arg-type]  # a Number that float() takes
    return None


class RequestRowLedger:
    """Reads of `request_rows`: a deployment's served rows in a time window, as columns."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.backend = catalogue.backend

    def drift_window(
        self,
        deployment: str,
        *,
        start: datetime,
        end: datetime,
        model_version: int | None = None,
    ) -> DriftWindow:
        """The newest layout's rows in [start, end) as a drift check takes them: each numeric
        feature one sorted float64 column, each categorical feature counted by DuckDB (no
        text leaves the catalogue)."""
        where = _WINDOW_FILTER
        params: list[object] = [deployment, start, end]
        if model_version is not None:
            where += " AND model_version = ?"
            params.append(model_version)
        counts = self.backend.query(
            f"SELECT layout, count(*) AS n, max(ts) AS newest FROM request_rows WHERE {where} "
            "GROUP BY layout ORDER BY newest DESC, layout",
            params,
        ).to_pylist()
        if not counts:
            return DriftWindow({}, 0, 0)
        key = counts[0]["layout"]
        layout = self._layout(key)
        columns: dict[str, Any] = {}
        if layout.numeric:  # one flat column per feature, extracted by DuckDB in parallel
            picks = ", ".join(f"numbers[{i + 1}]" for i in range(len(layout.numeric)))
            numbers = self.backend.query(
                f"SELECT {picks} FROM request_rows WHERE {where} AND layout = ?", [*params, key]
            )
            columns.update(_sorted_columns(numbers, layout.numeric))
        if layout.categorical:
            found = self.backend.query(
                "SELECT position, value, count(*) AS n FROM (SELECT unnest(texts) AS value, "
                "unnest(range(len(texts))) AS position FROM request_rows "
                f"WHERE {where} AND layout = ?) GROUP BY ALL",
                [*params, key],
            ).to_pylist()
            for index, name in enumerate(layout.categorical):
                mine = [row for row in found if row["position"] == index]
                counted = {r["value"]: int(r["n"]) for r in mine if r["value"] is not None}
                missing = sum(int(r["n"]) for r in mine if r["value"] is None)
                columns[name] = CategoryCounts(counted, missing)
        skipped = sum(int(row["n"]) for row in counts[1:])
        return DriftWindow(columns, int(counts[0]["n"]), skipped)

    def _layout(self, key: str) -> RequestLayout:
        row = self.backend.query(
            "SELECT numeric, categorical FROM request_layouts WHERE layout = ?", [key]
        ).to_pylist()[0]
        return RequestLayout(tuple(row["numeric"]), tuple(row["categorical"]))


@dataclass(frozen=True)
class DriftWindow:
    """A window's features as a drift check takes them, how many rows, how many left out
    (rows of an older layout)."""

    columns: dict[str, Any]
    rows: int
    skipped_rows: int


def _sorted_columns(table: pa.Table, names: Sequence[str]) -> dict[str, SortedColumn]:
    """Each column of `table` as one float64 array (NULL as NaN), sorted in place; in threads,
    since numpy's sort releases the GIL."""

    def one(index: int) -> SortedColumn:
        column = table.column(index).to_numpy()
        if not (column.flags.writeable and column.flags.owndata) or column.dtype != np.float64:
            column = column.astype(np.float64)  # zero-copy views of Arrow memory are read-only
        column.sort()
        return SortedColumn(column)

    with ThreadPoolExecutor(max_workers=min(len(names), os.cpu_count() or 1)) as pool:
        return dict(zip(names, pool.map(one, range(len(names))), strict=True))
