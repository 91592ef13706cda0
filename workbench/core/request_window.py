"""Served request rows as columns: the layout of a request's inputs, and a window of rows.

A layout names which input columns are numeric (numeric or boolean dtype, stored as
DOUBLE[] per row) and which are categorical (everything else, stored as text). Rows of one
layout read back as a matrix, so a drift check over millions of rows gets numpy columns,
not JSON to parse.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

NUMERIC_KINDS = "biuf"
"""numpy dtype kinds stored as numbers: bool, signed and unsigned integers, floats."""


@dataclass(frozen=True)
class RequestLayout:
    """Which input columns are numeric and which categorical, in request order; `key` is a
    short stable hash of both name lists."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]

    @property
    def key(self) -> str:
        text = json.dumps([list(self.numeric), list(self.categorical)], separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def layout_of(names: Sequence[str], kinds: str) -> RequestLayout:
    """The layout of input columns `names` whose numpy dtype kinds are `kinds` (one letter
    each): numeric and boolean columns are numeric, the rest categorical."""
    numeric = tuple(name for name, kind in zip(names, kinds, strict=True) if kind in NUMERIC_KINDS)
    chosen = set(numeric)
    return RequestLayout(numeric, tuple(name for name in names if name not in chosen))


@dataclass(frozen=True)
class RequestWindow:
    """The input rows a deployment served in [start, end), of the newest layout among them.

    Row i of every array is the same served row: `numeric` columns are float64 (NaN where the
    client sent NaN), `categorical` columns object arrays of str or None.
    """

    start: datetime
    end: datetime
    layout: RequestLayout | None
    numeric: dict[str, np.ndarray]
    categorical: dict[str, np.ndarray]
    request_ids: np.ndarray
    """object array of str: the id each row's request was answered with (x-request-id)."""
    row_index: np.ndarray
    """int32: the row's position in its request."""
    ts: np.ndarray
    """datetime64[us], naive UTC: when the request was answered."""
    model_versions: np.ndarray
    """int64: the model version that answered; -1 where none was recorded."""
    skipped_rows: int = 0
    """Rows in the window with an older layout (other input columns), left out."""

    @property
    def rows(self) -> int:
        """How many rows the window holds."""
        return len(self.request_ids)

    def columns(self) -> dict[str, np.ndarray]:
        """Numeric and categorical columns together, numeric first."""
        return {**self.numeric, **self.categorical}

    @classmethod
    def empty(cls, start: datetime, end: datetime, skipped_rows: int = 0) -> RequestWindow:
        """A window with no rows (nothing served in it)."""
        return cls(
            start=start,
            end=end,
            layout=None,
            numeric={},
            categorical={},
            request_ids=np.empty(0, dtype=object),
            row_index=np.empty(0, dtype=np.int32),
            ts=np.empty(0, dtype="datetime64[us]"),
            model_versions=np.empty(0, dtype=np.int64),
            skipped_rows=skipped_rows,
        )
