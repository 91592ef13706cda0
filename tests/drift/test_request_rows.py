"""Served requests as columns: the id goes back to the client, answered rows are stored as
list columns and a window reads back as numpy columns (real HTTP, real DuckDB file)."""

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
    window = RequestRowLedger(catalogue).window("toy", start=T0, end=T0 + timedelta(seconds=1))
    assert window.rows == 4
    assert list(window.request_ids) == [sent[0], sent[0], sent[1], sent[2]]
    assert list(window.row_index) == [0, 1, 0, 0]
    np.testing.assert_array_equal(window.numeric["amount"], [80.0, np.nan, 80.0, 80.0])
    np.testing.assert_array_equal(window.numeric["items"], [2.0, 0.0, 2.0, 2.0])
    np.testing.assert_array_equal(window.numeric["online"], [1.0, 0.0, 1.0, 1.0])
    assert list(window.categorical["country"]) == ["NL", "DE", "NL", "NL"]
    assert list(window.model_versions) == [4, 4, 4, 4]
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
    return RequestRecord(request_id, T0 + timedelta(seconds=seconds), version, status, 1.0,
                         "{}", "[]", columns=columns, predictions=predictions)  # fmt: skip


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
    window = RequestRowLedger(catalogue).window("dep", start=T0, end=T0 + timedelta(minutes=1))
    assert window.layout is not None
    assert window.layout.numeric == ("x", "n", "flag")
    assert window.layout.categorical == ("city", "code")
    assert window.rows == 4
    assert window.skipped_rows == 0
    np.testing.assert_array_equal(window.numeric["x"], [1.5, np.nan, -2.0, 1.5])
    assert window.numeric["n"].dtype == np.float64
    assert window.numeric["n"].flags["C_CONTIGUOUS"]
    assert list(window.categorical["city"]) == ["Oslo", None, "Rome", "Oslo"]
    assert list(window.categorical["code"]) == ["a", "b", "c", "a"]
    assert list(window.columns()) == ["x", "n", "flag", "city", "code"]
    assert window.ts[-1] == np.datetime64(T0 + timedelta(seconds=1))
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
        ("labels", None), ("labels", None), ("ragged", [0.1, 0.9]), ("ragged", [3.0]),
        ("short", None), ("short", None),
    ]  # fmt: skip


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
    window = RequestRowLedger(catalogue).window("dep", start=T0, end=T0 + timedelta(minutes=1))
    order = np.lexsort((window.row_index, window.request_ids.astype(str)))
    np.testing.assert_array_equal(window.numeric["x"][order], expected_x)
    np.testing.assert_array_equal(window.numeric["y"][order], np.array(expected_x) * 2)
    assert list(window.categorical["word"][order]) == expected_word
    assert list(window.request_ids[order]) == expected_ids


def test_the_newest_layout_wins_and_older_rows_are_counted(catalogue: Catalogue) -> None:
    old = {"a": np.array([1.0, 2.0]), "b": np.array(["x", "y"])}
    new = {"a": np.array([3.0]), "c": np.array([7])}
    ledger = DeploymentLedger(catalogue)
    ledger.log_requests("dep", [_record("old", 0, old, [1, 2])])
    ledger.log_requests("dep", [_record("new", 5, new, [3])])
    rows = RequestRowLedger(catalogue)
    window = rows.window("dep", start=T0, end=T0 + timedelta(minutes=1))
    assert window.layout is not None
    assert window.layout.numeric == ("a", "c")
    assert window.skipped_rows == 2
    assert list(window.numeric) == ["a", "c"]
    assert window.categorical == {}
    earlier = rows.window("dep", start=T0, end=T0 + timedelta(seconds=5))  # end is exclusive
    assert list(earlier.request_ids) == ["old", "old"]
    assert earlier.skipped_rows == 0
    assert list(earlier.categorical["b"]) == ["x", "y"]
    layouts = catalogue.backend.query("SELECT count(*) AS n FROM request_layouts").to_pylist()
    assert layouts == [{"n": 2}]


def test_window_bounds_versions_and_deployments(catalogue: Catalogue) -> None:
    columns = {"a": np.array([1.0])}
    ledger = DeploymentLedger(catalogue)
    ledger.log_requests(
        "dep",
        [
            _record("before", -1, columns, [0]),
            _record("start", 0, columns, [0], version=1),
            _record("inside", 30, columns, [0], version=2),
            _record("end", 60, columns, [0]),
        ],
    )
    ledger.log_requests("other", [_record("elsewhere", 10, columns, [0])])
    rows = RequestRowLedger(catalogue)
    window = rows.window("dep", start=T0, end=T0 + timedelta(seconds=60))
    assert sorted(window.request_ids) == ["inside", "start"]
    assert window.start == T0
    assert window.end == T0 + timedelta(seconds=60)
    by_version = rows.window("dep", start=T0, end=T0 + timedelta(seconds=60), model_version=2)
    assert list(by_version.request_ids) == ["inside"]
    empty = rows.window("dep", start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=2))
    assert empty.rows == 0
    assert empty.layout is None
    assert empty.columns() == {}
    assert rows.window("nobody", start=T0, end=T0 + timedelta(hours=1)).rows == 0
