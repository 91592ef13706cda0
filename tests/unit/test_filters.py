"""The filter language compiles to SQL with every user value bound, never pasted."""

from __future__ import annotations

import pytest

from workbench.core.errors import InvalidInputError
from workbench.core.filters import compile_filter, parse_sort


def test_attribute_and_namespaces_compile_with_bound_values() -> None:
    fragment = compile_filter("params.lr = '0.01' and metrics.auc >= 0.9 or status = 'failed'")
    assert fragment.params == ("lr", "0.01", "auc", 0.9, "failed")
    assert "0.01" not in fragment.sql
    assert "failed" not in fragment.sql
    assert fragment.sql.count("?") == 5
    assert " OR " in fragment.sql
    assert " AND " in fragment.sql


def test_injection_attempt_stays_a_value() -> None:
    fragment = compile_filter("name = 'x''; DROP TABLE runs; --'")
    assert fragment.params == ("x'; DROP TABLE runs; --",)
    assert "DROP" not in fragment.sql


def test_quoted_keys_in_and_parentheses() -> None:
    fragment = compile_filter("(params.`model.depth` IN (3, 4)) AND tags.\"team name\" LIKE 'ml%'")
    assert fragment.params == ("model.depth", 3, 4, "team name", "ml%")
    assert "TRY_CAST" in fragment.sql  # numeric comparison of a text param


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("foo = 1", "unknown column 'foo'"),
        ("metrics.auc >", "ends too early"),
        ("metrics.auc > 'high'", "compares with numbers"),
        ("status == 'x'", "malformed filter"),
        ("status = 'x' extra", "unexpected"),
        ("status ~ 'x'", "malformed filter"),
        ("(status = 'x'", "ends too early"),
        ("status = finished", "expected a value"),
    ],
)
def test_malformed_filters_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as info:
        compile_filter(text)
    assert info.value.exit_code == 2
    assert info.value.hint


def test_sort_keys() -> None:
    assert parse_sort("-metrics.auc").descending
    key = parse_sort("metrics.auc DESC")
    assert key.descending
    assert str(key.field) == "metrics.auc"
    assert not parse_sort("created_at").descending
    with pytest.raises(InvalidInputError, match="unknown column"):
        parse_sort("nope")
