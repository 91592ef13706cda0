"""Runs as rows, for `Catalogue`: params and tags statements, sort SQL, `Run` values from rows.

Kept apart so catalogue.py holds the API and this module the row-level SQL it is built on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from workbench.catalogue.backend import Backend, Statement
from workbench.core.entities import Lineage, Run, RunStatus
from workbench.core.errors import InvalidInputError
from workbench.core.filters import ATTRIBUTES, parse_sort

# Rows of the runs picked, with their params, tags and latest metrics, by one hash semi-join
# each: a `list_contains` filter compares every row with every id and materialises all columns.
_RUN_ROWS = "SELECT * FROM runs WHERE run_id IN (SELECT unnest(?))"
_RUN_DETAILS = """
WITH picked AS (SELECT unnest(?) AS run_id)
SELECT 'params' AS ns, run_id, key, value, NULL::DOUBLE AS number FROM params
WHERE run_id IN (SELECT run_id FROM picked)
UNION ALL SELECT 'tags', run_id, key, value, NULL FROM tags
WHERE run_id IN (SELECT run_id FROM picked)
UNION ALL SELECT 'metrics', run_id, key, NULL, value FROM latest_metrics
WHERE run_id IN (SELECT run_id FROM picked)
"""


def load_runs(backend: Backend, run_ids: list[str]) -> list[Run]:
    """`Run` values for `run_ids`, in that order, each with its params, tags and latest metrics."""
    if not run_ids:
        return []
    rows = {row["run_id"]: row for row in backend.query(_RUN_ROWS, (run_ids,)).to_pylist()}
    details = backend.query(_RUN_DETAILS, (run_ids,)).to_pydict()
    extra: dict[str, dict[str, dict[str, Any]]] = {
        i: {"params": {}, "tags": {}, "metrics": {}} for i in run_ids
    }
    for ns, run_id, key, value, number in zip(
        details["ns"],
        details["run_id"],
        details["key"],
        details["value"],
        details["number"],
        strict=True,
    ):
        extra[run_id][ns][key] = number if ns == "metrics" else value
    return [_run_from_row(rows[i], extra[i]) for i in run_ids if i in rows]


def key_value_statements(table: str, run_id: str, items: Mapping[str, object]) -> list[Statement]:
    """One upsert of (run_id, key, value) rows into `params` or `tags`; [] when empty."""
    if not items:
        return []
    rows: list[object] = []
    for key, value in items.items():
        if not isinstance(key, str) or not key:
            raise InvalidInputError(f"{table} keys must be non-empty strings, got {key!r}")
        rows += [run_id, key, None if value is None else str(value)]
    placeholders = ", ".join("(?, ?, ?)" for _ in items)
    return [
        Statement(
            f"INSERT INTO {table} (run_id, key, value) VALUES {placeholders} "
            "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
            tuple(rows),
        )
    ]


def sort_sql(sort: str | None) -> tuple[str, tuple[object, ...], str]:
    """JOIN clause, its bound values, and ORDER BY text for a user sort key."""
    if not sort:
        return "", (), "r.created_at DESC"
    key = parse_sort(sort)
    direction = "DESC" if key.descending else "ASC"
    if key.field.namespace is None:
        return "", (), f"{ATTRIBUTES[key.field.name]} {direction} NULLS LAST"
    table = {"params": "params", "metrics": "latest_metrics", "tags": "tags"}[key.field.namespace]
    join = f"LEFT JOIN {table} s ON s.run_id = r.run_id AND s.key = ?"
    if key.field.namespace == "metrics":
        order = f"s.value {direction} NULLS LAST"
    else:
        order = (
            f"TRY_CAST(s.value AS DOUBLE) {direction} NULLS LAST, s.value {direction} NULLS LAST"
        )
    return join, (key.field.name,), order


def _run_from_row(row: dict[str, Any], extra: dict[str, dict[str, Any]]) -> Run:
    return Run(
        run_id=row["run_id"],
        project=row["project"],
        name=row["name"],
        status=RunStatus(row["status"]),
        attempt=row["attempt"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        parent_run_id=row["parent_run_id"],
        kind=row["kind"],
        error=row["error"],
        lineage=Lineage(
            git_commit=row["git_commit"],
            git_dirty=row["git_dirty"],
            data_fingerprint=row["data_fingerprint"],
            environment=json.loads(row["environment"] or "{}"),
            cluster_id=row["cluster_id"],
            nodes=json.loads(row["nodes"] or "[]"),
        ),
        params=extra["params"],
        metrics=extra["metrics"],
        tags=extra["tags"],
    )
