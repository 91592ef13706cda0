"""The TUI's in-memory run table answers like `runs ls`: same filter language, same runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from tests.fixtures.settings import outside_ray
from tests.tui.catalogue_fixture import FRAUD, MAINT, NOW, RUNS, build_fixed_catalogue
from workbench.catalogue import Catalogue
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.catalogue.run_table import RunTableSnapshot
from workbench.core.errors import InvalidInputError
from workbench.services.run_table import RUN_COLUMNS, load_run_table

AUC = {run_id: auc for run_id, *_, auc, _ in RUNS}


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalogue]:
    """The fixed TUI catalogue, opened directly (no stale-run sweep); only read here."""
    path = build_fixed_catalogue(tmp_path_factory.mktemp("run_table") / "home")
    with Catalogue(DuckDBBackend(path)) as opened:
        yield opened


@pytest.fixture(scope="module")
def snapshot(catalogue: Catalogue) -> Iterator[RunTableSnapshot]:
    taken = RunTableSnapshot.read(catalogue, NOW)
    yield taken
    taken.close()


def ids(table: pa.Table) -> list[str]:
    return [str(v) for v in table.column("run_id").to_pylist()]


@pytest.mark.parametrize(
    "where",
    [
        "metrics.auc > 0.9",
        "params.lr = '0.05'",
        "params.n_estimators >= 200",
        "status = 'failed' or project = 'predictive_maintenance'",
        "tags.owner = 'ana' and metrics.loss < 0.3",
        "params.lr IN ('0.1', '0.5')",
        "project LIKE 'fraud%' and attempt = 1",
        "created_at > '2026-11-30 10:00:00'",
        "params.hidden = 64",
        "metrics.auc < 0",
    ],
)
def test_filters_select_the_runs_that_runs_ls_selects(
    catalogue: Catalogue, snapshot: RunTableSnapshot, where: str
) -> None:
    expected = [run.run_id for run in catalogue.search_runs(where=where, limit=1000)]
    assert ids(snapshot.select(where)) == expected  # same set, same order (newest first)


@pytest.mark.parametrize("sort", ["-metrics.auc", "metrics.loss", "-created_at"])
def test_sort_orders_like_runs_ls(
    catalogue: Catalogue, snapshot: RunTableSnapshot, sort: str
) -> None:
    expected = [run.run_id for run in catalogue.search_runs(sort=sort, limit=1000)]
    assert ids(snapshot.select("", sort)) == expected


def test_params_sort_as_numbers_when_every_value_is_one(snapshot: RunTableSnapshot) -> None:
    table = snapshot.select("", "params.n_estimators", ("params.n_estimators",))
    values = table.column("params.n_estimators").to_pylist()
    assert values == ["50", "100", "200", "400", None, None]  # as text, "50" would come last
    descending = snapshot.select("", "-params.n_estimators", ("params.n_estimators",))
    assert descending.column("params.n_estimators").to_pylist()[:4] == ["400", "200", "100", "50"]


def test_fixed_columns_then_the_chosen_ones(snapshot: RunTableSnapshot) -> None:
    table = snapshot.select("project = 'fraud_detection'", "-metrics.auc", ("metrics.auc",))
    assert table.column_names == ["run_id", *RUN_COLUMNS, "metrics.auc"]
    assert table.column("metrics.auc").to_pylist() == sorted(
        (AUC[i] for i in ids(table)), reverse=True
    )
    assert table.column("id").to_pylist() == [i[:8] for i in ids(table)]
    durations = dict(zip(ids(table), table.column("duration").to_pylist(), strict=True))
    assert durations[RUNS[0][0]].total_seconds() == 6 * 60


def test_plain_text_matches_id_project_or_name(snapshot: RunTableSnapshot) -> None:
    assert {p for p in snapshot.select("MAINT").column("project").to_pylist()} == {MAINT}
    assert ids(snapshot.select("c3d4e5f6")) == [r[0] for r in RUNS if "c3d4e5f6" in r[0]][::-1]
    assert snapshot.select("fraud").num_rows == sum(1 for r in RUNS if r[1] == FRAUD)
    assert snapshot.select("no such run").num_rows == 0


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("metrics.auc >", "ends too early"),
        ("metrics.auc > 'high'", "compares with numbers"),
        ("status == 'x'", "malformed filter"),
        ("foo = 1", "unknown column"),
        ("attempt = 'many'", "Conversion"),
    ],
)
def test_an_expression_that_does_not_parse_is_an_error(
    snapshot: RunTableSnapshot, where: str, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        snapshot.select(where)


def test_unknown_sort_column_names_the_known_ones(snapshot: RunTableSnapshot) -> None:
    with pytest.raises(InvalidInputError, match="cannot sort by 'colour'") as raised:
        snapshot.select("", "colour")
    assert "metrics.<key>" in raised.value.hint


def test_keys_most_common_first(snapshot: RunTableSnapshot) -> None:
    assert snapshot.keys.metrics == ("auc", "loss")
    assert snapshot.keys.params[0] == "lr"  # every run has lr
    assert set(snapshot.keys.params) == {"lr", "n_estimators", "max_depth", "epochs", "hidden"}


def test_the_service_reads_every_run_and_frees_the_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = build_fixed_catalogue(home)
    table = load_run_table(outside_ray(home), now=NOW)
    assert table.num_runs == len(RUNS)
    DuckDBBackend(path).close()  # the file is free again: another process could open it
    assert table.select("metrics.auc > 0.95").column("id").to_pylist() == [RUNS[4][0][:8]]
    table.close()


@pytest.mark.parametrize(
    "columns", [None, ("params.lr", "metrics.loss"), ("tags.owner", "params.nope", "bogus")]
)
def test_the_first_page_is_the_head_of_the_whole_table(
    catalogue: Catalogue, snapshot: RunTableSnapshot, columns: tuple[str, ...] | None
) -> None:
    page = RunTableSnapshot.read_first_page(catalogue, NOW, columns, default_keys=2)
    assert page.total == len(RUNS)
    if columns is None:  # the commonest metrics, then params, as the chooser orders them
        keys = snapshot.keys
        assert page.columns == (
            *(f"metrics.{k}" for k in keys.metrics[:2]),
            *(f"params.{k}" for k in keys.params[:2]),
        )
    shown = tuple(c for c in page.columns if c != "bogus")
    whole = snapshot.select(columns=shown)
    assert page.rows.equals(whole.slice(0, page.rows.num_rows))
