"""Request bodies -> columns -> signature checks: every MLflow format, every refusal a 4xx."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from workbench.serving.errors import BadRequest, ScoringError, UnsupportedMediaType
from workbench.serving.payload import parse_body
from workbench.serving.signature import ColumnSpec, InputSchema

SIGNATURE = {
    "inputs": json.dumps(
        [
            {"type": "string", "name": "country", "required": True},
            {"type": "double", "name": "amount", "required": True},
            {"type": "long", "name": "hour", "required": True},
        ]
    )
}
SCHEMA = InputSchema.from_signature(SIGNATURE)
NAMES = SCHEMA.names
FRAME = pd.DataFrame({"country": ["US", "DE"], "amount": [12.5, 3.0], "hour": [1, 23]})


def _parse(document: object) -> dict[str, list[object]]:
    columns = SCHEMA.validate(parse_body(json.dumps(document).encode(), "application/json", NAMES))
    return {name: values.tolist() for name, values in columns.items()}


EXPECTED = {"country": ["US", "DE"], "amount": [12.5, 3.0], "hour": [1, 23]}


@pytest.mark.parametrize(
    "document",
    [
        {"dataframe_split": json.loads(FRAME.to_json(orient="split", index=False))},
        {"dataframe_records": FRAME.to_dict(orient="records")},
        {"instances": FRAME.to_dict(orient="records")},
        {"instances": FRAME.values.tolist()},
        {"inputs": FRAME.to_dict(orient="list")},
        {"inputs": FRAME.to_dict(orient="records")},
        {"dataframe_split": {"columns": ["hour", "amount", "country"],
                             "data": [[1, 12.5, "US"], [23, 3, "DE"]]}, "params": {}},
    ],
    ids=["split", "records", "instances", "instances-lists", "inputs-columns", "inputs-records", "reordered"],
)  # fmt: skip
def test_every_json_format_gives_the_same_columns(document: object) -> None:
    assert _parse(document) == EXPECTED


def test_csv_and_parquet_bodies() -> None:
    csv = FRAME.to_csv(index=False).encode()
    columns = SCHEMA.validate(parse_body(csv, "text/csv; charset=utf-8", NAMES))
    assert {k: v.tolist() for k, v in columns.items()} == EXPECTED
    buffer = io.BytesIO()
    FRAME.to_parquet(buffer, index=False)
    columns = SCHEMA.validate(
        parse_body(buffer.getvalue(), "application/vnd.apache.parquet", NAMES)
    )
    assert {k: v.tolist() for k, v in columns.items()} == EXPECTED
    assert columns["hour"].dtype == np.int64


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (b"", None, "empty body"),
        (b"{", None, "not valid JSON"),
        (b"[1, 2]", None, "JSON object"),
        (b"\xff\xfe", None, "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, None, "nested too deeply"),
        (b'{"foo": []}', None, "unknown key(s) foo"),
        (b'{"inputs": {}, "instances": []}', None, "exactly one of"),
        (b'{"dataframe_split": {"data": 3}}', "dataframe_split", "needs"),
        (b'{"dataframe_split": {"columns": ["a", "a"], "data": []}}', "columns", "duplicate"),
        (b'{"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}}', "data", "row 0"),
        (b'{"dataframe_records": []}', "dataframe_records", "non-empty"),
        (b'{"dataframe_records": [{"country": "US"}, {"amount": 1}]}', "dataframe_records", "row 1"),
        (b'{"instances": [[1]]}', "instances", "3 values"),
        (b'{"inputs": {"country": ["US"], "amount": [1.0, 2.0], "hour": [1]}}', "amount", "has 2 values, others 1"),
        (b'{"inputs": {"country": [["US"]], "amount": [1.0], "hour": [1]}}', "country", "one scalar"),
        (b'{"inputs": {"country": [{"a": 1}], "amount": [1.0], "hour": [1]}}', "country", "one scalar"),
        (b'{"inputs": {"country": [], "amount": [], "hour": []}}', None, "no rows"),
        (b'{"inputs": {"amount": [1.0], "hour": [1]}}', "country", "missing column"),
        (b'{"inputs": {"country": ["US"], "amount": [1.0], "hour": [1], "x": [0]}}', "x", "unexpected column"),
        (b'{"inputs": {"country": [1], "amount": [1.0], "hour": [1]}}', "country", "expected a string"),
        (b'{"inputs": {"country": ["US"], "amount": ["1.5"], "hour": [1]}}', "amount", "expected a number, got '1.5'"),
        (b'{"inputs": {"country": ["US"], "amount": [true], "hour": [1]}}', "amount", "expected a number"),
        (b'{"inputs": {"country": ["US"], "amount": [1.0], "hour": [1.5]}}', "hour", "expected an integer"),
        (b'{"inputs": {"country": ["US", "DE"], "amount": [1.0, NaN], "hour": [1, 2]}}', "amount", "row 1: missing"),
        (b'{"inputs": {"country": ["US"], "amount": [null], "hour": [1]}}', "amount", "row 0: missing"),
        (b'{"inputs": {"country": [null], "amount": [1.0], "hour": [1]}}', "country", "row 0: missing"),
        (b'{"inputs": {"country": ["US", "DE"], "amount": [1.0, Infinity], "hour": [1, 2]}}', "amount", "row 1: inf is not a finite number"),
        (b'{"inputs": {"country": ["US"], "amount": [-Infinity], "hour": [1]}}', "amount", "row 0: -inf is not a finite number"),
        (b'{"inputs": {"country": ["US"], "amount": [1e400], "hour": [1]}}', "amount", "row 0: inf is not a finite number"),
        (b'{"dataframe_split": {"columns": ["country", "amount", "hour"], "data": [["US", -1e999, 3]]}}', "amount", "not a finite number"),
        (b'{"dataframe_records": [{"country": "US", "amount": 2.0, "hour": 1e400}]}', "hour", "expected an integer, got inf"),
    ],
)  # fmt: skip
def test_bad_json_is_a_400_naming_the_field(body: bytes, field: str | None, words: str) -> None:
    with pytest.raises(BadRequest) as caught:
        SCHEMA.validate(parse_body(body, "application/json", NAMES))
    assert words in caught.value.message
    assert caught.value.field == field
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "content_type", ["", "text/plain", "application/xml", "multipart/form-data"]
)
def test_unsupported_content_type_is_415(content_type: str) -> None:
    with pytest.raises(UnsupportedMediaType, match="not supported") as caught:
        parse_body(b"{}", content_type, NAMES)
    assert caught.value.status == 415


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"", "text/csv"), (b"a,b\n1,2,3\n", "text/csv"), (b"PAR1garbage", "application/vnd.apache.parquet")],
)  # fmt: skip
def test_bad_csv_and_parquet_are_400(body: bytes, content_type: str) -> None:
    with pytest.raises(ScoringError) as caught:
        parse_body(body, content_type, NAMES)
    assert caught.value.status == 400


def test_no_signature_accepts_any_columns() -> None:
    schema = InputSchema.from_signature(None)
    columns = schema.validate(parse_body(b'{"inputs": {"z": [1, 2]}}', "application/json", []))
    assert columns["z"].tolist() == [1, 2]


def test_non_finite_numbers_in_csv_are_a_400() -> None:
    body = b"country,amount,hour\nUS,2.0,1\nDE,inf,2\n"
    with pytest.raises(BadRequest, match="row 1: inf is not a finite number") as caught:
        SCHEMA.validate(parse_body(body, "text/csv", NAMES))
    assert caught.value.field == "amount"


def test_a_number_past_float32s_range_is_a_400() -> None:
    schema = InputSchema((ColumnSpec("x", "float"),))
    with pytest.raises(BadRequest, match="row 0: 1e\\+39 is out of float range") as caught:
        schema.validate(parse_body(b'{"inputs": {"x": [1e39]}}', "application/json", ["x"]))
    assert caught.value.field == "x"
