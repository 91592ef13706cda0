"""The compute adapter's one error, below every compute module so that any of them may raise it."""

from __future__ import annotations

from workbench.core.errors import WorkbenchError


class ClusterError(WorkbenchError):
    """A cluster that is down, unreachable or too small."""
