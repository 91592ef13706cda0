"""Loading a workbench.toml: read the file, parse the TOML, check it into a ProjectSpec.

TOML syntax errors become SpecErrors with the line and column tomllib reports.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from workbench.core.spec.checking import Checker
from workbench.core.spec.model import ProjectSpec, SpecError

SPEC_FILE = "workbench.toml"
_CREATE_HINT = "create workbench.toml; see sample_projects/fraud_detection"
_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def load_spec(project_dir: str | Path) -> ProjectSpec:
    """Read and validate `<project_dir>/workbench.toml` (a path to the file itself also works)."""
    where = Path(project_dir)
    file = where if where.is_file() else where / SPEC_FILE
    if not where.exists():
        raise SpecError(str(where), None, "project", "no such directory", _CREATE_HINT)
    if not file.is_file():
        raise SpecError(
            str(file), None, "project", f"no {SPEC_FILE} in {str(where)!r}", _CREATE_HINT
        )
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise SpecError(str(file), None, "file", f"not UTF-8 text ({error.reason})") from None
    except OSError as error:
        raise SpecError(str(file), None, "file", f"cannot be read: {error.strerror}") from None
    return parse_spec(text, str(file))


def parse_spec(text: str, path: str) -> ProjectSpec:
    """Parse and validate the text of a workbench.toml found at `path` (used in messages).

    Raises SpecError on the first problem, naming the file, the line and the field.
    The spec's `path` is the project directory (the folder holding the file).
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _syntax_error(text, path, str(error)) from None
    return Checker(text, path).project(document)


def _syntax_error(text: str, path: str, message: str) -> SpecError:
    """A TOMLDecodeError as a SpecError; Python 3.11's error carries the line only in its text."""
    found = _TOML_AT.search(message)
    if found is None:
        return SpecError(path, None, "syntax", message, "fix the TOML syntax")
    line, column = int(found[1]), int(found[2])
    lines = text.splitlines()
    shown = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    problem = message[: found.start()]
    hint = f"line {line} reads {shown!r}"
    if problem == "Invalid value":
        hint += "; strings need quotes"
    return SpecError(
        path, line, "syntax", f"{problem[:1].lower()}{problem[1:]} (column {column})", hint
    )
