"""The registration gate: rules such as `auc >= 0.90`, plus a no-regression check vs the champion.

A model version is registered only when every check passes; the checks and their
details are kept (as JSON) so a refusal can be explained later.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from workbench.core.spec.model import EvaluationSpec, GateRule
from workbench.core.spec.model import GateOp as GateOp  # re-exported: defined with GateRule
from workbench.core.spec.rules import parse_rule as parse_rule  # re-exported: the rule grammar

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
}
_TOLERANCE = 1e-12  # so that 0.933 - 0.912 is not "more than" 0.021 by float noise


def format_rule(rule: GateRule) -> str:
    """A rule as text, e.g. `auc >= 0.9` (the inverse of parse_rule, up to number format)."""
    return f"{rule.metric} {rule.op} {_num(rule.threshold)}"


@dataclass(frozen=True)
class GateCheck:
    """One check of the gate: a rule or the regression check, and why it passed or failed."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class GateResult:
    """The outcome of the gate: passed only when every check passed."""

    passed: bool
    checks: tuple[GateCheck, ...]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, kept with the model version so a decision can be explained."""
        return {
            "passed": self.passed,
            "checks": [
                {"name": check.name, "passed": check.passed, "detail": check.detail}
                for check in self.checks
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GateResult:
        """Rebuild a result stored with `to_json`."""
        checks = tuple(
            GateCheck(str(c["name"]), bool(c["passed"]), str(c["detail"]))
            for c in data.get("checks", ())
        )
        return cls(bool(data["passed"]), checks)

    def reasons(self) -> list[str]:
        """The details of the failed checks: why registration was refused."""
        return [check.detail for check in self.checks if not check.passed]


def evaluate_gate(
    evaluation: EvaluationSpec,
    metrics: Mapping[str, float],
    champion_metrics: Mapping[str, float] | None,
) -> GateResult:
    """Check every gate rule, then (if max_regression is set) the primary metric vs the champion.

    `champion_metrics` is None when the model has no champion yet; that check then passes.
    """
    checks = [_check_rule(rule, metrics) for rule in evaluation.gate]
    if evaluation.max_regression is not None and evaluation.primary is not None:
        checks.append(
            _check_regression(
                evaluation.primary,
                evaluation.higher_is_better,
                evaluation.max_regression,
                metrics,
                champion_metrics,
            )
        )
    return GateResult(all(check.passed for check in checks), tuple(checks))


def _check_rule(rule: GateRule, metrics: Mapping[str, float]) -> GateCheck:
    name = format_rule(rule)
    if rule.metric not in metrics:
        return GateCheck(name, False, f"metric {rule.metric!r} was not reported")
    value = float(metrics[rule.metric])
    if math.isnan(value):
        return GateCheck(
            name, False, f"{rule.metric} is NaN (needs {rule.op} {_num(rule.threshold)})"
        )
    passed = _COMPARE[rule.op](value, rule.threshold)
    shown_op = rule.op if passed else _NEGATED[rule.op]
    return GateCheck(name, passed, f"{rule.metric} {_num(value)} {shown_op} {_num(rule.threshold)}")


_NEGATED = {">=": "<", ">": "<=", "<=": ">", "<": ">="}


def _check_regression(
    primary: str,
    higher_is_better: bool,
    allowed: float,
    metrics: Mapping[str, float],
    champion_metrics: Mapping[str, float] | None,
) -> GateCheck:
    name = "max_regression"
    if primary not in metrics:
        return GateCheck(name, False, f"metric {primary!r} was not reported")
    value = float(metrics[primary])
    if math.isnan(value):
        return GateCheck(name, False, f"{primary} is NaN")
    if champion_metrics is None:
        return GateCheck(name, True, "no champion yet")
    if primary not in champion_metrics or math.isnan(float(champion_metrics[primary])):
        return GateCheck(name, True, f"champion has no {primary!r} to compare with")
    champion = float(champion_metrics[primary])
    worse_by = champion - value if higher_is_better else value - champion
    if worse_by <= 0:
        direction = "above" if value >= champion else "below"
        if value == champion:
            return GateCheck(name, True, f"{primary} {_num(value)} equals champion")
        return GateCheck(
            name,
            True,
            f"{primary} {_num(value)} is {_num(abs(value - champion))} {direction} "
            f"champion {_num(champion)} (better)",
        )
    direction = "below" if higher_is_better else "above"
    detail = (
        f"{primary} {_num(value)} is {_num(worse_by)} {direction} champion {_num(champion)} "
        f"(allowed {_num(allowed)})"
    )
    return GateCheck(name, worse_by <= allowed + _TOLERANCE, detail)


def _num(value: float) -> str:
    """A number as people write it: 0.934, 0.01, 200000 (six significant digits at most)."""
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"
