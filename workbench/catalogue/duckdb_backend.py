"""The catalogue file owned by this process: DuckDB, one connection, one writer."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from workbench.catalogue.backend import Backend, Statement
from workbench.catalogue.schema import MIGRATIONS, MIGRATIONS_TABLE, known_migrations
from workbench.core.errors import (
    CatalogueError,
    CatalogueWriteError,
    InvalidInputError,
    first_line,
)
from workbench.core.version import __version__

if TYPE_CHECKING:
    import pyarrow as pa

_LOCK_PID = re.compile(r"\(PID (\d+)\)")
_READ_ONLY_HINT = "catalogue sql runs one SELECT; writes go through workbench commands"


class CatalogueLockedError(CatalogueError):
    """Another process holds the file; `pid` says which, when DuckDB tells."""

    def __init__(self, path: Path, pid: int | None) -> None:
        who = f"process {pid}" if pid else "another process"
        super().__init__(
            f"catalogue {path} is in use by {who}",
            "DuckDB allows one owner per file: stop that process, or connect to the cluster "
            "whose owner holds it",
        )
        self.pid = pid


class DuckDBBackend(Backend):
    """Opens (creating if needed) and migrates the catalogue file, then owns it until closed."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con: duckdb.DuckDBPyConnection | None = _connect(self.path)
        try:
            migrate(self._con, self.path)
        except BaseException:
            self._con.close()
            raise

    @property
    def location(self) -> str:
        return str(self.path)

    def write(self, statements: Sequence[Statement], *, wait: bool = True) -> None:
        with self._lock:
            con = self._connection()
            try:
                con.execute("BEGIN TRANSACTION")
                for statement in statements:
                    if statement.data is None:
                        con.execute(statement.sql, list(statement.params))
                        continue
                    con.register("batch", statement.data)
                    con.execute(statement.sql, list(statement.params))
                    con.unregister("batch")
                con.execute("COMMIT")
            except duckdb.Error as error:
                _rollback(con)
                _unregister(con)
                if isinstance(error, duckdb.FatalException):
                    self._invalidate()  # reopened (and the WAL replayed) on the next call
                raise _write_error(self.path, error) from None

    def query(self, sql: str, params: Sequence[object] = ()) -> pa.Table:
        ensure_read_only(sql)
        with self._lock:
            try:
                relation = self._connection().sql(sql, params=list(params))
                return relation.to_arrow_table()
            except duckdb.FatalException as error:
                self._invalidate()
                raise CatalogueError(f"catalogue {self.path} failed: {first_line(error)}") from None
            except duckdb.Error as error:
                raise InvalidInputError(
                    first_line(error), "check the SQL against `DESCRIBE runs`"
                ) from None

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = _connect(self.path)
        return self._con

    def _invalidate(self) -> None:
        """After a fatal error DuckDB refuses all work on this instance; drop it."""
        if self._con is not None:
            try:
                self._con.close()
            except duckdb.Error:
                pass  # closing an invalidated database may itself complain
            self._con = None


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path))
    except duckdb.IOException as error:
        text = str(error)
        if "Could not set lock" in text:
            match = _LOCK_PID.search(text)
            raise CatalogueLockedError(path, int(match.group(1)) if match else None) from None
        if "not a valid DuckDB database" in text:
            raise CatalogueError(
                f"catalogue {path} is not a valid DuckDB database (corrupt or another file)",
                "move it aside and restore from `workbench catalogue import DIR`",
            ) from None
        raise CatalogueError(f"cannot open catalogue {path}: {first_line(error)}") from None
    except duckdb.Error as error:
        raise CatalogueError(
            f"cannot open catalogue {path}: {first_line(error)}",
            "the file may come from a newer DuckDB or be damaged",
        ) from None


def migrate(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Apply missing migrations in order; refuse a catalogue from a newer Workbench."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'migrations'"
    ).fetchone()
    applied: list[str] = []
    if exists and exists[0]:
        applied = [row[0] for row in con.execute("SELECT name FROM migrations").fetchall()]
    unknown = sorted(set(applied) - set(known_migrations()))
    if unknown:
        raise CatalogueError(
            f"catalogue {path} has schema migration {unknown[0]!r} that Workbench {__version__} "
            "does not know: it was written by a newer version",
            "upgrade Workbench (pip install -U workbench) to read it",
        )
    for migration in MIGRATIONS:
        if migration.name in applied:
            continue
        try:
            con.execute("BEGIN TRANSACTION")
            con.execute(MIGRATIONS_TABLE)
            for sql in migration.statements:
                con.execute(sql)
            con.execute(
                "INSERT INTO migrations VALUES (?, ?)",
                [migration.name, datetime.now(UTC).replace(tzinfo=None)],
            )
            con.execute("COMMIT")
        except duckdb.Error as error:
            _rollback(con)
            raise _write_error(path, error) from None


def ensure_read_only(sql: str) -> None:
    """Accept exactly one SELECT (DESCRIBE, SHOW, SUMMARIZE and WITH parse as SELECT)."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as error:
        raise InvalidInputError(f"malformed SQL: {first_line(error)}", _READ_ONLY_HINT) from None
    if len(statements) != 1:
        raise InvalidInputError(f"expected one statement, got {len(statements)}", _READ_ONLY_HINT)
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        name = str(kind).rsplit(".", 1)[-1]
        raise InvalidInputError(f"the catalogue is read-only here: {name} refused", _READ_ONLY_HINT)


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass  # no transaction open, or the database was invalidated; nothing more to undo


def _unregister(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.unregister("batch")
    except duckdb.Error:
        pass  # nothing registered, or the database was invalidated


def _write_error(path: Path, error: duckdb.Error) -> CatalogueWriteError:
    text = first_line(error)
    hint = "data committed before this write is intact"
    if any(s in text for s in ("No space left", "File too large", "disk", "Disk")):
        hint = "the disk is full or a file size limit was hit: free space and retry; " + hint
    return CatalogueWriteError(f"could not write to catalogue {path}: {text}", hint)
