"""The Runs screen's first page, read ahead so that `r` paints it on mount.

Once the first screen has shown its data, the app reads the page the Runs screen paints
first (the newest runs, with the remembered columns) in a worker: one short catalogue
visit, like any screen's read, so the file is not held. The Runs screen takes the page when
it mounts and then reads the catalogue as usual. The page keeps the catalogue's version
(`services.changes`) from before its read: it counts as current only while that has not
moved; otherwise the screen shows it marked stale, with its time, until its own read lands.
Read once and never kept up to date, so no other screen pays for it after that visit.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from workbench.core.errors import WorkbenchError
from workbench.services.changes import catalogue_version
from workbench.tui.context import Workspace

if TYPE_CHECKING:
    from workbench.services.run_table import FirstPage

COLUMNS_PREF = "runs.columns"
"""The remembered choice of params/metrics columns."""
DEFAULT_KEYS = 3
"""With nothing remembered: this many of the commonest metrics, then as many params."""
log = logging.getLogger(__name__)


def remembered_columns(workspace: Workspace) -> tuple[str, ...] | None:
    """The Runs columns the user chose last time, or None (then the commonest keys)."""
    remembered = workspace.prefs().get(COLUMNS_PREF)
    if isinstance(remembered, list) and all(isinstance(c, str) for c in remembered):
        return tuple(remembered)
    return None


@dataclass(frozen=True)
class PrefetchedPage:
    """The newest runs read at `read_at`, when the catalogue's version was `version`."""

    page: FirstPage
    version: tuple[int, ...]
    read_at: datetime

    def is_current(self, workspace: Workspace) -> bool:
        """Whether nothing has been written to the catalogue since the read began (a stat)."""
        return catalogue_version(workspace.settings) == self.version


class RunsPrefetch:
    """One read-ahead of the Runs screen's first page: claimed once, taken once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._claimed = False
        self._taken = False
        self._page: PrefetchedPage | None = None

    @property
    def ready(self) -> bool:
        """Whether a page has been read and not yet taken."""
        with self._lock:
            return self._page is not None

    def claim(self) -> bool:
        """True the first time only, and only while the Runs screen has not opened."""
        with self._lock:
            claimed, self._claimed = self._claimed or self._taken, True
        return not claimed

    def read(self, workspace: Workspace) -> None:
        """Read the page (in a worker thread); kept unless the Runs screen opened meanwhile."""
        # Deferred: the Arrow and DuckDB readers load here, in the worker, not at start-up.
        from workbench.services.run_table import read_first_page

        version, read_at = catalogue_version(workspace.settings), workspace.now()
        try:
            page = read_first_page(
                workspace.settings, now=read_at, columns=remembered_columns(workspace),
                default_keys=DEFAULT_KEYS,
            )  # fmt: skip
        except WorkbenchError as error:  # the Runs screen reads again and says what is wrong
            log.info("runs prefetch skipped: %s", error.message)
            return
        with self._lock:
            if not self._taken:
                self._page = PrefetchedPage(page, version, read_at)

    def take(self) -> PrefetchedPage | None:
        """The page, if read by now; from then on no read-ahead starts or is kept."""
        with self._lock:
            self._taken = True
            page, self._page = self._page, None
        return page
