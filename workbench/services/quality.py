"""Delayed labels and model quality: `workbench feedback` and `workbench quality`.

Labels arrive after the fact, keyed by the request id a deployment answered with
(`x-request-id`) and the row's position in that request. A label file is taken whole or
not at all; quality is then computed per time bucket and model version from the labelled
rows' stored outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from workbench.catalogue.deployments import DeploymentLedger
from workbench.catalogue.feedback import FeedbackLedger
from workbench.core.errors import InvalidInputError, NotFoundError
from workbench.core.quality import AUTO, QualityMetrics, pick_kind, quality_metrics
from workbench.core.settings import Settings
from workbench.owner import open_catalogue
from workbench.services.telemetry import parse_since

MAX_BUCKETS = 1000
UNKNOWN = "unknown"
"""The kind of a model with no labelled rows in the window yet."""
_SHOWN = 5  # offending ids named in an error
_FILE_HINT = (
    "give a CSV or Parquet file with columns request_id, label (a number: 0/1 or a value) "
    "and optionally row_index"
)


@dataclass(frozen=True)
class FeedbackResult:
    """Labels stored for a deployment's served rows; `replaced` of them had a label already."""

    deployment: str
    path: str
    labels: int
    replaced: int

    def to_json(self) -> dict[str, Any]:
        return {"deployment": self.deployment, "file": self.path, "labels": self.labels,
                "replaced": self.replaced}  # fmt: skip


@dataclass(frozen=True)
class QualityRow:
    """Quality of one model version over one time bucket (version None: no labelled rows)."""

    start: datetime
    end: datetime
    model_version: int | None
    metrics: QualityMetrics

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "model_version": self.model_version,
                **self.metrics.to_json()}  # fmt: skip


@dataclass(frozen=True)
class QualityReport:
    """A deployment's quality over [start, end) in buckets of `every`, and over all of it."""

    deployment: str
    kind: str
    start: datetime
    end: datetime
    every: timedelta
    buckets: tuple[QualityRow, ...]
    total: QualityMetrics

    def to_json(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "every_s": self.every.total_seconds(),
            "total": self.total.to_json(),
            "buckets": [row.to_json() for row in self.buckets],
        }


def record_feedback(settings: Settings, deployment: str, path: Path) -> FeedbackResult:
    """Join the labels in `path` to `deployment`'s served rows and store them, all or none."""
    labels = read_labels(path)
    ids = labels.column("request_id").to_pylist()
    rows = labels.column("row_index").to_pylist()
    with open_catalogue(settings) as catalogue:
        if DeploymentLedger(catalogue).get(deployment) is None:
            raise NotFoundError(
                f"no deployment {deployment!r}", "list deployments with `workbench deployments ls`"
            )
        ledger = FeedbackLedger(catalogue)
        known, labelled = ledger.key_status(deployment, ids, rows)
        if not known.all():
            unknown = np.flatnonzero(~known)
            raise InvalidInputError(
                f"{len(unknown)} of {len(ids)} labels name rows {deployment} never served: "
                f"{_named(ids, rows, unknown)}; nothing was stored",
                "labels join on the x-request-id a deployment answered with (and row_index, "
                "the row's position in that request); only sampled requests are kept",
            )
        ledger.record(deployment, labels)
    return FeedbackResult(deployment, str(path), len(ids), int(labelled.sum()))


def read_labels(path: Path) -> pa.Table:
    """request_id (text), row_index (int32, 0 when absent) and label (float64) from a CSV or
    Parquet file; anything missing, non-numeric or repeated is refused naming the rows."""
    table = _read_table(path)
    missing = [name for name in ("request_id", "label") if name not in table.column_names]
    if missing:
        raise InvalidInputError(
            f"{path.name} has no column {', '.join(missing)} (it has: "
            f"{', '.join(table.column_names) or 'none'})",
            _FILE_HINT,
        )
    if not table.num_rows:
        raise InvalidInputError(f"{path.name} holds no labels", _FILE_HINT)
    ids = table.column("request_id").cast(pa.string())
    if ids.null_count:
        raise InvalidInputError(
            f"{path.name}: {ids.null_count} rows have no request_id", _FILE_HINT
        )
    id_list = ids.to_pylist()
    rows = _row_index(table, id_list, path)
    labels = _numbers(table.column("label"))
    bad = np.flatnonzero(~np.isfinite(labels))
    if len(bad):
        raise InvalidInputError(
            f"{path.name}: {len(bad)} labels are not numbers: {_named(id_list, rows, bad)}",
            _FILE_HINT,
        )
    duplicated = _duplicates(id_list, rows)
    if len(duplicated):
        raise InvalidInputError(
            f"{path.name}: {len(duplicated)} rows repeat a (request_id, row_index) of an earlier "
            f"row: {_named(id_list, rows, duplicated)}",
            "send one label per served row",
        )
    return pa.table(
        {
            "request_id": ids.combine_chunks(),
            "row_index": pa.array(rows, pa.int32()),
            "label": pa.array(labels, pa.float64()),
        }
    )


def _read_table(path: Path) -> pa.Table:
    import pyarrow.csv as pacsv  # deferred: only label files need the readers
    import pyarrow.parquet as pq

    if not path.is_file():
        raise NotFoundError(f"no label file {path}", _FILE_HINT)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            options = pacsv.ConvertOptions(column_types={"request_id": pa.string()})
            return pacsv.read_csv(path, convert_options=options)
        if suffix in (".parquet", ".pq"):
            return pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InvalidInputError(f"cannot read {path.name}: {first}", _FILE_HINT) from None
    raise InvalidInputError(f"{path.name}: a label file must end in .csv or .parquet", _FILE_HINT)


def _row_index(table: pa.Table, ids: list[str], path: Path) -> np.ndarray:
    if "row_index" not in table.column_names:
        return np.zeros(table.num_rows, dtype=np.int64)
    values = _numbers(table.column("row_index"))
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0) | (values != np.round(values)))
    if len(bad):
        raise InvalidInputError(
            f"{path.name}: {len(bad)} row_index values are not whole numbers >= 0: "
            f"{', '.join(ids[i] for i in bad[:_SHOWN])}",
            "row_index is the row's position in its request, 0 for the first",
        )
    return values.astype(np.int64)


def _numbers(column: pa.ChunkedArray) -> np.ndarray:
    """A column as float64, NaN where a value is missing or not a number."""
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return column.cast(pa.float64()).fill_null(math.nan).to_numpy()
    if pa.types.is_boolean(column.type):
        return column.cast(pa.float64()).fill_null(math.nan).to_numpy()
    return np.array([_number(v) for v in column.to_pylist()], dtype=np.float64)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _duplicates(ids: list[str], rows: np.ndarray) -> np.ndarray:
    """Positions of rows whose (request_id, row_index) appeared earlier in the file."""
    keys = np.array([f"{i}\x00{r}" for i, r in zip(ids, rows.tolist(), strict=True)], dtype=object)
    _, first = np.unique(keys, return_index=True)
    repeated = np.ones(len(keys), dtype=bool)
    repeated[first] = False
    return np.flatnonzero(repeated)


def _named(ids: list[str], rows: np.ndarray | list[int], positions: np.ndarray) -> str:
    """The first few offending keys: `id` for row 0, `id#row` otherwise."""
    shown = [
        ids[i] if int(rows[i]) == 0 else f"{ids[i]}#{int(rows[i])}" for i in positions[:_SHOWN]
    ]
    more = f" and {len(positions) - _SHOWN} more" if len(positions) > _SHOWN else ""
    return ", ".join(shown) + more


def parse_duration(text: str, flag: str) -> timedelta:
    """`30m`, `1h`, `7d`, `2w` as a timedelta; an error names `flag`."""
    try:
        return parse_since(text)
    except InvalidInputError as error:
        raise InvalidInputError(error.message.replace("--since", flag), error.hint) from None


def quality(
    settings: Settings,
    deployment: str,
    *,
    now: datetime,
    since: timedelta,
    every: timedelta,
    kind: str = AUTO,
) -> QualityReport:
    """Quality of `deployment` per `every` bucket and model version over the `since` before
    `now` (buckets without labelled rows say so), and over the whole span."""
    if since <= timedelta(0) or every <= timedelta(0):
        raise InvalidInputError("--since and --every must be more than zero", "e.g. 24h and 1h")
    count = math.ceil(since / every)
    if count > MAX_BUCKETS:
        raise InvalidInputError(
            f"{count} buckets of {every} in {since}: at most {MAX_BUCKETS}",
            "give a longer --every or a shorter --since",
        )
    start = now - since
    with open_catalogue(settings) as catalogue:
        if DeploymentLedger(catalogue).get(deployment) is None:
            raise NotFoundError(
                f"no deployment {deployment!r}", "list deployments with `workbench deployments ls`"
            )
        labelled = FeedbackLedger(catalogue).labelled(deployment, start, now)
    if not len(labelled.outputs):
        chosen = UNKNOWN if kind == AUTO else kind
        empty = tuple(
            QualityRow(
                start + i * every,
                min(start + (i + 1) * every, now),
                None,
                QualityMetrics(chosen, 0),
            )  # fmt: skip
            for i in range(count)
        )
        return QualityReport(
            deployment, chosen, start, now, every, empty, QualityMetrics(chosen, 0)
        )
    chosen = pick_kind(labelled.outputs, kind)
    step = np.timedelta64(int(every.total_seconds() * 1e6), "us")
    bucket_of = (labelled.ts - np.datetime64(start, "us")) // step
    rows: list[QualityRow] = []
    for index in range(count):
        first = start + index * every
        last = min(first + every, now)
        in_bucket = bucket_of == index
        versions = np.unique(labelled.model_versions[in_bucket])
        if not len(versions):
            rows.append(QualityRow(first, last, None, QualityMetrics(chosen, 0)))
        for version in versions.tolist():
            picked = in_bucket & (labelled.model_versions == version)
            metrics = quality_metrics(labelled.outputs.subset(picked), chosen)
            rows.append(QualityRow(first, last, None if version < 0 else version, metrics))
    total = quality_metrics(labelled.outputs, chosen)
    return QualityReport(deployment, chosen, start, now, every, tuple(rows), total)
