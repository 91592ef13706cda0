"""Served requests as columns: the id goes back to the client, answered rows are stored as
list columns, and a window reads back as a drift check takes it: sorted numeric columns and
category counts (real HTTP, real DuckDB file)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests

from tests.fixtures.http import serve_in_thread
from tests.fixtures.settings import outside_ray
from workbench.catalogue import Catalogue
from workbench.catalogue.deployments import DeploymentLedger
from workbench.catalogue.request_rows import RequestRowLedger
from workbench.core.deployments import RequestRecord
from workbench.core.drift.profile import CategoryCounts
from workbench.owner import open_catalogue
from workbench.serving.app import AppOptions, Scored, make_app
from workbench.serving.errors import BadRequest
from workbench.serving.signature import Columns, InputSchema

T0 = datetime(2026, 3, 1, 12, 0, 0)
SIGNATURE = {
    "inputs": json.dumps(
        [
            {"name": "amount", "type": "double", "required": False},
            {"name": "items", "type": "long"},
            {"name": "country", "type": "string"},
            {"name": "online", "type": "boolean"},
        ]
    )
}


class ThresholdScorer:
    """A real Scorer with a real signature: [p(0), p(1)] from `amount`; refuses items < 0."""

    schema = InputSchema.from_signature(SIGNATURE)

    def metadata(self) -> dict[str, Any]:
        return {"name": "toy", "version": 4}

    def healthy(self) -> bool:
        return True

    async def score(self, columns: Columns) -> Scored:
        if (columns["items"] < 0).any():
            raise BadRequest("items must be >= 0", field="items")
        positive = np.clip(np.nan_to_num(columns["amount"]) / 100.0, 0, 1)
        return Scored(np.column_stack([1 - positive, positive]).tolist(), 4)


@pytest.fixture
def catalogue(home: Path) -> Iterator[Catalogue]:
    with open_catalogue(outside_ray(home)) as opened:
        yield opened


@pytest.fixture
def served() -> Iterator[tuple[str, list[RequestRecord]]]:
    records: list[RequestRecord] = []
    options = AppOptions(on_request=lambda record, shadow: records.append(record))
    with serve_in_thread(make_app(ThresholdScorer(), options)) as url:
        yield url, records


def _stored(catalogue: Catalogue, deployment: str, order: str = "r.rowid") -> list[dict[str, Any]]:
    """The stored rows of `deployment`, each with its values by input name."""
    rows = catalogue.backend.query(
        "SELECT r.request_id, r.row_index, r.model_version, r.ts, r.numbers, r.texts, "
        "l.numeric, l.categorical FROM request_rows r JOIN request_layouts l USING (layout) "
        f"WHERE r.deployment_id = ? ORDER BY {order}",
        (deployment,),
    ).to_pylist()
    for row in rows:
        row["values"] = {
            **dict(zip(row["numeric"], row["numbers"], strict=True)),
            **dict(zip(row["categorical"], row["texts"], strict=True)),
        }
    return rows


def _column(rows: list[dict[str, Any]], name: str) -> list[Any]:
    return [row["values"][name] for row in rows]


def _post(url: str, rows: list[dict[str, Any]], **headers: str) -> requests.Response:
    body = json.dumps({"dataframe_records": rows})  # NaN is spelled NaN, as pandas clients do
    return requests.post(
        f"{url}/invocations",
        data=body.encode(),
        headers={"content-type": "application/json", **headers},
        timeout=10,
    )


def test_the_request_id_goes_back_to_the_client_and_is_the_id_stored(
    served: tuple[str, list[RequestRecord]], catalogue: Catalogue
) -> None:
    url, records = served
    rows = [
        {"amount": 80.0, "items": 2, "country": "NL", "online": True},
        {"amount": float("nan"), "items": 0, "country": "DE", "online": False},
    ]
    chosen = _post(url, rows, **{"x-request-id": "order-17:a.b_c"})
    fresh = _post(url, rows[:1])
    unsafe = _post(url, rows[:1], **{"x-request-id": "no spaces/or slashes"})
    refused = _post(url, [{**rows[0], "items": -1}])
    assert [r.status_code for r in (chosen, fresh, unsafe, refused)] == [200, 200, 200, 400]
    assert chosen.headers["x-request-id"] == "order-17:a.b_c"
    for response in (fresh, unsafe, refused):
        assert len(response.headers["x-request-id"]) == 32  # a new uuid4 hex
        int(response.headers["x-request-id"], 16)
    sent = [r.headers["x-request-id"] for r in (chosen, fresh, unsafe, refused)]
    assert [r.request_id for r in records] == sent
    assert records[3].columns is None  # a refused request keeps no rows

    pinned = [replace(record, ts=T0) for record in records]  # answered "now": pin the window
    DeploymentLedger(catalogue).log_requests("toy", pinned)
    rows = _stored(catalogue, "toy")
    assert [r["request_id"] for r in rows] == [sent[0], sent[0], sent[1], sent[2]]
    assert [r["row_index"] for r in rows] == [0, 1, 0, 0]
    np.testing.assert_array_equal(_column(rows, "amount"), [80.0, np.nan, 80.0, 80.0])
    np.testing.assert_array_equal(_column(rows, "items"), [2.0, 0.0, 2.0, 2.0])
    np.testing.assert_array_equal(_column(rows, "online"), [1.0, 0.0, 1.0, 1.0])
    assert _column(rows, "country") == ["NL", "DE", "NL", "NL"]
    assert [r["model_version"] for r in rows] == [4, 4, 4, 4]
    window = RequestRowLedger(catalogue).drift_window(
        "toy", start=T0, end=T0 + timedelta(seconds=1)
    )
    assert window.rows == 4
    np.testing.assert_array_equal(window.columns["amount"].values, [80.0, 80.0, 80.0, np.nan])
    assert window.columns["country"] == CategoryCounts({"NL": 3, "DE": 1}, 0)
    stored = catalogue.backend.query("SELECT request_id, status_code FROM requests").to_pylist()
    assert sorted((r["request_id"], r["status_code"]) for r in stored) == sorted(
        zip(sent, [200, 200, 200, 400], strict=True)
    )


def _record(
    request_id: str,
    seconds: float,
    columns: dict[str, np.ndarray],
    predictions: list[Any] | None,
    *,
    version: int = 1,
    status: int = 200,
) -> RequestRecord:
    return RequestRecord(
        request_id,
        T0 + timedelta(seconds=seconds),
        version,
        status,
        1.0,
        "{}",
        "[]",
        columns=columns,
        predictions=predictions,
    )


def test_rows_read_back_as_columns_with_nan_none_and_outputs(catalogue: Catalogue) -> None:
    first = {
        "x": np.array([1.5, np.nan, -2.0]),
        "n": np.array([3, 4, 5]),
        "flag": np.array([True, False, True]),
        "city": np.array(["Oslo", None, "Rome"], dtype=object),
        "code": np.array(["a", "b", "c"]),
    }
    second = {key: values[:1].copy() for key, values in first.items()}
    records = [
        _record("r1", 0, first, [0.25, 0.5, 0.75]),  # scalar outputs
        _record("r2", 1, second, [[0.1, 0.9]]),  # a probability vector
        _record("r3", 2, first, None, status=500),  # failed: no rows
    ]
    DeploymentLedger(catalogue).log_requests("dep", records)
    rows = _stored(catalogue, "dep")
    assert {(tuple(r["numeric"]), tuple(r["categorical"])) for r in rows} == {
        (("x", "n", "flag"), ("city", "code"))
    }
    assert len(rows) == 4
    np.testing.assert_array_equal(_column(rows, "x"), [1.5, np.nan, -2.0, 1.5])
    assert _column(rows, "city") == ["Oslo", None, "Rome", "Oslo"]
    assert _column(rows, "code") == ["a", "b", "c", "a"]
    assert rows[-1]["ts"] == T0 + timedelta(seconds=1)
    window = RequestRowLedger(catalogue).drift_window(
        "dep", start=T0, end=T0 + timedelta(minutes=1)
    )
    assert (window.rows, window.skipped_rows) == (4, 0)
    assert list(window.columns) == ["x", "n", "flag", "city", "code"]
    n = window.columns["n"].values
    assert n.dtype == np.float64
    np.testing.assert_array_equal(n, [3.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(window.columns["x"].values, [-2.0, 1.5, 1.5, np.nan])
    assert window.columns["city"] == CategoryCounts({"Oslo": 2, "Rome": 1}, 1)
    outputs = catalogue.backend.query(
        "SELECT request_id, row_index, outputs FROM request_rows ORDER BY request_id, row_index"
    ).to_pylist()
    assert [row["outputs"] for row in outputs] == [[0.25], [0.5], [0.75], [0.1, 0.9]]


def test_outputs_that_are_not_numbers_are_null(catalogue: Catalogue) -> None:
    columns = {"x": np.array([1.0, 2.0])}
    records = [
        _record("labels", 0, columns, ["fraud", "ok"]),
        _record("ragged", 1, columns, [[0.1, 0.9], 3]),
        _record("short", 2, columns, [0.5]),  # one prediction for two rows: unknown per row
    ]
    DeploymentLedger(catalogue).log_requests("dep", records)
    stored = catalogue.backend.query(
        "SELECT request_id, outputs FROM request_rows ORDER BY request_id, row_index"
    ).to_pylist()
    assert [(r["request_id"], r["outputs"]) for r in stored] == [
        ("labels", None),
        ("labels", None),
        ("ragged", [0.1, 0.9]),
        ("ragged", [3.0]),
        ("short", None),
        ("short", None),
    ]


def test_many_requests_of_different_sizes_keep_every_value_in_place(catalogue: Catalogue) -> None:
    rng = np.random.default_rng(3)
    records: list[RequestRecord] = []
    expected_x: list[float] = []
    expected_word: list[str] = []
    expected_ids: list[str] = []
    for index, size in enumerate([1, 3, 1, 5, 2, 1, 4]):
        x = rng.normal(size=size)
        word = np.array([f"w{index}_{i}" for i in range(size)], dtype=object)
        records.append(_record(f"q{index}", index, {"x": x, "y": x * 2, "word": word}, list(x)))
        expected_x.extend(x)
        expected_word.extend(word)
        expected_ids.extend([f"q{index}"] * size)
    DeploymentLedger(catalogue).log_requests("dep", records)
    rows = _stored(catalogue, "dep", order="r.request_id, r.row_index")
    np.testing.assert_array_equal(_column(rows, "x"), expected_x)
    np.testing.assert_array_equal(_column(rows, "y"), np.array(expected_x) * 2)
    assert _column(rows, "word") == expected_word
    assert [r["request_id"] for r in rows] == expected_ids
    window = RequestRowLedger(catalogue).drift_window(
        "dep", start=T0, end=T0 + timedelta(minutes=1)
    )
    np.testing.assert_array_equal(window.columns["x"].values, np.sort(expected_x))
    assert window.columns["word"] == CategoryCounts(dict.fromkeys(expected_word, 1), 0)


def test_the_newest_layout_wins_and_older_rows_are_counted(catalogue: Catalogue) -> None:
    old = {"a": np.array([1.0, 2.0]), "b": np.array(["x", "y"])}
    new = {"a": np.array([3.0]), "c": np.array([7])}
    ledger = DeploymentLedger(catalogue)
    ledger.log_requests("dep", [_record("old", 0, old, [1, 2])])
    ledger.log_requests("dep", [_record("new", 5, new, [3])])
    rows = RequestRowLedger(catalogue)
    window = rows.drift_window("dep", start=T0, end=T0 + timedelta(minutes=1))
    assert (window.rows, window.skipped_rows) == (1, 2)
    assert list(window.columns) == ["a", "c"]
    np.testing.assert_array_equal(window.columns["c"].values, [7.0])
    earlier = rows.drift_window("dep", start=T0, end=T0 + timedelta(seconds=5))  # end excluded
    assert (earlier.rows, earlier.skipped_rows) == (2, 0)
    np.testing.assert_array_equal(earlier.columns["a"].values, [1.0, 2.0])
    assert earlier.columns["b"] == CategoryCounts({"x": 1, "y": 1}, 0)
    layouts = catalogue.backend.query("SELECT count(*) AS n FROM request_layouts").to_pylist()
    assert layouts == [{"n": 2}]


def test_window_bounds_versions_and_deployments(catalogue: Catalogue) -> None:
    def a(value: float) -> dict[str, np.ndarray]:
        return {"a": np.array([value])}

    ledger = DeploymentLedger(catalogue)
    ledger.log_requests(
        "dep",
        [
            _record("before", -1, a(-1.0), [0]),
            _record("start", 0, a(1.0), [0], version=1),
            _record("inside", 30, a(2.0), [0], version=2),
            _record("end", 60, a(3.0), [0]),
        ],
    )
    ledger.log_requests("other", [_record("elsewhere", 10, a(9.0), [0])])
    rows = RequestRowLedger(catalogue)
    window = rows.drift_window("dep", start=T0, end=T0 + timedelta(seconds=60))
    assert window.rows == 2
    np.testing.assert_array_equal(window.columns["a"].values, [1.0, 2.0])
    by_version = rows.drift_window("dep", start=T0, end=T0 + timedelta(seconds=60), model_version=2)
    np.testing.assert_array_equal(by_version.columns["a"].values, [2.0])
    empty = rows.drift_window("dep", start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=2))
    assert (empty.rows, empty.columns) == (0, {})
    assert rows.drift_window("nobody", start=T0, end=T0 + timedelta(hours=1)).rows == 0
