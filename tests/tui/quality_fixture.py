"""Delayed labels for the fixed catalogue: served rows of the `fraud` deployment and their labels.

The fixed catalogue logs requests req-0000..req-0599 of `fraud` over the last ten minutes
(v3 answers every tenth, a few are 500s) but no rows. This adds a served row (one input,
`amount`; the output [1 - p, p]) for each answered one, and served rows of v2 over the five
hours before them (requests too), then labels four rows in five. The scores are seeded, so
every run stores the same numbers; `SERVED` keeps them for tests to compute from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from tests.tui.catalogue_fixture import NOW
from workbench.catalogue import Statement
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.core.request_window import layout_of

DEPLOYMENT = "fraud"
LAYOUT = layout_of(("amount",), "f")
FIXTURE_REQUESTS = 600
"""req-0000..req-0599, as the fixed catalogue logs them."""
HISTORY_HOURS = 5
HISTORY_PER_HOUR = 60


@dataclass(frozen=True)
class ServedRow:
    """One served row as stored: when, by which version, its score and (if sent) its label."""

    request_id: str
    ts: datetime
    version: int
    score: float
    label: float | None


def _fixture_request(second: int) -> tuple[datetime, int, int]:
    """(ts, version, status) of req-`second`, as catalogue_fixture logs it."""
    ts = NOW - timedelta(seconds=FIXTURE_REQUESTS - second)
    return ts, 3 if second % 10 == 0 else 2, 500 if second % 97 == 0 else 200


def served_rows() -> list[ServedRow]:
    """Every served row the fixture stores, oldest first; noisier scores nearer NOW (v2 drifts)."""
    rng = np.random.default_rng(1212)
    keys: list[tuple[str, datetime, int]] = []
    for hours_ago in range(HISTORY_HOURS, 0, -1):
        for i in range(HISTORY_PER_HOUR):
            ts = NOW - timedelta(hours=hours_ago, seconds=50 * (HISTORY_PER_HOUR - i))
            keys.append((f"hist-{hours_ago}-{i:03d}", ts, 2))
    for second in range(FIXTURE_REQUESTS):
        ts, version, status = _fixture_request(second)
        if status == 200:
            keys.append((f"req-{second:04d}", ts, version))
    rows = []
    for position, (request_id, ts, version) in enumerate(keys):
        age = (NOW - ts) / timedelta(hours=1)
        noise = 0.2 if version == 3 else 0.45 - 0.05 * age
        label = float(rng.random() < 0.3)
        score = float(np.clip(0.125 + 0.75 * label + rng.normal(0.0, noise), 0.0, 1.0))
        rows.append(ServedRow(request_id, ts, version, score, label if position % 5 else None))
    return rows


SERVED = served_rows()


def add_feedback(home: Path) -> None:
    """Store the served rows, the history's requests and the labels in `home`'s catalogue."""
    history = [row for row in SERVED if row.request_id.startswith("hist-")]
    labelled = [row for row in SERVED if row.label is not None]
    requests = pa.table(
        {
            "request_id": [row.request_id for row in history],
            "ts": pa.array([row.ts for row in history], pa.timestamp("us")),
            "model_version": pa.array([row.version for row in history], pa.int32()),
        }
    )
    served = pa.table(
        {
            "request_id": [row.request_id for row in SERVED],
            "ts": pa.array([row.ts for row in SERVED], pa.timestamp("us")),
            "model_version": pa.array([row.version for row in SERVED], pa.int32()),
            "amount": [10.0 + i % 90 for i in range(len(SERVED))],
            "score": [row.score for row in SERVED],
        }
    )
    labels = pa.table(
        {
            "request_id": [row.request_id for row in labelled],
            "label": [row.label for row in labelled],
        }
    )
    statements = [
        Statement(
            "INSERT INTO requests (deployment_id, request_id, ts, model_version, status_code, "
            "latency_ms) SELECT ?, request_id, ts, model_version, 200, 5.0 FROM batch",
            (DEPLOYMENT,),
            data=requests,
        ),
        Statement(
            "INSERT INTO request_layouts VALUES (?, ?::VARCHAR[], ?::VARCHAR[])",
            (LAYOUT.key, list(LAYOUT.numeric), list(LAYOUT.categorical)),
        ),
        Statement(
            "INSERT INTO request_rows (deployment_id, request_id, row_index, ts, model_version, "
            "layout, numbers, texts, outputs) SELECT ?, request_id, 0, ts, model_version, ?, "
            "[amount], []::VARCHAR[], [1 - score, score] FROM batch",
            (DEPLOYMENT, LAYOUT.key),
            data=served,
        ),
        Statement(
            "INSERT INTO feedback (deployment_id, request_id, row_index, label, received_at) "
            "SELECT ?, request_id, 0, label, ? FROM batch",
            (DEPLOYMENT, NOW),
            data=labels,
        ),
    ]
    backend = DuckDBBackend(home / "catalogue.duckdb")
    try:
        backend.write(statements)
    finally:
        backend.close()
