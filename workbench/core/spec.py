"""The project spec (`workbench.toml`): what a pipeline is made of, validated on load.

This module holds the types. `parse_spec` (below) turns TOML text into a
`ProjectSpec` or raises `SpecError` naming the file, the line and the field.
"""

from __future__ import annotations

import bisect
import difflib
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn, cast

from workbench.core.errors import InvalidInputError, WorkbenchError

ParamType = Literal["int", "float", "str", "bool"]


class SpecError(WorkbenchError):
    """A workbench.toml that cannot be accepted; the message names file, line and field."""

    def __init__(
        self, path: str, line: int | None, field_path: str, problem: str, hint: str = ""
    ) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(
            f"{where}: {field_path}: {problem}", hint or "see sample_projects/*/workbench.toml"
        )
        self.path = path
        self.line = line
        self.field_path = field_path


@dataclass(frozen=True)
class ParamSpec:
    """A pipeline parameter: typed, with a default, optionally bounded or chosen from a list."""

    name: str
    type: ParamType
    default: Any
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] = ()


@dataclass(frozen=True)
class StepSpec:
    """One pipeline step: a `module:function` with declared inputs and outputs (artifact names).

    `params` lists the parameters the step reads (they go into its cache key).
    `runner` is "task" (the function runs once, as a Ray task, and gets a StepContext) or
    "torch" (the function is a Ray Train per-worker loop run by TorchTrainer on
    `resources.workers` workers). A "task" step marked `distributed` may fan out itself
    (e.g. joblib on Ray) over `resources.workers` workers.
    """

    name: str
    function: str
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    runner: Literal["task", "torch"] = "task"
    distributed: bool = False
    cache: bool = True


@dataclass(frozen=True)
class Resources:
    """What a distributed step asks Ray for."""

    workers: int = 1
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0


@dataclass(frozen=True)
class GateRule:
    """`metric op threshold`, e.g. auc >= 0.90."""

    metric: str
    op: Literal[">=", ">", "<=", "<"]
    threshold: float


@dataclass(frozen=True)
class EvaluationSpec:
    """Which metrics the evaluate step reports, the primary one, and the registration gate."""

    metrics: tuple[str, ...] = ()
    primary: str | None = None
    higher_is_better: bool = True
    gate: tuple[GateRule, ...] = ()
    max_regression: float | None = None  # vs the current champion, on the primary metric


@dataclass(frozen=True)
class RegisterSpec:
    """What to register when the gate passes: the model name and which output holds it."""

    model_name: str
    artifact: str
    flavor: str = "sklearn"


@dataclass(frozen=True)
class ServingSpec:
    """Defaults for `workbench serve` (used by the serving issue)."""

    route_prefix: str | None = None
    replicas: int = 1
    max_batch_size: int = 32
    batch_wait_timeout_s: float = 0.005


@dataclass(frozen=True)
class DriftSpec:
    """Defaults for drift checks (used by the monitoring issue)."""

    features: tuple[str, ...] = ()
    psi_threshold: float = 0.2
    window: str = "1h"


@dataclass(frozen=True)
class ProjectSpec:
    """A validated workbench.toml; `path` is the project directory (the folder holding it)."""

    name: str
    path: str
    description: str = ""
    intended_use: str = ""
    params: dict[str, ParamSpec] = field(default_factory=dict)
    steps: tuple[StepSpec, ...] = ()
    resources: Resources = field(default_factory=Resources)
    evaluation: EvaluationSpec = field(default_factory=EvaluationSpec)
    register: RegisterSpec | None = None
    serving: ServingSpec = field(default_factory=ServingSpec)
    drift: DriftSpec = field(default_factory=DriftSpec)

    def step(self, name: str) -> StepSpec:
        """The step called `name` (KeyError if none)."""
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)


# -- parsing ------------------------------------------------------------------------------

SPEC_FILE = "workbench.toml"
_CREATE_HINT = "create workbench.toml; see sample_projects/fraud_detection"

FieldPath = tuple[str | int, ...]

_PROJECT_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ARTIFACT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_FUNCTION = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*", re.ASCII)
_WINDOW = re.compile(r"[1-9][0-9]*[smhd]")
_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")

_SECTIONS = (
    "project", "params", "resources", "steps", "evaluation", "register", "serving", "drift"
)  # fmt: skip
_PROJECT_KEYS = ("name", "description", "intended_use")
_PARAM_KEYS = ("type", "default", "help", "min", "max", "choices")
_PARAM_TYPES: tuple[ParamType, ...] = ("int", "float", "str", "bool")
_RESOURCE_KEYS = ("workers", "cpus_per_worker", "gpus_per_worker")
_STEP_KEYS = (
    "name", "function", "inputs", "outputs", "params", "runner", "distributed", "cache"
)  # fmt: skip
_RUNNERS = ("task", "torch")
_EVALUATION_KEYS = ("metrics", "primary", "higher_is_better", "gate", "max_regression")
_REGISTER_KEYS = ("model_name", "artifact", "flavor")
_FLAVORS = ("sklearn", "pytorch", "pyfunc")
_SERVING_KEYS = ("route_prefix", "replicas", "max_batch_size", "batch_wait_timeout_s")
_DRIFT_KEYS = ("features", "psi_threshold", "window")
_TRUE = ("true", "yes", "1")
_FALSE = ("false", "no", "0")
_MISSING: Any = object()


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
    return _Checker(text, path).project(document)


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
                _did_you_mean(name, list(spec.params)) + f"known parameters: {known}",
            )
        value = _convert(param.type, raw)
        if value is _MISSING:
            raise InvalidInputError(
                f"parameter {name!r} expects {param.type}, got {raw!r}", _VALUE_HINTS[param.type]
            )
        problem = _out_of_range(param, value)
        if problem:
            raise InvalidInputError(f"parameter {name!r}: {problem}", _range_hint(param))
        values[name] = value
    return values


_VALUE_HINTS: dict[str, str] = {
    "int": "a whole number, e.g. --param n=5000 (5_000 works too)",
    "float": "a number, e.g. --param lr=0.01 or 1e-3",
    "str": "any text",
    "bool": "one of true/false, yes/no, 1/0",
}


def _convert(kind: ParamType, raw: object) -> Any:
    """`raw` as a value of `kind` (strings are parsed), or _MISSING when it is not one."""
    if isinstance(raw, str) and kind != "str":
        text = raw.strip()
        try:
            if kind == "int":
                return int(text)
            if kind == "float":
                number = float(text)
                return number if math.isfinite(number) else _MISSING
        except ValueError:
            return _MISSING
        lowered = text.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else _MISSING
    return _typed(kind, raw)


def _typed(kind: ParamType, value: object) -> Any:
    """`value` if it is already of `kind` (an int passes for a float, a bool never for a number)."""
    if kind == "bool":
        return value if isinstance(value, bool) else _MISSING
    if kind == "str":
        return value if isinstance(value, str) else _MISSING
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _MISSING
    if kind == "int":
        return value if isinstance(value, int) else _MISSING
    return float(value)


def _out_of_range(param: ParamSpec, value: Any) -> str:
    """What is wrong with `value` given the param's min, max and choices ('' if nothing)."""
    if param.min is not None and value < param.min:
        return f"{value!r} is below min {param.min!r}"
    if param.max is not None and value > param.max:
        return f"{value!r} is above max {param.max!r}"
    if param.choices and value not in param.choices:
        return f"{value!r} is not one of {', '.join(repr(c) for c in param.choices)}"
    return ""


def _range_hint(param: ParamSpec) -> str:
    if param.choices:
        return f"choose one of {', '.join(repr(c) for c in param.choices)}"
    low = "" if param.min is None else f"{param.min!r} <= "
    high = "" if param.max is None else f" <= {param.max!r}"
    return f"allowed: {low}{param.name}{high}"


def _did_you_mean(word: str, candidates: Sequence[str]) -> str:
    """'did you mean 'x'? ' when a candidate is close to `word`, else ''."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def _describe(value: object) -> str:
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


def format_field_path(path: FieldPath) -> str:
    """`("steps", 1, "function")` as `steps[1].function`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else f'"{part}"'
            text += f".{name}" if text else name
    return text


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


class _Checker:
    """Validates a parsed document; each failure names the line the field is on."""

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
            self.fail(at, f"expected table, got {_describe(value)}")
        for key in value:
            if key not in allowed:
                self.fail(
                    (*at, key),
                    f"unknown {'key' if at else 'section'} {key!r}",
                    _did_you_mean(key, allowed) + f"allowed keys: {', '.join(allowed)}",
                )
        return value

    def get(self, table: dict[str, Any], at: FieldPath, key: str, required: bool) -> Any:
        if key not in table:
            if required:
                self.fail((*at, key), "missing (required)", f"add `{key} = ...`")
            return _MISSING
        return table[key]

    def string(
        self, table: dict[str, Any], at: FieldPath, key: str, *, required: bool = False
    ) -> str | None:
        value = self.get(table, at, key, required)
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self.fail((*at, key), f"expected string, got {_describe(value)}")
        return value

    def strings(self, table: dict[str, Any], at: FieldPath, key: str) -> tuple[str, ...]:
        value = self.get(table, at, key, False)
        if value is _MISSING:
            return ()
        if not isinstance(value, list):
            self.fail((*at, key), f"expected list of strings, got {_describe(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self.fail((*at, key, index), f"expected string, got {_describe(item)}")
        return tuple(value)

    def boolean(self, table: dict[str, Any], at: FieldPath, key: str, default: bool) -> bool:
        value = self.get(table, at, key, False)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.fail((*at, key), f"expected boolean (true or false), got {_describe(value)}")
        return value

    def integer(
        self, table: dict[str, Any], at: FieldPath, key: str, default: int, minimum: int
    ) -> int:
        value = self.get(table, at, key, False)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail((*at, key), f"expected integer, got {_describe(value)}")
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
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail((*at, key), f"expected number, got {_describe(value)}")
        if not math.isfinite(value):
            self.fail((*at, key), f"expected a finite number, got {_describe(value)}")
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
                _did_you_mean(value, allowed) + f"one of: {', '.join(allowed)}",
            )

    # -- sections -------------------------------------------------------------------------

    def project(self, document: dict[str, Any]) -> ProjectSpec:
        self.table(document, (), _SECTIONS)
        if "project" not in document:
            self.fail(("project",), "missing [project] table", 'add [project] with name = "..."')
        project = self.table(document["project"], ("project",), _PROJECT_KEYS)
        name = self.string(project, ("project",), "name", required=True) or ""
        if not _PROJECT_NAME.fullmatch(name):
            self.fail(
                ("project", "name"),
                f"invalid project name {name!r}",
                "use letters, digits, '_', '.' and '-' only",
            )
        params = self.params(document.get("params", {}))
        resources = self.resources(document.get("resources", {}))
        steps = self.steps(document.get("steps", _MISSING), params)
        outputs = [output for step in steps for output in step.outputs]
        return ProjectSpec(
            name=name,
            path=str(Path(self.path).parent),
            description=self.string(project, ("project",), "description") or "",
            intended_use=self.string(project, ("project",), "intended_use") or "",
            params=params,
            steps=steps,
            resources=resources,
            evaluation=self.evaluation(document.get("evaluation", {})),
            register=self.register(document.get("register", _MISSING), outputs),
            serving=self.serving(document.get("serving", {})),
            drift=self.drift(document.get("drift", {})),
        )

    def params(self, value: object) -> dict[str, ParamSpec]:
        if not isinstance(value, dict):
            self.fail(("params",), f"expected table, got {_describe(value)}")
        return {name: self.param(name, raw) for name, raw in value.items()}

    def param(self, name: str, value: object) -> ParamSpec:
        at: FieldPath = ("params", name)
        if not _IDENTIFIER.fullmatch(name):
            self.fail(at, f"invalid parameter name {name!r}", "use letters, digits and '_'")
        if not isinstance(value, dict):
            self.fail(
                at,
                f"expected a table, got {_describe(value)}",
                f'e.g. {name} = {{ type = "int", default = 10 }}',
            )
        table = self.table(value, at, _PARAM_KEYS)
        kind = self.string(table, at, "type", required=True) or ""
        self.one_of(kind, (*at, "type"), _PARAM_TYPES, "type")
        typed = cast(ParamType, kind)
        raw_default = self.get(table, at, "default", True)
        default = _typed(typed, raw_default)
        if default is _MISSING:
            self.fail((*at, "default"), f"expected {kind}, got {_describe(raw_default)}")
        bounds: list[float | None] = []
        for key in ("min", "max"):
            bound = self.get(table, at, key, False)
            if bound is not _MISSING and kind not in ("int", "float"):
                self.fail((*at, key), f"{key} applies only to int and float parameters")
            if bound is not _MISSING and (
                isinstance(bound, bool) or not isinstance(bound, int | float)
            ):
                self.fail((*at, key), f"expected number, got {_describe(bound)}")
            if bound is not _MISSING and not math.isfinite(bound):
                self.fail((*at, key), f"expected a finite number, got {_describe(bound)}")
            bounds.append(None if bound is _MISSING else bound)
        low, high = bounds
        if low is not None and high is not None and low > high:
            self.fail((*at, "max"), f"max {high!r} is below min {low!r}")
        choices = self.choices(table, at, typed, default)
        spec = ParamSpec(
            name=name,
            type=typed,
            default=default,
            help=self.string(table, at, "help") or "",
            min=low,
            max=high,
            choices=choices,
        )
        problem = _out_of_range(spec, default)
        if problem:
            self.fail((*at, "default"), problem, _range_hint(spec))
        return spec

    def choices(
        self, table: dict[str, Any], at: FieldPath, kind: ParamType, default: Any
    ) -> tuple[Any, ...]:
        value = self.get(table, at, "choices", False)
        if value is _MISSING:
            return ()
        if not isinstance(value, list) or not value:
            self.fail((*at, "choices"), f"expected a non-empty list, got {_describe(value)}")
        choices = []
        for index, item in enumerate(value):
            typed = _typed(kind, item)
            if typed is _MISSING:
                self.fail((*at, "choices", index), f"expected {kind}, got {_describe(item)}")
            choices.append(typed)
        return tuple(choices)

    def resources(self, value: object) -> Resources:
        at: FieldPath = ("resources",)
        table = self.table(value, at, _RESOURCE_KEYS)
        return Resources(
            workers=self.integer(table, at, "workers", 1, minimum=1),
            cpus_per_worker=self.number(table, at, "cpus_per_worker", 1.0, positive=True) or 1.0,
            gpus_per_worker=self.number(table, at, "gpus_per_worker", 0.0) or 0.0,
        )

    def steps(self, value: object, params: dict[str, ParamSpec]) -> tuple[StepSpec, ...]:
        hint = 'add a step: [[steps]] with name = "..." and function = "module.path:function"'
        if value is _MISSING or value == []:
            self.fail(("steps",), "a pipeline needs at least one step", hint)
        if not isinstance(value, list):
            self.fail(("steps",), f"expected [[steps]] tables, got {_describe(value)}", hint)
        raw_steps: list[Any] = value
        steps: list[StepSpec] = []
        for index, raw in enumerate(raw_steps):
            steps.append(self.step(index, raw, steps, raw_steps, params))
        return tuple(steps)

    def step(
        self,
        index: int,
        value: object,
        earlier: list[StepSpec],
        raw_steps: list[Any],
        params: dict[str, ParamSpec],
    ) -> StepSpec:
        at: FieldPath = ("steps", index)
        table = self.table(value, at, _STEP_KEYS)
        name = self.string(table, at, "name", required=True) or ""
        if not _IDENTIFIER.fullmatch(name):
            self.fail((*at, "name"), f"invalid step name {name!r}", "use letters, digits and '_'")
        for position, other in enumerate(earlier):
            if other.name == name:
                self.fail((*at, "name"), f"step name {name!r} is already used by steps[{position}]")
        function = self.string(table, at, "function", required=True) or ""
        if not _FUNCTION.fullmatch(function):
            self.fail(
                (*at, "function"),
                f"expected 'module.path:function', got {function!r}",
                'e.g. function = "fraud_detection.steps:prepare"',
            )
        inputs = self.strings(table, at, "inputs")
        outputs = self.strings(table, at, "outputs")
        produced = {output: step for step in earlier for output in step.outputs}
        for position, output in enumerate(outputs):
            where = (*at, "outputs", position)
            if not _ARTIFACT.fullmatch(output):
                self.fail(where, f"invalid artifact name {output!r}", "use letters, digits, _ . -")
            if output in produced:
                self.fail(
                    where,
                    f"output {output!r} is already produced by step {produced[output].name!r}",
                )
            if output in outputs[:position]:
                self.fail(where, f"output {output!r} is listed twice")
        for position, name_in in enumerate(inputs):
            where = (*at, "inputs", position)
            if name_in in inputs[:position]:
                self.fail(where, f"input {name_in!r} is listed twice")
            if name_in not in produced:
                self.missing_input(where, name, name_in, outputs, index, raw_steps, produced)
        step_params = self.strings(table, at, "params")
        for position, param in enumerate(step_params):
            if param not in params:
                known = ", ".join(params) or "none: add a [params] table"
                self.fail(
                    (*at, "params", position),
                    f"unknown parameter {param!r}",
                    _did_you_mean(param, list(params)) + f"declared parameters: {known}",
                )
        runner = self.string(table, at, "runner") or "task"
        self.one_of(runner, (*at, "runner"), _RUNNERS, "runner")
        return StepSpec(
            name=name,
            function=function,
            inputs=inputs,
            outputs=outputs,
            params=step_params,
            runner=cast(Literal["task", "torch"], runner),
            distributed=self.boolean(table, at, "distributed", False),
            cache=self.boolean(table, at, "cache", True),
        )

    def missing_input(
        self,
        at: FieldPath,
        step: str,
        name: str,
        own_outputs: tuple[str, ...],
        index: int,
        raw_steps: list[Any],
        produced: dict[str, StepSpec],
    ) -> NoReturn:
        """Explain an input no earlier step produces: a later step does, this one does, or none."""
        if name in own_outputs:
            self.fail(at, f"input {name!r} is an output of this same step {step!r}")
        for later in range(index + 1, len(raw_steps)):
            raw = raw_steps[later]
            if isinstance(raw, dict) and isinstance(raw.get("outputs"), list):
                if name in raw["outputs"]:
                    producer = raw.get("name", f"steps[{later}]")
                    self.fail(
                        at,
                        f"input {name!r} is produced by a later step, {producer!r} "
                        f"(steps[{later}])",
                        f"move step {producer!r} before {step!r}",
                    )
        earlier = ", ".join(produced) or "none"
        self.fail(
            at,
            f"input {name!r} is not an output of any earlier step",
            _did_you_mean(name, list(produced)) + f"outputs of earlier steps: {earlier}",
        )

    def evaluation(self, value: object) -> EvaluationSpec:
        from workbench.core.gate import parse_rule  # gate imports this module's types

        at: FieldPath = ("evaluation",)
        table = self.table(value, at, _EVALUATION_KEYS)
        metrics = self.strings(table, at, "metrics")
        primary = self.string(table, at, "primary")
        if primary is not None and metrics and primary not in metrics:
            self.fail(
                (*at, "primary"),
                f"primary metric {primary!r} is not in metrics",
                _did_you_mean(primary, metrics) + f"metrics: {', '.join(metrics)}",
            )
        rules: list[GateRule] = []
        for index, text in enumerate(self.strings(table, at, "gate")):
            try:
                rules.append(parse_rule(text))
            except InvalidInputError as error:
                self.fail((*at, "gate", index), error.message, error.hint)
        max_regression = self.number(table, at, "max_regression", None)
        if max_regression is not None and primary is None:
            self.fail(
                (*at, "max_regression"),
                "needs evaluation.primary (the metric compared with the champion)",
                'add primary = "<metric>"',
            )
        return EvaluationSpec(
            metrics=metrics,
            primary=primary,
            higher_is_better=self.boolean(table, at, "higher_is_better", True),
            gate=tuple(rules),
            max_regression=max_regression,
        )

    def register(self, value: object, outputs: list[str]) -> RegisterSpec | None:
        if value is _MISSING:
            return None
        at: FieldPath = ("register",)
        table = self.table(value, at, _REGISTER_KEYS)
        model_name = self.string(table, at, "model_name", required=True) or ""
        if not _PROJECT_NAME.fullmatch(model_name):
            self.fail(
                (*at, "model_name"),
                f"invalid model name {model_name!r}",
                "use letters, digits, '_', '.' and '-' only",
            )
        artifact = self.string(table, at, "artifact", required=True) or ""
        if artifact not in outputs:
            self.fail(
                (*at, "artifact"),
                f"artifact {artifact!r} is not an output of any step",
                _did_you_mean(artifact, outputs) + f"step outputs: {', '.join(outputs) or 'none'}",
            )
        flavor = self.string(table, at, "flavor") or "sklearn"
        self.one_of(flavor, (*at, "flavor"), _FLAVORS, "flavor")
        return RegisterSpec(model_name=model_name, artifact=artifact, flavor=flavor)

    def serving(self, value: object) -> ServingSpec:
        at: FieldPath = ("serving",)
        table = self.table(value, at, _SERVING_KEYS)
        prefix = self.string(table, at, "route_prefix")
        if prefix is not None and not prefix.startswith("/"):
            self.fail((*at, "route_prefix"), f"must start with '/', got {prefix!r}")
        timeout = self.number(table, at, "batch_wait_timeout_s", 0.005)
        return ServingSpec(
            route_prefix=prefix,
            replicas=self.integer(table, at, "replicas", 1, minimum=1),
            max_batch_size=self.integer(table, at, "max_batch_size", 32, minimum=1),
            batch_wait_timeout_s=0.005 if timeout is None else timeout,
        )

    def drift(self, value: object) -> DriftSpec:
        at: FieldPath = ("drift",)
        table = self.table(value, at, _DRIFT_KEYS)
        window = self.string(table, at, "window") or "1h"
        if not _WINDOW.fullmatch(window):
            self.fail(
                (*at, "window"),
                f"expected a duration such as '1h', got {window!r}",
                "a whole number and a unit: s, m, h or d (e.g. 30m, 1h, 7d)",
            )
        return DriftSpec(
            features=self.strings(table, at, "features"),
            psi_threshold=self.number(table, at, "psi_threshold", 0.2, positive=True) or 0.2,
            window=window,
        )


# -- line numbers -------------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR = re.compile(r"[^\s,\]}#]+(?: \d[^\s,\]}#]*)?")  # numbers, booleans, dates


class _ScanStop(Exception):
    """The text is not what the scanner expected; it keeps what it found so far."""


def locate_fields(text: str) -> dict[FieldPath, int]:
    """Map each field path in (valid) TOML text to the line it is written on.

    tomllib gives no positions, so this scans headers (`[t]`, `[[t]]` with their index),
    `key = value` lines, inline tables and arrays; it is best-effort and never raises.
    """
    scanner = _FieldScanner(text)
    try:
        scanner.run()
    except (_ScanStop, IndexError, ValueError, tomllib.TOMLDecodeError, KeyError):
        pass
    return scanner.lines


class _FieldScanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.lines: dict[FieldPath, int] = {}

    def record(self, path: FieldPath, pos: int) -> None:
        line = bisect.bisect_right(self.starts, pos)
        self.lines[path] = line
        for end in range(1, len(path)):
            self.lines.setdefault(path[:end], line)

    def char(self) -> str:
        if self.pos >= len(self.text):
            raise _ScanStop
        return self.text[self.pos]

    def skip(self, newlines: bool) -> None:
        """Skip blanks and comments (and newlines, when allowed there)."""
        text = self.text
        while self.pos < len(text):
            c = text[self.pos]
            if c in " \t\r" or (newlines and c == "\n"):
                self.pos += 1
            elif c == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            else:
                return

    def run(self) -> None:
        table: FieldPath = ()
        counts: dict[FieldPath, int] = {}  # array-of-tables path -> index of its last entry
        while True:
            self.skip(newlines=True)
            if self.pos >= len(self.text):
                return
            start = self.pos
            if self.char() == "[":
                array = self.text.startswith("[[", self.pos)
                self.pos += 2 if array else 1
                names = self.key()
                self.pos += 2 if array else 1
                resolved: list[str | int] = []
                for position, name in enumerate(names):
                    resolved.append(name)
                    if position < len(names) - 1 and tuple(resolved) in counts:
                        resolved.append(counts[tuple(resolved)])
                table = tuple(resolved)
                if array:
                    counts[table] = counts.get(table, -1) + 1
                    table = (*table, counts[table])
                self.record(table, start)
            else:
                self.keyval(table)

    def keyval(self, base: FieldPath) -> None:
        start = self.pos
        path = (*base, *self.key())
        self.record(path, start)
        if self.char() != "=":
            raise _ScanStop
        self.pos += 1
        self.value(path)

    def key(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self.skip(newlines=False)
            if self.char() in "\"'":
                parts.append(tomllib.loads("k = " + self.string())["k"])
            else:
                match = _BARE_KEY.match(self.text, self.pos)
                if match is None:
                    raise _ScanStop
                parts.append(match.group())
                self.pos = match.end()
            self.skip(newlines=False)
            if self.pos < len(self.text) and self.text[self.pos] == ".":
                self.pos += 1
            else:
                return tuple(parts)

    def value(self, path: FieldPath) -> None:
        self.skip(newlines=False)
        c = self.char()
        if c == "[":
            self.pos += 1
            index = 0
            while True:
                self.skip(newlines=True)
                if self.char() == "]":
                    self.pos += 1
                    return
                element = (*path, index)
                self.record(element, self.pos)
                self.value(element)
                self.skip(newlines=True)
                if self.char() == ",":
                    self.pos += 1
                    index += 1
        elif c == "{":
            self.pos += 1
            while True:
                self.skip(newlines=False)
                if self.char() == "}":
                    self.pos += 1
                    return
                self.keyval(path)
                self.skip(newlines=False)
                if self.char() == ",":
                    self.pos += 1
        elif c in "\"'":
            self.string()
        else:
            match = _SCALAR.match(self.text, self.pos)
            if match is None:
                raise _ScanStop
            self.pos = match.end()

    def string(self) -> str:
        """Skip a string of any of TOML's four kinds; return its source text."""
        text, start = self.text, self.pos
        quote = text[start]
        delimiter = quote * 3 if text.startswith(quote * 3, start) else quote
        i = start + len(delimiter)
        while i < len(text):
            if quote == '"' and text[i] == "\\":
                i += 2
            elif text.startswith(delimiter, i):
                i += len(delimiter)
                extra = 0
                while len(delimiter) == 3 and extra < 2 and i < len(text) and text[i] == quote:
                    i += 1
                    extra += 1
                self.pos = i
                return text[start:i]
            else:
                i += 1
        raise _ScanStop
