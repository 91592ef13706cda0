"""Catalogue maintenance: read-only SQL, Parquet export and import."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from workbench.catalogue.transfer import export_catalogue, import_catalogue
from workbench.core.settings import Settings
from workbench.owner import open_catalogue

if TYPE_CHECKING:
    import pyarrow as pa


def run_sql(settings: Settings, query: str) -> pa.Table:
    """Run one read-only statement; writes are refused before they reach DuckDB."""
    with open_catalogue(settings) as catalogue:
        return catalogue.sql(query)


def export_to(settings: Settings, directory: Path, *, telemetry: bool = False) -> dict[str, int]:
    """Export every table as Parquet into `directory` (telemetry samples when asked); rows
    per table."""
    with open_catalogue(settings) as catalogue:
        return export_catalogue(catalogue, directory, telemetry=telemetry)


def import_from(settings: Settings, directory: Path) -> dict[str, int]:
    """Import an export into this catalogue, all or nothing; rows per table."""
    with open_catalogue(settings) as catalogue:
        return import_catalogue(catalogue, directory)
