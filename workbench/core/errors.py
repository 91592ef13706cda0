"""The one family of errors a user can cause; front ends print them without a traceback."""

from __future__ import annotations


class WorkbenchError(Exception):
    """An error with a one-line message, a hint on what to do, and an exit code.

    Exit code 2 means bad usage or input; 1 means an operation was tried and failed.
    """

    exit_code: int = 2

    def __init__(self, message: str, hint: str = "", *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __reduce__(self) -> tuple[object, ...]:
        # Keep the hint and exit code when the error crosses a process boundary (Ray actors).
        return (_rebuild, (type(self), self.message, self.hint, self.exit_code))


def _rebuild(cls: type[WorkbenchError], message: str, hint: str, code: int) -> WorkbenchError:
    error = cls.__new__(cls)
    WorkbenchError.__init__(error, message, hint, exit_code=code)
    return error


class NotFoundError(WorkbenchError):
    """Something the user named (a run, a model, a key) does not exist."""


class InvalidInputError(WorkbenchError):
    """A filter, a sort key, a value or a statement that cannot be accepted."""


class CatalogueError(WorkbenchError):
    """The catalogue file cannot be opened, read or written."""


class CatalogueWriteError(CatalogueError):
    """A write to the catalogue failed; nothing of that batch was committed."""

    exit_code = 1


def first_line(error: BaseException) -> str:
    """The first line of an exception's text (engines often add pages of context), or its type."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
