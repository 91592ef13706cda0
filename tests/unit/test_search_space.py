"""Sweep search spaces parse against the project's typed parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.projects import write_project
from workbench.core.errors import InvalidInputError
from workbench.core.search_space import Distribution, parse_space
from workbench.core.spec import ProjectSpec, load_spec


@pytest.fixture
def spec(tmp_path: Path) -> ProjectSpec:
    return load_spec(write_project(tmp_path / "proj"))


def test_distributions_and_fixed_values(spec: ProjectSpec) -> None:
    space, fixed = parse_space(
        spec,
        {"scale": "loguniform(0.01, 1)", "rows": "randint(10, 50)", "fail_in": "prepare"},
    )
    assert space == {
        "scale": Distribution("loguniform", (0.01, 1.0)),
        "rows": Distribution("randint", (10, 50)),
    }
    assert fixed == {"rows": 200, "scale": 1.0, "fail_in": "prepare"}
    choice, _ = parse_space(spec, {"rows": "choice(10, 20,30)"})
    assert choice["rows"] == Distribution("choice", (10, 20, 30))
    assert choice["rows"].describe() == "choice(10, 20, 30)"


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ({"rows": "100"}, "nothing to sweep"),
        ({"scale": "uniform(1)"}, "takes two bounds"),
        ({"scale": "uniform(2, 1)"}, "empty or invalid range"),
        ({"scale": "loguniform(0, 1)"}, "empty or invalid range"),
        ({"scale": "randint(1, 5)"}, "does not fit"),
        ({"rows": "uniform(a, b)"}, "must be numbers"),
        ({"rows": "randint(1, 50)"}, "below min 10"),
        ({"fail_in": "uniform(0, 1)"}, "str parameter"),
        ({"rows": "choice()"}, "at least one value"),
        ({"rows": "choice(10, x)"}, "expects int"),
        ({"colour": "choice(1, 2)"}, "unknown parameter 'colour'"),
    ],
)
def test_bad_spaces_are_refused(spec: ProjectSpec, items: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_space(spec, items)
