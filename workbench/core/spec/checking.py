"""Checking a parsed workbench.toml section by section into a ProjectSpec.

Cross-field rules (step inputs produced earlier, register artifact an output, ...) live here.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Literal, NoReturn, cast

from workbench.core.drift.config import (
    CATEGORICAL_METHODS,
    DEFAULT_THRESHOLDS,
    NUMERIC_METHODS,
    check_threshold,
)
from workbench.core.errors import InvalidInputError
from workbench.core.spec.locator import FieldPath
from workbench.core.spec.model import (
    DriftSpec,
    EvaluationSpec,
    GateRule,
    ParamSpec,
    ParamType,
    ProjectSpec,
    RegisterSpec,
    Resources,
    ServingSpec,
    StepSpec,
)
from workbench.core.spec.reader import Reader, describe
from workbench.core.spec.rules import parse_rule
from workbench.core.spec.values import (
    MISSING,
    did_you_mean,
    out_of_range,
    range_hint,
    typed_value,
)

_PROJECT_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ARTIFACT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_FUNCTION = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*", re.ASCII)
_WINDOW = re.compile(r"[1-9][0-9]*[smhd]")

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
_DRIFT_KEYS = (
    "features", "psi_threshold", "window", "numeric_method", "categorical_method", "thresholds",
    "drift_share", "min_rows", "interval", "retrain",
)  # fmt: skip


class Checker(Reader):
    """Validates a parsed document section by section; see Reader for the typed reads."""

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
        steps = self.steps(document.get("steps", MISSING), params)
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
            register=self.register(document.get("register", MISSING), outputs),
            serving=self.serving(document.get("serving", {})),
            drift=self.drift(document.get("drift", {})),
        )

    def params(self, value: object) -> dict[str, ParamSpec]:
        if not isinstance(value, dict):
            self.fail(("params",), f"expected table, got {describe(value)}")
        return {name: self.param(name, raw) for name, raw in value.items()}

    def param(self, name: str, value: object) -> ParamSpec:
        at: FieldPath = ("params", name)
        if not _IDENTIFIER.fullmatch(name):
            self.fail(at, f"invalid parameter name {name!r}", "use letters, digits and '_'")
        if not isinstance(value, dict):
            self.fail(
                at,
                f"expected a table, got {describe(value)}",
                f'e.g. {name} = {{ type = "int", default = 10 }}',
            )
        table = self.table(value, at, _PARAM_KEYS)
        kind = self.string(table, at, "type", required=True) or ""
        self.one_of(kind, (*at, "type"), _PARAM_TYPES, "type")
        typed = cast(ParamType, kind)
        raw_default = self.get(table, at, "default", True)
        default = typed_value(typed, raw_default)
        if default is MISSING:
            self.fail((*at, "default"), f"expected {kind}, got {describe(raw_default)}")
        bounds: list[float | None] = []
        for key in ("min", "max"):
            bound = self.get(table, at, key, False)
            if bound is not MISSING and kind not in ("int", "float"):
                self.fail((*at, key), f"{key} applies only to int and float parameters")
            if bound is not MISSING and (
                isinstance(bound, bool) or not isinstance(bound, int | float)
            ):
                self.fail((*at, key), f"expected number, got {describe(bound)}")
            if bound is not MISSING and not math.isfinite(bound):
                self.fail((*at, key), f"expected a finite number, got {describe(bound)}")
            bounds.append(None if bound is MISSING else bound)
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
        problem = out_of_range(spec, default)
        if problem:
            self.fail((*at, "default"), problem, range_hint(spec))
        return spec

    def choices(
        self, table: dict[str, Any], at: FieldPath, kind: ParamType, default: Any
    ) -> tuple[Any, ...]:
        value = self.get(table, at, "choices", False)
        if value is MISSING:
            return ()
        if not isinstance(value, list) or not value:
            self.fail((*at, "choices"), f"expected a non-empty list, got {describe(value)}")
        choices = []
        for index, item in enumerate(value):
            typed = typed_value(kind, item)
            if typed is MISSING:
                self.fail((*at, "choices", index), f"expected {kind}, got {describe(item)}")
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
        if value is MISSING or value == []:
            self.fail(("steps",), "a pipeline needs at least one step", hint)
        if not isinstance(value, list):
            self.fail(("steps",), f"expected [[steps]] tables, got {describe(value)}", hint)
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
                    did_you_mean(param, list(params)) + f"declared parameters: {known}",
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
            did_you_mean(name, list(produced)) + f"outputs of earlier steps: {earlier}",
        )

    def evaluation(self, value: object) -> EvaluationSpec:
        at: FieldPath = ("evaluation",)
        table = self.table(value, at, _EVALUATION_KEYS)
        metrics = self.strings(table, at, "metrics")
        primary = self.string(table, at, "primary")
        if primary is not None and metrics and primary not in metrics:
            self.fail(
                (*at, "primary"),
                f"primary metric {primary!r} is not in metrics",
                did_you_mean(primary, metrics) + f"metrics: {', '.join(metrics)}",
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
        if value is MISSING:
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
                did_you_mean(artifact, outputs) + f"step outputs: {', '.join(outputs) or 'none'}",
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
        window = self.duration(table, at, "window") or "1h"
        numeric = self.string(table, at, "numeric_method") or "auto"
        self.one_of(numeric, (*at, "numeric_method"), ("auto", *NUMERIC_METHODS), "method")
        categorical = self.string(table, at, "categorical_method") or "auto"
        self.one_of(categorical, (*at, "categorical_method"), ("auto", *CATEGORICAL_METHODS),
                    "method")  # fmt: skip
        share = self.number(table, at, "drift_share", 0.5, positive=True)
        if share is not None and share > 1:
            self.fail((*at, "drift_share"), f"must be <= 1, got {share}",
                      "the share of drifted features that makes the dataset drifted")  # fmt: skip
        return DriftSpec(
            features=self.strings(table, at, "features"),
            psi_threshold=self.number(table, at, "psi_threshold", 0.2, positive=True) or 0.2,
            window=window,
            numeric_method=numeric,
            categorical_method=categorical,
            thresholds=self.thresholds(table.get("thresholds", {}), (*at, "thresholds")),
            drift_share=share or 0.5,
            min_rows=self.integer(table, at, "min_rows", 30, minimum=1),
            interval=self.duration(table, at, "interval") or "",
            retrain=self.boolean(table, at, "retrain", False),
        )

    def duration(self, table: dict[str, Any], at: FieldPath, key: str) -> str | None:
        text = self.string(table, at, key)
        if text is not None and not _WINDOW.fullmatch(text):
            self.fail(
                (*at, key),
                f"expected a duration such as '1h', got {text!r}",
                "a whole number and a unit: s, m, h or d (e.g. 30m, 1h, 7d)",
            )
        return text

    def thresholds(self, value: object, at: FieldPath) -> tuple[tuple[str, float], ...]:
        table = self.table(value, at, tuple(DEFAULT_THRESHOLDS))
        found = []
        for method in table:
            number = self.number(table, at, method, None, positive=True)
            try:
                check_threshold(method, float(number or 0))
            except InvalidInputError as error:
                self.fail((*at, method), error.message)
            found.append((method, float(number or 0)))
        return tuple(found)
