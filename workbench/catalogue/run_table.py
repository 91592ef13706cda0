"""Every run as Arrow, for the TUI's Runs table: read once, then filtered and sorted in memory.

`RunTableSnapshot.read(catalogue, now)` copies the runs and the params, latest metrics and
tags of every run out of the catalogue in one visit. The Arrow tables are registered
(zero-copy) in an in-memory DuckDB connection, never the catalogue file, under the names the
filter compiler uses (`runs`, `params`, `latest_metrics`, `tags`): `runs ls --where`
expressions run here unchanged while the file stays free for other processes.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench.catalogue.catalogue import Catalogue
from workbench.core.errors import InvalidInputError, first_line
from workbench.core.filters import ATTRIBUTES, compile_filter

KEY_COLUMN = "run_id"
"""The full run id: every output table carries it (the short `id` is for people)."""
RUN_COLUMNS = ("id", "project", "status", "attempt", "created", "duration")
"""The fixed columns of the table, before the chosen params and metrics."""
SHORT_ID = 8

_READ_RUNS = """
SELECT run_id, project, name, status, attempt, kind, parent_run_id, created_at, started_at,
       ended_at, git_commit, data_fingerprint,
       date_diff('millisecond', started_at,
                 coalesce(ended_at, CASE WHEN status = 'running' THEN ?::TIMESTAMP
                                         ELSE heartbeat_at END)) AS duration_ms
FROM runs
"""
_KEY_COUNTS = (
    "SELECT 'metrics' AS ns, key, count(*) AS n FROM latest_metrics GROUP BY key "
    "UNION ALL SELECT 'params', key, count(*) FROM params GROUP BY key"
)
_READ_KEY_VALUES = {
    "params": "SELECT run_id, key, value FROM params",
    "latest_metrics": "SELECT run_id, key, value FROM latest_metrics",
    "tags": "SELECT run_id, key, value FROM tags",
}
# The columns a user may sort by, beyond params.*, metrics.* and tags.*.
_SORT_COLUMNS = {
    "id": "r.run_id",
    "created": "r.created_at",
    "duration": "r.duration_ms",
    **ATTRIBUTES,
}
_NAMESPACE_TABLES = {"params": "params", "metrics": "latest_metrics", "tags": "tags"}
# Text that reads as an attempt at an expression (an operator, a quote, a namespace, a
# keyword between words): its parse error is shown; anything else is a substring search.
_EXPRESSION_LIKE = re.compile(
    r"[=<>!'()`\"]|\b(params|metrics|tags)\.|\s(and|or|in|like|ilike)\s", re.IGNORECASE
)


FIRST_PAGE_ROWS = 200
"""Rows read first, to paint the table before the whole snapshot is in memory."""


@dataclass(frozen=True)
class FirstPage:
    """The newest runs in `select()`'s form, the number of runs, and the columns shown."""

    rows: pa.Table
    total: int
    columns: tuple[str, ...]


@dataclass(frozen=True)
class ColumnKeys:
    """The param and metric keys present, most common first: what the column chooser offers."""

    params: tuple[str, ...]
    metrics: tuple[str, ...]


class RunTableSnapshot:
    """All runs with their params, latest metrics and tags, held in an in-memory DuckDB.

    Row position `i` is the order the runs were read in; `rank` is the default order
    (newest first), which also breaks ties of every other sort.
    """

    def __init__(self, runs: pa.Table, params: pa.Table, metrics: pa.Table, tags: pa.Table) -> None:
        self.num_runs = runs.num_rows
        self._newest_first = pc.sort_indices(
            runs, sort_keys=[("created_at", "descending"), ("run_id", "ascending")]
        )
        rank = np.empty(runs.num_rows, dtype=np.int64)
        rank[self._newest_first.to_numpy()] = np.arange(runs.num_rows, dtype=np.int64)
        positions = pa.array(np.arange(runs.num_rows, dtype=np.int64))
        self._runs = runs.append_column("i", positions).append_column("rank", pa.array(rank))
        self._key_values = {"params": params, "latest_metrics": metrics, "tags": tags}
        self._row_of: dict[str, np.ndarray] = {}
        self._con = duckdb.connect()  # in memory: the catalogue file is never opened here
        self._lock = threading.Lock()
        self._con.register("runs", self._runs)
        for name, table in self._key_values.items():
            self._con.register(name, table)
        self._base = _display_columns(runs)
        self._newest_view = self._base.take(self._newest_first)
        self._pivots: dict[str, pa.Array] = {}
        self._numeric: dict[str, bool] = {}
        self._keys: ColumnKeys | None = None

    @classmethod
    def read(cls, catalogue: Catalogue, now: datetime) -> RunTableSnapshot:
        """Copy every run out of `catalogue` in one visit; `now` ends a running run's duration."""
        backend = catalogue.backend
        runs = backend.query(_READ_RUNS, (now,))
        params, metrics, tags = (backend.query(sql) for sql in _READ_KEY_VALUES.values())
        return cls(runs, params, metrics, tags)

    @staticmethod
    def read_first_page(
        catalogue: Catalogue, now: datetime, columns: tuple[str, ...] | None, default_keys: int
    ) -> FirstPage:
        """The newest FIRST_PAGE_ROWS runs in `select()`'s form, and how many runs there are.

        What a screen paints while `read` copies the rest: two queries. With `columns` None:
        the `default_keys` commonest metrics, then params (the order `keys` gives).
        """
        backend = catalogue.backend
        if columns is None:
            counted = backend.query(_KEY_COUNTS).to_pylist()
            counted.sort(key=lambda row: (-row["n"], row["key"]))
            columns = tuple(
                f"{namespace}.{row['key']}"
                for namespace in ("metrics", "params")
                for row in [r for r in counted if r["ns"] == namespace][:default_keys]
            )
        joins, names, values = [], [], []
        for index, column in enumerate(columns):
            namespace, _, key = column.partition(".")
            if namespace not in _NAMESPACE_TABLES or not key:
                continue  # `select` names the bad column once the whole table is read
            joins.append(
                f"LEFT JOIN {_NAMESPACE_TABLES[namespace]} k{index} "
                f"ON k{index}.run_id = page.run_id AND k{index}.key = ?"
            )
            names.append((f"k{index}.value AS v{index}", column, f"v{index}"))
            values.append(key)
        picked = "".join(f", {select}" for select, _, _ in names)
        # max_by(..., n) finds the newest ids in one pass, ~3x cheaper than a top-n sort of
        # the whole rows; only a tie on created_at at the page's edge could pick another run.
        rows = backend.query(
            "WITH ids AS (SELECT unnest(max_by(run_id, created_at, ?)) AS run_id FROM runs), "
            f"page AS ({_READ_RUNS} WHERE run_id IN (SELECT run_id FROM ids)) "
            f"SELECT page.*, (SELECT count(*) FROM runs) AS total{picked} FROM page "
            f"{' '.join(joins)} ORDER BY page.created_at DESC, page.run_id",
            (FIRST_PAGE_ROWS, now, *values),
        )
        page = _display_columns(rows)
        for _, column, alias in names:
            page = page.append_column(column, rows.column(alias))
        total = int(rows.column("total")[0].as_py()) if rows.num_rows else 0
        return FirstPage(page, total, columns)

    @property
    def keys(self) -> ColumnKeys:
        """Param and metric keys present, most common first (counted on first use)."""
        if self._keys is None:
            self._keys = ColumnKeys(
                _keys_by_count(self._key_values["params"]),
                _keys_by_count(self._key_values["latest_metrics"]),
            )
        return self._keys

    def close(self) -> None:
        """Drop the in-memory database."""
        with self._lock:
            self._con.close()

    def select(self, where: str = "", sort: str = "", columns: tuple[str, ...] = ()) -> pa.Table:
        """Runs matching `where`, ordered by `sort`, with the fixed columns then `columns`.

        `where` is a `runs ls --where` expression or plain text (a substring of the id,
        project or name); `sort` is a column name, `-` in front for descending, empty for
        newest first. An expression that does not parse raises InvalidInputError.
        """
        positions = self._positions(where.strip(), sort.strip())
        table = self._base.take(positions) if positions is not None else self._newest_view
        for column in columns:
            values = self._pivot(column)
            table = table.append_column(
                column, values.take(positions if positions is not None else self._newest_first)
            )
        return table

    # -- internals ----------------------------------------------------------------------------

    def _positions(self, where: str, sort: str) -> pa.Array | None:
        """Row positions in display order; None for every run, newest first."""
        if not where and not sort:
            return None
        condition, values = _condition(where)
        join, join_values, order = self._order(sort)
        sql = f"SELECT r.i FROM runs r {join} WHERE {condition} ORDER BY {order}r.rank"
        with self._lock:
            try:
                result = self._con.sql(sql, params=[*join_values, *values]).to_arrow_table()
            except duckdb.Error as error:
                raise InvalidInputError(first_line(error), "check the types compared") from None
        return result.column(0).combine_chunks()

    def _order(self, sort: str) -> tuple[str, tuple[object, ...], str]:
        """JOIN clause, its values and the ORDER BY prefix for a sort such as `-metrics.auc`."""
        if not sort:
            return "", (), ""
        descending = sort.startswith("-")
        column = sort.lstrip("-+")
        direction = "DESC" if descending else "ASC"
        namespace, _, key = column.partition(".")
        if namespace in _NAMESPACE_TABLES and key:
            table = _NAMESPACE_TABLES[namespace]
            join = f"LEFT JOIN {table} s ON s.run_id = r.run_id AND s.key = ?"
            value = "s.value"
            if namespace != "metrics" and self._all_numeric(table, key):
                value = "TRY_CAST(s.value AS DOUBLE)"
            return join, (key,), f"{value} {direction} NULLS LAST, "
        if column not in _SORT_COLUMNS:
            known = ", ".join([*RUN_COLUMNS, "params.<key>", "metrics.<key>", "tags.<key>"])
            raise InvalidInputError(f"cannot sort by {column!r}", f"sort by one of: {known}")
        return "", (), f"{_SORT_COLUMNS[column]} {direction} NULLS LAST, "

    def _all_numeric(self, table: str, key: str) -> bool:
        """Whether every value of a param (or tag) parses as a number: then it sorts as one."""
        cache_key = f"{table}.{key}"
        if cache_key not in self._numeric:
            with self._lock:
                rows = self._con.sql(
                    f"SELECT bool_and(TRY_CAST(value AS DOUBLE) IS NOT NULL) FROM {table} "
                    "WHERE key = ? AND value IS NOT NULL",
                    params=[key],
                ).fetchall()
            self._numeric[cache_key] = bool(rows and rows[0][0])
        return self._numeric[cache_key]

    def _pivot(self, column: str) -> pa.Array:
        """The values of `params.X`, `metrics.X` or `tags.X` for every run, by position `i`."""
        if column not in self._pivots:
            namespace, _, key = column.partition(".")
            if namespace not in _NAMESPACE_TABLES or not key:
                raise InvalidInputError(
                    f"unknown column {column!r}", "columns are params.<key> or metrics.<key>"
                )
            rows, values = self._rows_with_key(_NAMESPACE_TABLES[namespace], key)
            source = np.full(self.num_runs, -1, dtype=np.int64)
            source[rows] = np.arange(len(rows), dtype=np.int64)
            self._pivots[column] = values.take(pa.array(source, mask=source < 0))
        return self._pivots[column]

    def _rows_with_key(self, table: str, key: str) -> tuple[np.ndarray, pa.Array]:
        """Run positions and values of the rows of `table` (params, ...) holding `key`."""
        key_values = self._key_values[table]
        if table not in self._row_of:
            # Position of each row's run, computed once per table: later pivots are array ops.
            found = pc.index_in(key_values.column("run_id"), value_set=self._runs.column("run_id"))
            self._row_of[table] = found.fill_null(-1).to_numpy()
        matching = pc.equal(key_values.column("key"), key).fill_null(False).to_numpy(
            zero_copy_only=False
        ) & (self._row_of[table] >= 0)
        values = key_values.column("value").combine_chunks().filter(pa.array(matching))
        return self._row_of[table][matching], values


def _keys_by_count(table: pa.Table) -> tuple[str, ...]:
    """Distinct keys of a (run_id, key, value) table, most common first, then by name."""
    counts = pc.value_counts(table.column("key")).to_pylist()
    ordered = sorted(counts, key=lambda item: (-item["counts"], item["values"]))
    return tuple(str(item["values"]) for item in ordered)


def _condition(where: str) -> tuple[str, tuple[object, ...]]:
    """WHERE text over `runs r` and its values: the filter language, or a substring search."""
    if not where:
        return "true", ()
    try:
        fragment = compile_filter(where)
    except InvalidInputError:
        if _EXPRESSION_LIKE.search(where):
            raise
        needle = where.lower()
        return (
            "(contains(lower(r.run_id), ?) OR contains(lower(r.project), ?) "
            "OR contains(lower(coalesce(r.name, '')), ?))",
            (needle, needle, needle),
        )
    return fragment.sql, fragment.params


def _display_columns(runs: pa.Table) -> pa.Table:
    """The fixed columns, typed for display: short id, created timestamp, duration."""
    run_ids = runs.column("run_id")
    duration = pc.cast(runs.column("duration_ms"), pa.int64()).cast(pa.duration("ms"))
    return pa.table(
        {
            KEY_COLUMN: run_ids,
            "id": pc.utf8_slice_codeunits(run_ids, 0, SHORT_ID),
            "project": runs.column("project"),
            "status": runs.column("status"),
            "attempt": runs.column("attempt"),
            "created": runs.column("created_at"),
            "duration": duration,
        }
    )
