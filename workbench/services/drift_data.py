"""Datasets for drift: CSV or Parquet files read as Arrow columns, and the reference profile a
pipeline stores when it registers a version (from the table its training step read)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.core.errors import InvalidInputError, first_line

TABLE_SUFFIXES = (".parquet", ".pq", ".csv")


def read_columns(path: Path, flag: str) -> dict[str, Any]:
    """Every column of a CSV or Parquet file as an Arrow array (one-line errors, exit 2)."""
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
        else:
            from pyarrow import parquet

            table = parquet.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as error:
        raise InvalidInputError(
            f"{flag} {path} cannot be read: {first_line(error)[:200]}"
        ) from None
    return {name: table.column(name) for name in table.column_names}


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
