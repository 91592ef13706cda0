"""Delayed labels (`feedback`) joined to served rows (`request_rows`) by request id and row."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa

from workbench.catalogue.backend import Statement
from workbench.catalogue.catalogue import Catalogue, utcnow
from workbench.core.quality import LabelledRows, ModelOutputs

_KEYS = """
SELECT k.position, r.request_id IS NOT NULL AS known, f.request_id IS NOT NULL AS labelled
FROM (SELECT unnest(?::VARCHAR[]) AS request_id, unnest(?::INTEGER[]) AS row_index,
             unnest(range(?)) AS position) k
LEFT JOIN (SELECT DISTINCT request_id, row_index FROM request_rows WHERE deployment_id = ?) r
       USING (request_id, row_index)
LEFT JOIN (SELECT request_id, row_index FROM feedback WHERE deployment_id = ?) f
       USING (request_id, row_index)
ORDER BY k.position
"""

_UPSERT = (
    "INSERT OR REPLACE INTO feedback (deployment_id, request_id, row_index, label, received_at) "
    "SELECT ?, request_id, row_index, label, ? FROM batch"
)

_LABELLED = """
SELECT r.ts, coalesce(r.model_version, -1) AS model_version, f.label,
       coalesce(r.outputs[1], 'NaN'::DOUBLE) AS first,
       coalesce(r.outputs[2], 'NaN'::DOUBLE) AS second,
       coalesce(len(r.outputs), 0) AS width
FROM feedback f JOIN request_rows r USING (deployment_id, request_id, row_index)
WHERE f.deployment_id = ? AND r.ts >= ? AND r.ts < ?
ORDER BY r.ts
"""


class FeedbackLedger:
    """Labels of served rows: which keys are known, storing labels, and labelled outputs."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.backend = catalogue.backend

    def key_status(
        self, deployment: str, request_ids: list[str], row_index: list[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per key (in the order given): was the row served by `deployment`, and does it
        already have a label."""
        table = self.backend.query(
            _KEYS, (request_ids, row_index, len(request_ids), deployment, deployment)
        )
        known = table.column("known").to_numpy(zero_copy_only=False).astype(bool)
        labelled = table.column("labelled").to_numpy(zero_copy_only=False).astype(bool)
        return known, labelled

    def record(self, deployment: str, labels: pa.Table) -> None:
        """Store `labels` (request_id, row_index, label) in one transaction; a label sent again
        replaces the old one."""
        self.backend.write([Statement(_UPSERT, (deployment, utcnow()), data=labels)])

    def labelled(self, deployment: str, start: datetime, end: datetime) -> LabelledRows:
        """Rows `deployment` answered in [start, end) that have a label, oldest first."""
        table = self.backend.query(_LABELLED, (deployment, start, end))

        def column(name: str) -> np.ndarray:
            return table.column(name).to_numpy()

        outputs = ModelOutputs(
            labels=column("label"),
            first=column("first"),
            second=column("second"),
            width=column("width").astype(np.int64),
        )
        return LabelledRows(
            ts=column("ts").astype("datetime64[us]"),
            model_versions=column("model_version").astype(np.int64),
            outputs=outputs,
        )
