"""Served request rows as columns: the layout of a request's inputs.

A layout names which input columns are numeric (numeric or boolean dtype, stored as
DOUBLE[] per row) and which are categorical (everything else, stored as text). Rows of one
layout read back as columns, so a drift check over millions of rows gets numpy arrays, not
JSON to parse.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

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
