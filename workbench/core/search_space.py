"""Sweep search spaces from the command line: `lr=loguniform(1e-4,1e-1)`, `depth=choice(4,8)`."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from workbench.core.errors import InvalidInputError
from workbench.core.spec import ProjectSpec, resolve_params

Kind = Literal["uniform", "loguniform", "randint", "choice"]
_CALL = re.compile(r"^\s*(uniform|loguniform|randint|choice)\s*\((.*)\)\s*$")
_HINT = (
    "e.g. --param 'lr=loguniform(1e-4,1e-1)' --param 'depth=choice(4,8,12)' "
    "--param 'n=randint(1,9)'"
)


@dataclass(frozen=True)
class Distribution:
    """Where a swept parameter's values come from."""

    kind: Kind
    args: tuple[Any, ...]

    def describe(self) -> str:
        return f"{self.kind}({', '.join(str(a) for a in self.args)})"


def parse_space(
    spec: ProjectSpec, items: dict[str, str]
) -> tuple[dict[str, Distribution], dict[str, Any]]:
    """Split `K=V` items into swept distributions and fixed overrides, validated by the spec."""
    space: dict[str, Distribution] = {}
    fixed: dict[str, str] = {}
    for name, text in items.items():
        match = _CALL.match(text)
        if match is None:
            fixed[name] = text
            continue
        if name not in spec.params:
            resolve_params(spec, {name: "0"})  # raises the usual unknown-parameter error
        space[name] = _distribution(spec, name, match.group(1), match.group(2))  # type: ignore[arg-type]
    if not space:
        raise InvalidInputError("nothing to sweep: no --param with a distribution", _HINT)
    return space, resolve_params(spec, fixed)


def _distribution(spec: ProjectSpec, name: str, kind: Kind, raw: str) -> Distribution:
    param = spec.params[name]
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if kind == "choice":
        if not parts:
            raise InvalidInputError(f"{name}: choice() needs at least one value", _HINT)
        values = tuple(resolve_params(spec, {name: p})[name] for p in parts)
        return Distribution(kind, values)
    if len(parts) != 2:
        raise InvalidInputError(f"{name}: {kind}() takes two bounds, got {len(parts)}", _HINT)
    if param.type not in ("int", "float") or (kind == "randint" and param.type != "int"):
        raise InvalidInputError(f"{name} is a {param.type} parameter; {kind}() does not fit", _HINT)
    try:
        low, high = (int(p) if kind == "randint" else float(p) for p in parts)
    except ValueError:
        raise InvalidInputError(f"{name}: bounds of {kind}() must be numbers", _HINT) from None
    if not low < high or (kind == "loguniform" and low <= 0) or not math.isfinite(high):
        raise InvalidInputError(
            f"{name}: {kind}({low}, {high}) is an empty or invalid range", _HINT
        )
    for bound in (low, high):
        resolve_params(spec, {name: str(bound)})  # inside the param's own min/max
    return Distribution(kind, (low, high))
