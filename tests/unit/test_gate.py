"""The registration gate: rule parsing, rule checks and the no-regression check."""

from __future__ import annotations

import math

import pytest

from workbench.core.errors import InvalidInputError
from workbench.core.gate import GateCheck, GateResult, evaluate_gate, format_rule, parse_rule
from workbench.core.spec import EvaluationSpec, GateRule

FRAUD = EvaluationSpec(
    metrics=("auc", "average_precision"),
    primary="auc",
    higher_is_better=True,
    gate=(GateRule("auc", ">=", 0.90), GateRule("average_precision", ">=", 0.3)),
    max_regression=0.01,
)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("auc >= 0.90", GateRule("auc", ">=", 0.9)),
        ("auc>=0.9", GateRule("auc", ">=", 0.9)),
        ("  rmse <  1e-2 ", GateRule("rmse", "<", 0.01)),
        ("loss<=3", GateRule("loss", "<=", 3.0)),
        ("val.f1 > .5", GateRule("val.f1", ">", 0.5)),
        ("delta > -0.25", GateRule("delta", ">", -0.25)),
        ("_x9 >= +2.", GateRule("_x9", ">=", 2.0)),
    ],
)
def test_parse_rule(text: str, rule: GateRule) -> None:
    assert parse_rule(text) == rule


@pytest.mark.parametrize(
    "text",
    [
        "auc = 0.9",
        "auc == 0.9",
        "auc => 0.9",
        "auc >= high",
        "auc >=",
        ">= 0.9",
        "9auc > 1",
        "auc >= 0.9 and ap > 0.1",
        "",
        "auc >= 0.9.1",
        "auc >= inf",
        "auc >= nan",
        "a uc > 1",
    ],
)
def test_malformed_rules_are_rejected_with_an_example(text: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_rule(text)
    assert repr(text) in caught.value.message
    assert "example" in caught.value.hint
    assert "auc >= 0.90" in caught.value.hint


def test_format_rule_round_trips() -> None:
    for text in ("auc >= 0.9", "rmse < 0.01", "n > 3"):
        assert format_rule(parse_rule(text)) == text


def test_everything_passes() -> None:
    result = evaluate_gate(FRAUD, {"auc": 0.934, "average_precision": 0.41}, None)
    assert result.passed
    assert result.checks == (
        GateCheck("auc >= 0.9", True, "auc 0.934 >= 0.9"),
        GateCheck("average_precision >= 0.3", True, "average_precision 0.41 >= 0.3"),
        GateCheck("max_regression", True, "no champion yet"),
    )
    assert result.reasons() == []


def test_a_failed_rule_fails_the_gate_and_says_why() -> None:
    result = evaluate_gate(FRAUD, {"auc": 0.85, "average_precision": 0.41}, None)
    assert not result.passed
    assert result.reasons() == ["auc 0.85 < 0.9"]
    assert [check.passed for check in result.checks] == [False, True, True]


def test_a_missing_metric_fails() -> None:
    result = evaluate_gate(FRAUD, {"auc": 0.95}, None)
    assert not result.passed
    assert result.reasons() == ["metric 'average_precision' was not reported"]


def test_missing_primary_fails_both_its_rule_and_the_regression_check() -> None:
    result = evaluate_gate(FRAUD, {"average_precision": 0.5}, {"auc": 0.9})
    assert result.reasons() == ["metric 'auc' was not reported"] * 2


def test_nan_metric_fails() -> None:
    result = evaluate_gate(FRAUD, {"auc": math.nan, "average_precision": 0.5}, {"auc": 0.9})
    assert not result.passed
    assert len(result.reasons()) == 2
    assert all("NaN" in reason for reason in result.reasons())


def test_regression_beyond_the_allowance_fails() -> None:
    result = evaluate_gate(FRAUD, {"auc": 0.912, "average_precision": 0.5}, {"auc": 0.933})
    assert not result.passed
    assert result.reasons() == ["auc 0.912 is 0.021 below champion 0.933 (allowed 0.01)"]


def test_regression_within_the_allowance_passes() -> None:
    result = evaluate_gate(FRAUD, {"auc": 0.925, "average_precision": 0.5}, {"auc": 0.933})
    assert result.passed
    assert result.checks[-1].detail == "auc 0.925 is 0.008 below champion 0.933 (allowed 0.01)"


def test_regression_exactly_at_the_allowance_passes_despite_float_noise() -> None:
    # 0.933 - 0.923 is 0.010000000000000009 in binary floating point
    result = evaluate_gate(FRAUD, {"auc": 0.923, "average_precision": 0.5}, {"auc": 0.933})
    assert result.passed


def test_better_than_champion_passes() -> None:
    result = evaluate_gate(FRAUD, {"auc": 0.95, "average_precision": 0.5}, {"auc": 0.933})
    assert result.passed
    assert "above champion 0.933" in result.checks[-1].detail


def test_lower_is_better_regression() -> None:
    evaluation = EvaluationSpec(
        metrics=("rmse",),
        primary="rmse",
        higher_is_better=False,
        gate=(GateRule("rmse", "<", 2.0),),
        max_regression=0.05,
    )
    worse = evaluate_gate(evaluation, {"rmse": 1.3}, {"rmse": 1.2})
    assert not worse.passed
    assert worse.reasons() == ["rmse 1.3 is 0.1 above champion 1.2 (allowed 0.05)"]
    better = evaluate_gate(evaluation, {"rmse": 1.0}, {"rmse": 1.2})
    assert better.passed
    slightly = evaluate_gate(evaluation, {"rmse": 1.23}, {"rmse": 1.2})
    assert slightly.passed
    too_high = evaluate_gate(evaluation, {"rmse": 2.5}, None)
    assert too_high.reasons() == ["rmse 2.5 >= 2"]


def test_champion_without_the_primary_metric_passes() -> None:
    result = evaluate_gate(FRAUD, {"auc": 0.95, "average_precision": 0.5}, {"other": 1.0})
    assert result.passed
    assert "champion has no 'auc'" in result.checks[-1].detail


def test_no_regression_check_without_max_regression() -> None:
    evaluation = EvaluationSpec(primary="auc", gate=(GateRule("auc", ">", 0.5),))
    result = evaluate_gate(evaluation, {"auc": 0.6}, {"auc": 0.99})
    assert result.passed
    assert [check.name for check in result.checks] == ["auc > 0.5"]


def test_empty_gate_passes() -> None:
    assert evaluate_gate(EvaluationSpec(), {}, None) == GateResult(True, ())


def test_json_round_trip() -> None:
    result = evaluate_gate(FRAUD, {"auc": 0.912, "average_precision": 0.2}, {"auc": 0.933})
    data = result.to_json()
    assert data == {
        "passed": False,
        "checks": [
            {"name": "auc >= 0.9", "passed": True, "detail": "auc 0.912 >= 0.9"},
            {
                "name": "average_precision >= 0.3",
                "passed": False,
                "detail": "average_precision 0.2 < 0.3",
            },
            {
                "name": "max_regression",
                "passed": False,
                "detail": "auc 0.912 is 0.021 below champion 0.933 (allowed 0.01)",
            },
        ],
    }
    assert GateResult.from_json(data) == result
