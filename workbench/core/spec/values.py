"""Parameter values: typed conversion, bounds and choices, and `resolve_params` for overrides.

Shared by the checker (defaults and choices in workbench.toml) and by `--param` overrides.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any

from workbench.core.errors import InvalidInputError
from workbench.core.spec.model import ParamSpec, ParamType, ProjectSpec

_TRUE = ("true", "yes", "1")
_FALSE = ("false", "no", "0")
MISSING: Any = object()


def resolve_params(spec: ProjectSpec, overrides: Mapping[str, object]) -> dict[str, Any]:
    """The defaults of `spec.params` overlaid with overrides such as `--param n_rows=5000`.

    Strings are converted to the parameter's type; typed values (from a sweep) are checked.
    Unknown names, bad values and values out of bounds are InvalidInputErrors.
    """
    values = {name: param.default for name, param in spec.params.items()}
    for name, raw in overrides.items():
        param = spec.params.get(name)
        if param is None:
            known = ", ".join(spec.params) or "none: this project declares no [params]"
            raise InvalidInputError(
                f"unknown parameter {name!r}",
                did_you_mean(name, list(spec.params)) + f"known parameters: {known}",
            )
        value = _convert(param.type, raw)
        if value is MISSING:
            raise InvalidInputError(
                f"parameter {name!r} expects {param.type}, got {raw!r}", _VALUE_HINTS[param.type]
            )
        problem = out_of_range(param, value)
        if problem:
            raise InvalidInputError(f"parameter {name!r}: {problem}", range_hint(param))
        values[name] = value
    return values


_VALUE_HINTS: dict[str, str] = {
    "int": "a whole number, e.g. --param n=5000 (5_000 works too)",
    "float": "a number, e.g. --param lr=0.01 or 1e-3",
    "str": "any text",
    "bool": "one of true/false, yes/no, 1/0",
}


def _convert(kind: ParamType, raw: object) -> Any:
    """`raw` as a value of `kind` (strings are parsed), or MISSING when it is not one."""
    if isinstance(raw, str) and kind != "str":
        text = raw.strip()
        try:
            if kind == "int":
                return int(text)
            if kind == "float":
                number = float(text)
                return number if math.isfinite(number) else MISSING
        except ValueError:
            return MISSING
        lowered = text.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else MISSING
    return typed_value(kind, raw)


def typed_value(kind: ParamType, value: object) -> Any:
    """`value` if it is already of `kind` (an int passes for a float, a bool never for a number)."""
    if kind == "bool":
        return value if isinstance(value, bool) else MISSING
    if kind == "str":
        return value if isinstance(value, str) else MISSING
    if isinstance(value, bool) or not isinstance(value, int | float):
        return MISSING
    if kind == "int":
        return value if isinstance(value, int) else MISSING
    return float(value)


def out_of_range(param: ParamSpec, value: Any) -> str:
    """What is wrong with `value` given the param's min, max and choices ('' if nothing)."""
    if param.min is not None and value < param.min:
        return f"{value!r} is below min {param.min!r}"
    if param.max is not None and value > param.max:
        return f"{value!r} is above max {param.max!r}"
    if param.choices and value not in param.choices:
        return f"{value!r} is not one of {', '.join(repr(c) for c in param.choices)}"
    return ""


def range_hint(param: ParamSpec) -> str:
    if param.choices:
        return f"choose one of {', '.join(repr(c) for c in param.choices)}"
    low = "" if param.min is None else f"{param.min!r} <= "
    high = "" if param.max is None else f" <= {param.max!r}"
    return f"allowed: {low}{param.name}{high}"


def did_you_mean(word: str, candidates: Sequence[str]) -> str:
    """'did you mean 'x'? ' when a candidate is close to `word`, else ''."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""
