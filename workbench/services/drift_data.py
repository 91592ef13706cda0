"""Datasets for drift: CSV or Parquet files read as Arrow columns, and the reference profile a
pipeline stores when it registers a version (from the table its training step read)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.drift.profile import CategoryCounts
from workbench.core.errors import InvalidInputError, first_line

TABLE_SUFFIXES = (".parquet", ".pq", ".csv")


def read_columns(path: Path, flag: str) -> dict[str, Any]:
    """Every column of a CSV or Parquet file, ready for a check (one-line errors, exit 2)."""
    names, read = column_reader(path, flag)
    return {name: read(name) for name in names}


def column_reader(path: Path, flag: str) -> tuple[list[str], Callable[[str], Any]]:
    """A file's column names and a function reading one column ready for a check: Parquet
    reads just that column; a CSV is parsed once and hands each column over only once."""
    import pyarrow as pa

    if not path.is_file():
        raise InvalidInputError(f"{flag} {path}: no such file", "give a .csv or .parquet file")
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InvalidInputError(f"{flag} {path}: not a .csv or .parquet file")
    try:
        if suffix == ".csv":
            from pyarrow import csv

            table = csv.read_csv(path)
            columns = {name: table.column(name) for name in table.column_names}
            del table
            return list(columns), lambda name: arrow_columns({name: columns.pop(name)})[name]
        from pyarrow import parquet

        names = parquet.ParquetFile(path).schema_arrow.names
    except (pa.ArrowException, OSError, ValueError) as error:
        message = f"{flag} {path} cannot be read: {first_line(error)[:200]}"
        raise InvalidInputError(message) from None

    def read_parquet(name: str) -> Any:
        try:
            column = parquet.read_table(path, columns=[name]).column(0)
        except (pa.ArrowException, OSError, ValueError) as error:
            message = f"{flag} {path} cannot be read: {first_line(error)[:200]}"
            raise InvalidInputError(message) from None
        return arrow_columns({name: column})[name]

    return names, read_parquet


def arrow_columns(columns: Mapping[str, Any]) -> dict[str, Any]:
    """Arrow columns as the drift core takes them: numbers (and bools) as float64 numpy
    arrays, nulls as NaN; anything else counted per category, in Arrow, without a Python
    object per value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    prepared: dict[str, Any] = {}
    for name, column in columns.items():
        kind = column.type
        if pa.types.is_dictionary(kind):
            column, kind = column.cast(kind.value_type), kind.value_type
        # A column with no values at all (a CSV's empty column) is numbers all missing: a
        # check finds it insufficient, numeric or categorical, rather than an error.
        if (
            pa.types.is_null(kind)
            or pa.types.is_integer(kind)
            or pa.types.is_floating(kind)
            or pa.types.is_boolean(kind)
        ):
            floats = pc.cast(column, pa.float64())
            prepared[name] = floats.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
            continue
        text = column if pa.types.is_string(kind) else pc.cast(column, pa.string())
        counted = pc.value_counts(pc.drop_null(text))
        counts = dict(
            zip(
                counted.field("values").to_pylist(),
                counted.field("counts").to_pylist(),
                strict=True,
            )
        )
        prepared[name] = CategoryCounts(counts, text.null_count)
    return prepared


def training_table(step_inputs: dict[str, str]) -> Path | None:
    """The first table among a training step's inputs (a save_table output or a file)."""
    for uri in step_inputs.values():
        path = Path(uri)
        if path.is_dir():
            tables = sorted(p for p in path.iterdir() if p.suffix.lower() in TABLE_SUFFIXES)
            if tables:
                return tables[0]
        elif path.suffix.lower() in TABLE_SUFFIXES and path.is_file():
            return path
    return None
