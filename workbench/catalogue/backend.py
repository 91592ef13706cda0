"""The contract between the catalogue API and whoever owns the DuckDB file.

Two primitives, like MLflow's `log_batch`: `write` applies a batch of statements
in one transaction, `query` runs one read-only statement and returns Arrow.
Everything else in `Catalogue` is built on them, so the same API works against
the file in this process and against a cluster-side owner actor.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class Statement:
    """One SQL statement with bound values; `data`, when given, is visible as table `batch`."""

    sql: str
    params: Sequence[object] = field(default_factory=tuple)
    data: pa.Table | None = None


class Backend(ABC):
    """Owner of the catalogue file, local or remote."""

    @abstractmethod
    def write(self, statements: Sequence[Statement], *, wait: bool = True) -> None:
        """Apply `statements` in one transaction: all commit or none do.

        With `wait=False` the call may return before the commit (a remote owner);
        errors then surface at the next `sync`.
        """

    @abstractmethod
    def query(self, sql: str, params: Sequence[object] = ()) -> pa.Table:
        """Run one read-only statement; a write is refused with InvalidInputError."""

    def sync(self) -> None:  # noqa: B027 - local backends have nothing in flight
        """Wait for writes sent with `wait=False` and raise the first error among them."""

    @abstractmethod
    def close(self) -> None:
        """Release the file (local) or the connection to the owner (remote)."""

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the catalogue lives, for messages: a path, or path@owner."""
