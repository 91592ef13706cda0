"""`search_runs` picks ids first, then reads the rows: order and details survive the split."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.catalogue import Catalogue
from workbench.catalogue.duckdb_backend import DuckDBBackend


@pytest.fixture
def catalogue(tmp_path: Path) -> Iterator[Catalogue]:
    with Catalogue(DuckDBBackend(tmp_path / "catalogue.duckdb")) as opened:
        yield opened


def test_top_runs_come_in_sort_order_each_with_its_own_details(catalogue: Catalogue) -> None:
    scores = [0.3, 0.9, 0.1, 0.9, 0.5, 0.7]  # a tie at 0.9: run_id breaks it
    made = []
    for i, score in enumerate(scores):
        run_id = catalogue.create_run("p", name=f"r{i}", params={"i": i, "even": i % 2 == 0})
        catalogue.set_tags(run_id, {"label": f"t{i}"})
        catalogue.log_batch(run_id, [("score", score, 0), ("i", float(i), 0)])
        made.append((score, run_id, i))
    catalogue.log_metric(made[0][1], "score", math.nan, step=1)  # a later NaN wins its run

    found = catalogue.search_runs(where="params.even = 'False'", sort="-metrics.score", limit=2)

    odd = sorted((m for m in made if m[2] % 2 == 1), key=lambda m: (-m[0], m[1]))
    assert [run.run_id for run in found] == [m[1] for m in odd[:2]]
    for run in found:
        i = int(run.params["i"])
        assert run.name == f"r{i}"
        assert run.tags == {"label": f"t{i}"}
        assert run.metrics == {"score": scores[i], "i": float(i)}
        assert all(isinstance(value, float) for value in run.metrics.values())
    assert math.isnan(catalogue.get_run(made[0][1]).metrics["score"])


def test_no_match_and_a_limit_past_the_end(catalogue: Catalogue) -> None:
    run_id = catalogue.create_run("p", params={"a": "1"})
    assert catalogue.search_runs(where="params.a = '2'") == []
    assert [run.run_id for run in catalogue.search_runs(limit=50)] == [run_id]
    assert catalogue.get_run(run_id[:8]).params == {"a": "1"}
