"""The catalogue API: runs, params, metrics and queries, over any `Backend`.

Validation happens here, once, whoever owns the file. All user values are bound
parameters. Metric points are buffered and flushed in the background, so logging
inside a training loop never waits on disk or on the network.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from workbench.catalogue.backend import Backend, Statement
from workbench.catalogue.metric_buffer import MetricFlusher, now_us
from workbench.catalogue.run_rows import key_value_statements, load_runs, sort_sql
from workbench.core.entities import Lineage, Run, RunStatus
from workbench.core.errors import InvalidInputError, NotFoundError
from workbench.core.filters import compile_filter

if TYPE_CHECKING:
    import pyarrow as pa

_RUN_REF = re.compile(r"^[0-9a-f]{4,32}$")
_RUNS_HINT = "list runs with `workbench runs ls`"

_INSERT_METRICS = """
INSERT INTO metrics
SELECT b.run_id, b.key, b.step, b.timestamp, b.value, coalesce(r.attempt, 1)
FROM batch b LEFT JOIN runs r ON r.run_id = b.run_id
"""
_UPSERT_LATEST = """
INSERT INTO latest_metrics
SELECT run_id, key, max(step), arg_max(timestamp, step), arg_max(value, step)
FROM batch GROUP BY run_id, key
ON CONFLICT (run_id, key) DO UPDATE
SET step = excluded.step, timestamp = excluded.timestamp, value = excluded.value
WHERE excluded.step >= latest_metrics.step
"""


def utcnow() -> datetime:
    """Naive UTC now: the catalogue stores TIMESTAMP columns in UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


class Catalogue:
    """Every read and write Workbench makes to its history goes through here."""

    def __init__(
        self, backend: Backend, *, flush_interval_s: float = 0.25, flush_rows: int = 1_000_000
    ) -> None:
        self.backend = backend
        self._metrics = MetricFlusher(
            self._write_metrics, interval_s=flush_interval_s, max_rows=flush_rows
        )
        self._steps: dict[tuple[str, str], int] = {}

    @property
    def flush_interval_s(self) -> float:
        """Seconds between background flushes of buffered metrics."""
        return self._metrics.interval_s

    @flush_interval_s.setter
    def flush_interval_s(self, value: float) -> None:
        self._metrics.interval_s = value

    # -- life cycle -------------------------------------------------------------------------

    def __enter__(self) -> Catalogue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Flush buffered metrics, stop the flusher and release the backend."""
        try:
            self.flush()
        finally:
            self._metrics.stop()
            self.backend.close()

    # -- runs -------------------------------------------------------------------------------

    def create_run(
        self,
        project: str,
        *,
        name: str | None = None,
        params: Mapping[str, object] | None = None,
        tags: Mapping[str, str] | None = None,
        parent_run_id: str | None = None,
        kind: str = "run",
        lineage: Lineage | None = None,
        status: RunStatus = RunStatus.RUNNING,
    ) -> str:
        """Record a new run (with its params and tags, atomically) and return its id."""
        if not project:
            raise InvalidInputError("a run needs a project name", "pass project='my-project'")
        run_id = uuid.uuid4().hex
        now = utcnow()
        lineage = lineage or Lineage()
        started = now if status == RunStatus.RUNNING else None
        statements = [
            Statement(
                "INSERT INTO runs (run_id, project, name, kind, parent_run_id, status, attempt, "
                "created_at, started_at, heartbeat_at, git_commit, git_dirty, data_fingerprint, "
                "environment, cluster_id, nodes) "
                "VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    project,
                    name,
                    kind,
                    parent_run_id,
                    str(status),
                    now,
                    started,
                    started,
                    lineage.git_commit,
                    lineage.git_dirty,
                    lineage.data_fingerprint,
                    json.dumps(lineage.environment),
                    lineage.cluster_id,
                    json.dumps(lineage.nodes),
                ),
            )
        ]
        statements += key_value_statements("params", run_id, params or {})
        statements += key_value_statements("tags", run_id, tags or {})
        # A remote owner applies one client's writes in order, so later reads see this run;
        # not waiting keeps run creation off a trial's critical path. Errors surface at sync.
        self.backend.write(statements, wait=False)
        return run_id

    def log_params(self, run_id: str, params: Mapping[str, object]) -> None:
        """Record params (stored as text, like MLflow); re-logging a key overwrites it."""
        self.backend.write(key_value_statements("params", run_id, params))

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Record free-form tags on a run."""
        self.backend.write(key_value_statements("tags", run_id, tags))

    def set_status(
        self,
        run_id: str,
        status: RunStatus,
        *,
        error: str | None = None,
        traceback: str | None = None,
    ) -> None:
        """Move a run to `status`; a terminal status also stamps `ended_at`.

        Buffered metrics go first, in order; like `create_run`, this does not wait for a
        remote owner (close or flush does).
        """
        ended = utcnow() if status.terminal else None
        with self._metrics.flushed(wait=False):
            self.backend.write(
                [
                    Statement(
                        "UPDATE runs SET status = ?, ended_at = ?, error = ?, traceback = ? "
                        "WHERE run_id = ?",
                        (str(status), ended, error, traceback, run_id),
                    )
                ],
                wait=False,
            )

    def finish_run(self, run_id: str, status: RunStatus = RunStatus.FINISHED) -> None:
        """Flush the run's metrics and mark it finished (or another terminal status)."""
        if not status.terminal:
            raise InvalidInputError(f"{status} is not a terminal status")
        self.set_status(run_id, status)

    # -- metrics ----------------------------------------------------------------------------

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        step: int | None = None,
        timestamp_us: int | None = None,
    ) -> None:
        """Buffer one point; returns at once. `step` defaults to one past this client's last."""
        if step is None:
            step = self._steps.get((run_id, key), -1) + 1
        self._steps[(run_id, key)] = step
        self._metrics.add(run_id, key, float(value), step, timestamp_us or now_us())

    def log_metric_history(
        self,
        run_id: str,
        key: str,
        steps: Sequence[int] | np.ndarray,
        values: Sequence[float] | np.ndarray,
        timestamps_us: Sequence[int] | np.ndarray | None = None,
    ) -> None:
        """Buffer a whole history of one metric at once (columnar, the fast path)."""
        steps_arr = np.asarray(steps, dtype=np.int64)
        values_arr = np.asarray(values, dtype=np.float64)
        if steps_arr.shape != values_arr.shape or steps_arr.ndim != 1:
            raise InvalidInputError("steps and values must be 1-D and of the same length")
        if timestamps_us is None:
            stamps = np.full(len(steps_arr), now_us(), dtype=np.int64)
        else:
            stamps = np.asarray(timestamps_us, dtype=np.int64)
        if len(steps_arr):
            self._steps[(run_id, key)] = int(steps_arr.max())
        self._metrics.add_many(run_id, key, steps_arr, values_arr, stamps)

    def log_batch(self, run_id: str, metrics: Iterable[tuple[str, float, int]]) -> None:
        """Buffer (key, value, step) points, grouped per key onto the columnar fast path."""
        columns: dict[str, tuple[list[int], list[float]]] = {}
        for key, value, step in metrics:
            steps, values = columns.setdefault(key, ([], []))
            steps.append(step)
            values.append(value)
        stamp = now_us()
        for key, (steps, values) in columns.items():
            self.log_metric_history(
                run_id, key, steps, values, np.full(len(steps), stamp, np.int64)
            )

    def flush(self) -> None:
        """Write everything buffered now, in one transaction, and wait for pending writes."""
        with self._metrics.flushed(wait=True):
            self.backend.sync()

    def _write_metrics(self, table: pa.Table, wait: bool) -> None:
        """The flusher's callback: append the points and move each key's latest value."""
        self.backend.write(
            [Statement(_INSERT_METRICS, data=table), Statement(_UPSERT_LATEST, data=table)],
            wait=wait,
        )

    # -- reads ------------------------------------------------------------------------------

    def resolve_run_id(self, ref: str) -> str:
        """A full run id from an id or a unique prefix of at least 4 hex characters."""
        ref = ref.strip().lower()
        if not _RUN_REF.match(ref):
            raise NotFoundError(f"no run matches {ref!r}: run ids are hex", _RUNS_HINT)
        rows = (
            self.backend.query(
                "SELECT run_id FROM runs WHERE starts_with(run_id, ?) ORDER BY run_id LIMIT 2",
                (ref,),
            )
            .column("run_id")
            .to_pylist()
        )
        if not rows:
            raise NotFoundError(f"no run matches {ref!r}", _RUNS_HINT)
        if len(rows) > 1:
            raise InvalidInputError(f"run id prefix {ref!r} is ambiguous", "give more characters")
        return str(rows[0])

    def get_run(self, ref: str) -> Run:
        """One run with its params, latest metrics and tags; NotFoundError if unknown."""
        run_id = self.resolve_run_id(ref)
        self.flush()
        return load_runs(self.backend, [run_id])[0]

    def search_runs(
        self,
        *,
        project: str | None = None,
        status: str | None = None,
        where: str | None = None,
        sort: str | None = None,
        limit: int = 100,
    ) -> list[Run]:
        """Runs matching a filter, sorted, at most `limit`, each with params and metrics."""
        if limit < 1:
            raise InvalidInputError(f"--limit must be at least 1, got {limit}")
        self.flush()
        clauses: list[str] = []
        values: list[object] = []
        if project:
            clauses.append("r.project = ?")
            values.append(project)
        if status:
            try:
                values.append(str(RunStatus(status.lower())))
            except ValueError:
                known = ", ".join(s.value for s in RunStatus)
                raise InvalidInputError(f"unknown status {status!r}", f"one of: {known}") from None
            clauses.append("r.status = ?")
        if where:
            fragment = compile_filter(where)
            clauses.append(fragment.sql)
            values.extend(fragment.params)
        join, join_values, order = sort_sql(sort)
        condition = " AND ".join(clauses) or "true"
        return load_runs(
            self.backend, self._ordered_run_ids(condition, values, join, join_values, limit, order)
        )

    def metric_keys(self, run_id: str) -> list[str]:
        """Names of the metrics a run has logged."""
        table = self.backend.query(
            "SELECT key FROM latest_metrics WHERE run_id = ? ORDER BY key", (run_id,)
        )
        return [str(k) for k in table.column("key").to_pylist()]

    def metric_history(self, ref: str, key: str) -> pa.Table:
        """(step, timestamp, value) of one metric, one row per step (latest attempt wins)."""
        run_id = self.resolve_run_id(ref)
        self.flush()
        table = self.backend.query(
            "SELECT step, timestamp, value FROM metrics WHERE run_id = ? AND key = ? "
            "QUALIFY row_number() OVER "
            "(PARTITION BY step ORDER BY attempt DESC, timestamp DESC) = 1 "
            "ORDER BY step",
            (run_id, key),
        )
        if table.num_rows == 0:
            keys = ", ".join(self.metric_keys(run_id)) or "none yet"
            raise NotFoundError(f"run {run_id[:12]} has no metric {key!r}", f"its metrics: {keys}")
        return table

    def metric_points(self, run_id: str) -> list[tuple[str, float, int, int]]:
        """Every stored point of a run as (key, value, epoch ms, step), by key then step.

        All attempts, as stored; like `metric_keys`, this does not flush the buffer first.
        """
        rows = self.backend.query(
            "SELECT key, value, epoch_ms(timestamp) AS ms, step FROM metrics WHERE run_id = ? "
            "ORDER BY key, step",
            (run_id,),
        ).to_pydict()
        return list(zip(rows["key"], rows["value"], rows["ms"], rows["step"], strict=True))

    def metric_series(self, run_id: str) -> dict[str, list[tuple[int, float]]]:
        """Every metric of a run as (step, value) by step; the latest attempt wins a step."""
        self.flush()
        rows = self.backend.query(
            "SELECT key, step, value FROM metrics WHERE run_id = ? QUALIFY row_number() OVER "
            "(PARTITION BY key, step ORDER BY attempt DESC, timestamp DESC) = 1 "
            "ORDER BY key, step",
            (run_id,),
        ).to_pydict()
        series: dict[str, list[tuple[int, float]]] = {}
        for key, step, value in zip(rows["key"], rows["step"], rows["value"], strict=True):
            series.setdefault(key, []).append((step, value))
        return series

    def run_traceback(self, run_id: str) -> str | None:
        """The traceback `set_status` recorded for a run, or None."""
        rows = self.backend.query("SELECT traceback FROM runs WHERE run_id = ?", (run_id,))
        found = rows.column("traceback").to_pylist()
        return found[0] if found else None

    def tag_values(self, key: str) -> set[str]:
        """Every value tag `key` has, across all runs (flushed first, like `sql`)."""
        self.flush()
        table = self.backend.query("SELECT value FROM tags WHERE key = ?", (key,))
        return {str(value) for value in table.column("value").to_pylist() if value is not None}

    def sql(self, query: str) -> pa.Table:
        """Run one read-only SQL statement against the catalogue (writes are refused)."""
        self.flush()
        return self.backend.query(query)

    # -- helpers ----------------------------------------------------------------------------

    def _ordered_run_ids(
        self,
        condition: str,
        values: Sequence[object],
        join: str,
        join_values: Sequence[object],
        limit: int,
        order: str,
    ) -> list[str]:
        """Ids of the first `limit` runs matching `condition` in `order`.

        Only the id travels through the filter and sort joins: the whole row of every matching
        run did before, and cost more than the joins themselves (see bench_catalogue.py).
        """
        sql = (
            f"SELECT r.run_id FROM runs r {join} WHERE {condition} "
            f"ORDER BY {order}, r.run_id LIMIT ?"
        )
        table = self.backend.query(sql, (*join_values, *values, limit))
        return [str(run_id) for run_id in table.column("run_id").to_pylist()]
