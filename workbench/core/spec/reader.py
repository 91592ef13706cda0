"""Typed reads of a parsed workbench.toml: each wrong value fails with file, line and field.

`Reader` is the base of the spec checker; it owns the reporting and the per-type checks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NoReturn

from workbench.core.spec.locator import FieldPath, format_field_path, locate_fields
from workbench.core.spec.model import SpecError
from workbench.core.spec.values import MISSING, did_you_mean


def describe(value: object) -> str:
    """A TOML value as a user wrote it: `string 'fast'`, `integer 3`, `array [1, 2]`."""
    kinds = {bool: "boolean", int: "integer", float: "float", str: "string"}
    kind = kinds.get(type(value)) or (
        "array" if isinstance(value, list) else "table" if isinstance(value, dict) else "datetime"
    )
    if isinstance(value, bool):
        shown = "true" if value else "false"
    else:
        shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{kind} {shown}"


class Reader:
    """Typed reads of a parsed document; each failure names the line the field is on."""

    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self.text = text
        self._lines: dict[FieldPath, int] | None = None

    # -- reporting ------------------------------------------------------------------------

    def line(self, at: FieldPath) -> int | None:
        """The line of `at`, or of its nearest enclosing field that has one."""
        if self._lines is None:
            self._lines = locate_fields(self.text)
        for end in range(len(at), 0, -1):
            if at[:end] in self._lines:
                return self._lines[at[:end]]
        return None

    def fail(self, at: FieldPath, problem: str, hint: str = "") -> NoReturn:
        raise SpecError(self.path, self.line(at), format_field_path(at) or "(top)", problem, hint)

    # -- typed reads ----------------------------------------------------------------------

    def table(self, value: object, at: FieldPath, allowed: Sequence[str]) -> dict[str, Any]:
        """`value` as a table whose keys are all in `allowed` (typos get a did-you-mean)."""
        if not isinstance(value, dict):
            self.fail(at, f"expected table, got {describe(value)}")
        for key in value:
            if key not in allowed:
                self.fail(
                    (*at, key),
                    f"unknown {'key' if at else 'section'} {key!r}",
                    did_you_mean(key, allowed) + f"allowed keys: {', '.join(allowed)}",
                )
        return value

    def get(self, table: dict[str, Any], at: FieldPath, key: str, required: bool) -> Any:
        if key not in table:
            if required:
                self.fail((*at, key), "missing (required)", f"add `{key} = ...`")
            return MISSING
        return table[key]

    def string(
        self, table: dict[str, Any], at: FieldPath, key: str, *, required: bool = False
    ) -> str | None:
        value = self.get(table, at, key, required)
        if value is MISSING:
            return None
        if not isinstance(value, str):
            self.fail((*at, key), f"expected string, got {describe(value)}")
        return value

    def strings(self, table: dict[str, Any], at: FieldPath, key: str) -> tuple[str, ...]:
        value = self.get(table, at, key, False)
        if value is MISSING:
            return ()
        if not isinstance(value, list):
            self.fail((*at, key), f"expected list of strings, got {describe(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self.fail((*at, key, index), f"expected string, got {describe(item)}")
        return tuple(value)

    def boolean(self, table: dict[str, Any], at: FieldPath, key: str, default: bool) -> bool:
        value = self.get(table, at, key, False)
        if value is MISSING:
            return default
        if not isinstance(value, bool):
            self.fail((*at, key), f"expected boolean (true or false), got {describe(value)}")
        return value

    def integer(
        self, table: dict[str, Any], at: FieldPath, key: str, default: int, minimum: int
    ) -> int:
        value = self.get(table, at, key, False)
        if value is MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail((*at, key), f"expected integer, got {describe(value)}")
        if value < minimum:
            self.fail((*at, key), f"must be >= {minimum}, got {value}")
        return value

    def number(
        self,
        table: dict[str, Any],
        at: FieldPath,
        key: str,
        default: float | None,
        *,
        positive: bool = False,
    ) -> float | None:
        """A number >= 0 (> 0 when `positive`); an integer is accepted and converted."""
        value = self.get(table, at, key, False)
        if value is MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail((*at, key), f"expected number, got {describe(value)}")
        if not math.isfinite(value):
            self.fail((*at, key), f"expected a finite number, got {describe(value)}")
        if positive and value <= 0:
            self.fail((*at, key), f"must be > 0, got {value}")
        if value < 0:
            self.fail((*at, key), f"must be >= 0, got {value}")
        return float(value)

    def one_of(self, value: str, at: FieldPath, allowed: Sequence[str], what: str) -> None:
        if value not in allowed:
            self.fail(
                at,
                f"unknown {what} {value!r}",
                did_you_mean(value, allowed) + f"one of: {', '.join(allowed)}",
            )
