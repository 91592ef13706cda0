"""The catalogue API against a real DuckDB file."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.catalogue import Catalogue, Statement
from workbench.core.entities import Lineage, RunStatus
from workbench.core.errors import InvalidInputError, NotFoundError


def test_run_life_cycle_with_params_tags_and_lineage(catalogue: Catalogue) -> None:
    lineage = Lineage(
        git_commit="abc123",
        git_dirty=True,
        data_fingerprint="sha256:ff",
        environment={"ray": "2.60.0"},
        cluster_id="local",
        nodes=["n1"],
    )
    run_id = catalogue.create_run(
        "fraud",
        name="baseline",
        params={"lr": 0.01, "depth": 6},
        tags={"team": "risk"},
        lineage=lineage,
    )
    run = catalogue.get_run(run_id[:8])
    assert run.status == RunStatus.RUNNING
    assert run.started_at is not None
    assert run.params == {"lr": "0.01", "depth": "6"}
    assert run.tags == {"team": "risk"}
    assert run.lineage == lineage
    catalogue.log_params(run_id, {"depth": 8})
    catalogue.finish_run(run_id)
    run = catalogue.get_run(run_id)
    assert run.status == RunStatus.FINISHED
    assert run.ended_at is not None
    assert run.params["depth"] == "8"
    assert run.duration_s is not None
    assert run.duration_s >= 0


def test_failed_run_keeps_error_and_traceback(catalogue: Catalogue) -> None:
    run_id = catalogue.create_run("p")
    catalogue.set_status(run_id, RunStatus.FAILED, error="boom", traceback="Traceback ...")
    table = catalogue.sql(f"SELECT error, traceback FROM runs WHERE run_id = '{run_id}'")
    assert table.to_pylist() == [{"error": "boom", "traceback": "Traceback ..."}]
    assert catalogue.get_run(run_id).error == "boom"


def test_metrics_three_ways_and_history(catalogue: Catalogue) -> None:
    run_id = catalogue.create_run("p")
    for loss in (0.9, 0.5, 0.3):
        catalogue.log_metric(run_id, "loss", loss)  # steps 0, 1, 2
    catalogue.log_metric_history(run_id, "auc", np.arange(4), np.array([0.5, 0.6, 0.7, 0.8]))
    catalogue.log_batch(run_id, [("acc", 0.1, 0), ("acc", 0.2, 1)])
    history = catalogue.metric_history(run_id, "loss").to_pydict()
    assert history["step"] == [0, 1, 2]
    assert history["value"] == [0.9, 0.5, 0.3]
    assert catalogue.get_run(run_id).metrics == {"loss": 0.3, "auc": 0.8, "acc": 0.2}
    assert catalogue.metric_keys(run_id) == ["acc", "auc", "loss"]


def test_latest_metric_is_the_highest_step_even_if_logged_out_of_order(
    catalogue: Catalogue,
) -> None:
    run_id = catalogue.create_run("p")
    catalogue.log_metric(run_id, "loss", 0.1, step=10)
    catalogue.flush()
    catalogue.log_metric(run_id, "loss", 0.9, step=3)
    assert catalogue.get_run(run_id).metrics["loss"] == 0.1


def test_unknown_metric_lists_known_ones(catalogue: Catalogue) -> None:
    run_id = catalogue.create_run("p")
    catalogue.log_metric(run_id, "loss", 1.0)
    with pytest.raises(NotFoundError, match="no metric 'accuracy'") as info:
        catalogue.metric_history(run_id, "accuracy")
    assert "loss" in info.value.hint


def test_unknown_and_ambiguous_run_refs(catalogue: Catalogue) -> None:
    with pytest.raises(NotFoundError):
        catalogue.get_run("deadbeef")
    with pytest.raises(NotFoundError, match="hex"):
        catalogue.get_run("'; drop table runs")
    for run_id in ("abcd0001", "abcd0002"):
        catalogue.backend.write(
            [
                Statement(
                    "INSERT INTO runs (run_id, project, status, created_at) VALUES (?, 'p', ?, now())",
                    (run_id, "finished"),
                )
            ]
        )
    with pytest.raises(InvalidInputError, match="ambiguous"):
        catalogue.resolve_run_id("abcd")
    assert catalogue.resolve_run_id("ABCD0002") == "abcd0002"


def test_search_filters_sorts_and_limits(catalogue: Catalogue) -> None:
    ids = []
    for i in range(20):
        run_id = catalogue.create_run(
            "a" if i % 2 else "b", params={"lr": 0.1 if i % 4 == 0 else 0.2, "i": i}
        )
        catalogue.log_metric(run_id, "auc", i / 20)
        ids.append(run_id)
    catalogue.finish_run(ids[3], RunStatus.FAILED)
    found = catalogue.search_runs(where="params.lr = '0.1'", sort="-metrics.auc", limit=3)
    assert [r.params["i"] for r in found] == ["16", "12", "8"]
    found = catalogue.search_runs(where="params.lr = 0.1 and metrics.auc < 0.3", sort="metrics.auc")
    assert [r.params["i"] for r in found] == ["0", "4"]
    assert [r.run_id for r in catalogue.search_runs(status="failed")] == [ids[3]]
    assert len(catalogue.search_runs(project="a", limit=100)) == 10
    assert [r.params["i"] for r in catalogue.search_runs(sort="params.i", limit=3)] == [
        "0",
        "1",
        "2",
    ]
    with pytest.raises(InvalidInputError, match="unknown status"):
        catalogue.search_runs(status="exploded")
    with pytest.raises(InvalidInputError, match="at least 1"):
        catalogue.search_runs(limit=0)


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO runs (run_id, project, status, created_at) VALUES ('x', 'p', 'running', now())",
        "UPDATE runs SET status = 'x'",
        "DELETE FROM runs",
        "DROP TABLE runs",
        "ATTACH '/tmp/other.duckdb'",
        "COPY runs TO '/tmp/out.csv'",
        "CREATE TABLE t (a INT)",
        "SELECT 1; DELETE FROM runs",
        "EXPLAIN ANALYZE DELETE FROM runs",
        "PRAGMA enable_profiling",
        "SET threads = 1",
        "CHECKPOINT",
    ],
)
def test_sql_refuses_writes(catalogue: Catalogue, sql: str) -> None:
    run_id = catalogue.create_run("p")
    with pytest.raises(InvalidInputError) as info:
        catalogue.sql(sql)
    assert info.value.exit_code == 2
    assert catalogue.get_run(run_id).status == RunStatus.RUNNING
    assert catalogue.sql("SELECT count(*) AS n FROM runs").to_pylist() == [{"n": 1}]


def test_sql_reads_and_reports_bad_sql(catalogue: Catalogue) -> None:
    catalogue.create_run("p")
    assert catalogue.sql("SELECT project FROM runs").to_pylist() == [{"project": "p"}]
    assert catalogue.sql("DESCRIBE runs").num_rows > 10
    with pytest.raises(InvalidInputError, match="no_such_column|not found"):
        catalogue.sql("SELECT no_such_column FROM runs")
