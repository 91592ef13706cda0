"""Turn a request body (MLflow's JSON formats, CSV or Parquet) into columns.

The JSON formats are MLflow's: `dataframe_split`, `dataframe_records`, `instances` and
`inputs`. Parsing stays in plain Python and numpy: pandas only appears in the model call.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

from workbench.serving.errors import BadRequest, UnsupportedMediaType
from workbench.serving.signature import Columns

JSON_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet")
SUPPORTED = "application/json, text/csv or application/vnd.apache.parquet"


def parse_body(body: bytes, content_type: str, names: list[str]) -> Columns:
    """Columns of equal length from `body`; `names` (the signature's) orders positional rows."""
    media = content_type.split(";", 1)[0].strip().lower()
    columns: dict[str, Any]
    if media == "application/json":
        columns = _from_json(_load_json(body), names)
    elif media == "text/csv":
        columns = _from_arrow(_read_csv(body))
    elif media in PARQUET_TYPES:
        columns = _from_arrow(_read_parquet(body))
    else:
        shown = media or "none"
        raise UnsupportedMediaType(f"content type {shown!r} is not supported; send {SUPPORTED}")
    return _checked_lengths(columns)


def _load_json(body: bytes) -> Any:
    if not body.strip():
        raise BadRequest('empty body; send a JSON object such as {"dataframe_split": ...}')
    try:
        return json.loads(body)
    except RecursionError:
        raise BadRequest("JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"body is not valid JSON: {error}") from None


def _from_json(document: Any, names: list[str]) -> dict[str, list[Any]]:
    if not isinstance(document, dict):
        raise BadRequest(f"the body must be a JSON object with one of: {', '.join(JSON_KEYS)}")
    present = [key for key in JSON_KEYS if key in document]
    if len(present) != 1:
        unknown = sorted(set(document) - set(JSON_KEYS) - {"params"})
        why = f"unknown key(s) {', '.join(unknown)}; " if unknown and not present else ""
        raise BadRequest(f"{why}the body must have exactly one of: {', '.join(JSON_KEYS)}")
    key = present[0]
    value = document[key]
    if key == "dataframe_split":
        return _from_split(value)
    if key == "inputs" and isinstance(value, dict):
        return _from_mapping(value)
    return _from_rows(value, key, names)


def _from_split(value: Any) -> dict[str, list[Any]]:
    if not isinstance(value, dict) or not isinstance(value.get("data"), list):
        raise BadRequest("dataframe_split needs {\"columns\": [...], \"data\": [[...], ...]}",
                         field="dataframe_split")  # fmt: skip
    columns, data = value.get("columns"), value["data"]
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise BadRequest("dataframe_split.columns must be a list of names", field="columns")
    if len(set(columns)) != len(columns):
        raise BadRequest("dataframe_split.columns has duplicate names", field="columns")
    for row, values in enumerate(data):
        if not isinstance(values, list) or len(values) != len(columns):
            raise BadRequest(
                f"dataframe_split.data row {row} must be a list of {len(columns)} values",
                field="data",
            )
    return {name: [values[i] for values in data] for i, name in enumerate(columns)}


def _from_mapping(value: dict[str, Any]) -> dict[str, list[Any]]:
    return {name: v if isinstance(v, list) else [v] for name, v in value.items()}


def _from_rows(value: Any, key: str, names: list[str]) -> dict[str, list[Any]]:
    if not isinstance(value, list) or not value:
        raise BadRequest(f"{key} must be a non-empty list of rows", field=key)
    first = value[0]
    if isinstance(first, dict):
        keys = list(first)
        wanted = set(keys)
        for row, record in enumerate(value):
            if not isinstance(record, dict) or set(record) != wanted:
                raise BadRequest(f"{key} row {row} does not have the columns of row 0: "
                                 f"{', '.join(keys)}", field=key)  # fmt: skip
        return {name: [record[name] for record in value] for name in keys}
    if isinstance(first, list) and names:
        for row, values in enumerate(value):
            if not isinstance(values, list) or len(values) != len(names):
                raise BadRequest(f"{key} row {row} must have {len(names)} values "
                                 f"({', '.join(names)})", field=key)  # fmt: skip
        return {name: [values[i] for values in value] for i, name in enumerate(names)}
    raise BadRequest(f"{key} must be a list of records ({{column: value}})", field=key)


def _checked_lengths(raw: dict[str, Any]) -> Columns:
    if not raw:
        raise BadRequest("no columns in the request")
    columns: Columns = {}
    length = None
    for name, values in raw.items():
        array = values if isinstance(values, np.ndarray) else _array(name, values)
        if array.ndim != 1:
            raise BadRequest(f"column {name!r} must hold one scalar per row", field=name)
        if length is None:
            length = len(array)
        elif len(array) != length:
            raise BadRequest(f"column {name!r} has {len(array)} values, others {length}",
                             field=name)  # fmt: skip
        columns[name] = array
    if not length:
        raise BadRequest("the request has no rows")
    return columns


def _array(name: str, values: list[Any]) -> np.ndarray:
    if any(isinstance(v, list | dict) for v in values):
        raise BadRequest(f"column {name!r} must hold one scalar per row", field=name)
    try:
        return np.asarray(values)
    except (ValueError, TypeError, OverflowError) as error:
        raise BadRequest(f"column {name!r}: {error}", field=name) from None


def _read_csv(body: bytes) -> Any:
    import pyarrow as pa  # deferred: only CSV and Parquet bodies need Arrow
    import pyarrow.csv as pacsv

    if not body.strip():
        raise BadRequest("empty CSV body; send a header row and at least one row")
    try:
        return pacsv.read_csv(io.BytesIO(body))
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError) as error:
        raise BadRequest(f"body is not valid CSV: {str(error).splitlines()[0]}") from None


def _read_parquet(body: bytes) -> Any:
    import pyarrow as pa  # deferred: only CSV and Parquet bodies need Arrow
    import pyarrow.parquet as pq

    try:
        return pq.read_table(io.BytesIO(body))
    except (pa.ArrowException, OSError, ValueError) as error:
        raise BadRequest(f"body is not a valid Parquet file: {str(error)[:200]}") from None


def _from_arrow(table: Any) -> dict[str, np.ndarray]:
    columns: dict[str, np.ndarray] = {}
    for name in table.column_names:
        column = table.column(name)
        if column.null_count:
            values = column.to_pylist()
            columns[name] = np.asarray(values, dtype=object)
        else:
            array = column.to_numpy()
            columns[name] = array.astype(str) if array.dtype == object else array
    return columns
