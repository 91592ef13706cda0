"""Opening the catalogue file in this process, waiting out brief holders.

Processes without a cluster open the file for the length of one command, and the TUI for
the length of one read; a second opener that arrives meanwhile waits a little instead of
failing. A long-lived holder (an owner) is found through its owner file, not by waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from workbench.catalogue.duckdb_backend import CatalogueLockedError, DuckDBBackend

T = TypeVar("T")
POLL_S = 0.05


def open_file(path: Path, wait_s: float) -> DuckDBBackend:
    """The file opened read-write, retrying for up to `wait_s` while another process holds it."""
    return open_or_else(path, wait_s, lambda: None)


def open_or_else(path: Path, wait_s: float, elsewhere: Callable[[], T | None]) -> DuckDBBackend | T:
    """Open `path`; while it is locked, ask `elsewhere` (the owner) and keep trying until
    `wait_s` has passed, then raise the lock error."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return DuckDBBackend(path)
        except CatalogueLockedError:
            found = elsewhere()
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise
            time.sleep(POLL_S)  # a poll for a lock held by another process: no event to wait on
