"""Export every table to Parquet and import it back: the catalogue's portable backup.

Telemetry samples travel only when asked (`telemetry=True`); an import loads what it finds.

Works through `Catalogue.backend`, so it behaves the same against a local file or
a cluster-side owner. An import is one transaction: on any conflict nothing lands.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from workbench.catalogue.backend import Statement
from workbench.catalogue.catalogue import Catalogue
from workbench.catalogue.schema import OPTIONAL_TABLES, TABLES, TELEMETRY_TABLES, known_migrations
from workbench.core.errors import CatalogueError, InvalidInputError
from workbench.core.version import __version__

MANIFEST = "manifest.json"


def export_catalogue(
    catalogue: Catalogue, directory: Path, *, telemetry: bool = False
) -> dict[str, int]:
    """Write one Parquet file per table (the telemetry samples too when `telemetry`) plus a
    manifest; returns rows per table."""
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise InvalidInputError(f"{directory} is not empty", "export into a new or empty directory")
    directory.mkdir(parents=True, exist_ok=True)
    catalogue.flush()
    counts: dict[str, int] = {}
    for table in TABLES + (TELEMETRY_TABLES if telemetry else ()):
        data = catalogue.backend.query(f"SELECT * FROM {table}")  # noqa: S608 - names are ours
        pq.write_table(data, directory / f"{table}.parquet")
        counts[table] = data.num_rows
    migrations = catalogue.backend.query("SELECT name FROM migrations ORDER BY name")
    manifest = {
        "workbench": __version__,
        "migrations": migrations.column("name").to_pylist(),
        "tables": counts,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return counts


def import_catalogue(catalogue: Catalogue, directory: Path) -> dict[str, int]:
    """Load an export into this catalogue in one transaction; returns rows per table."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise InvalidInputError(
            f"{directory} is not a catalogue export (no {MANIFEST})",
            "create one with `workbench catalogue export DIR`",
        )
    try:
        manifest = json.loads(manifest_path.read_text())
        exported = list(manifest["migrations"])
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidInputError(f"{manifest_path} is damaged: {error}") from None
    unknown = sorted(set(exported) - set(known_migrations()))
    if unknown:
        raise CatalogueError(
            f"the export has schema migration {unknown[0]!r} unknown to Workbench {__version__}",
            "upgrade Workbench to import it",
        )
    statements: list[Statement] = []
    counts: dict[str, int] = {}
    for table in TABLES + TELEMETRY_TABLES:
        path = directory / f"{table}.parquet"
        if table == "migrations" or (table in OPTIONAL_TABLES and not path.is_file()):
            continue
        if not path.is_file():
            raise InvalidInputError(f"{path} is missing from the export")
        try:
            data = pq.read_table(path)
        except Exception as error:  # pyarrow raises several types for damaged files
            raise InvalidInputError(f"{path} cannot be read: {error}") from None
        counts[table] = data.num_rows
        if data.num_rows:
            statements.append(
                Statement(f"INSERT INTO {table} BY NAME SELECT * FROM batch", data=data)
            )
    catalogue.flush()
    catalogue.backend.write(statements)
    return counts
