"""The scoring app over real HTTP (uvicorn on 127.0.0.1) with a real fraud model."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests

from tests.fixtures.http import serve_in_thread
from tests.fixtures.models import holdout_rows, train_fraud_model
from workbench.core.deployments import RequestRecord
from workbench.serving.app import AppOptions, make_app
from workbench.serving.model import ServedModel
from workbench.serving.standalone import LocalScorer

pytestmark = pytest.mark.slow
TOKEN = "t0k3n-for-tests"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("fraud")
    return train_fraud_model(root), holdout_rows(root, 50)


@pytest.fixture(scope="module")
def model(trained: tuple[Path, pd.DataFrame]) -> ServedModel:
    return ServedModel.load(trained[0], {"name": "fraud", "version": 3})


@pytest.fixture(scope="module")
def url(model: ServedModel) -> Iterator[str]:
    with serve_in_thread(make_app(LocalScorer(model), AppOptions(max_body_bytes=200_000))) as base:
        yield base


def _post(
    url: str, body: Any, content_type: str = "application/json", **kw: Any
) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(
        f"{url}/invocations",
        data=data,
        headers={"content-type": content_type, **kw.pop("headers", {})},
        timeout=30,
        **kw,
    )


def test_predictions_equal_the_in_process_model(
    url: str, trained: tuple[Path, pd.DataFrame]
) -> None:
    import mlflow.pyfunc

    model_dir, rows = trained
    expected = np.asarray(mlflow.pyfunc.load_model(str(model_dir)).predict(rows))
    split = json.loads(rows.to_json(orient="split", index=False))
    response = _post(url, {"dataframe_split": split})
    assert response.status_code == 200, response.text
    assert response.headers["x-workbench-model-version"] == "3"
    np.testing.assert_allclose(np.asarray(response.json()["predictions"]), expected, rtol=1e-12)
    records = _post(url, {"dataframe_records": rows.to_dict(orient="records")}).json()
    assert records == response.json()
    csv = _post(url, rows.to_csv(index=False).encode(), "text/csv")
    np.testing.assert_allclose(np.asarray(csv.json()["predictions"]), expected, rtol=1e-12)
    buffer = io.BytesIO()
    rows.to_parquet(buffer, index=False)
    parquet = _post(url, buffer.getvalue(), "application/vnd.apache.parquet")
    np.testing.assert_allclose(np.asarray(parquet.json()["predictions"]), expected, rtol=1e-12)


def test_mlflow_scoring_client_works(url: str, trained: tuple[Path, pd.DataFrame]) -> None:
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    host, port = url.removeprefix("http://").split(":")
    client = ScoringServerClient(host, port)
    client.wait_server_ready(timeout=10)
    assert "fraud:3" in client.get_version()
    result = client.invoke(trained[1].head(4)).get_predictions()
    assert np.asarray(result).shape == (4, 2)


def test_health_version_metadata(url: str) -> None:
    assert requests.get(f"{url}/ping", timeout=5).status_code == 200
    assert requests.get(f"{url}/health", timeout=5).status_code == 200
    meta = requests.get(f"{url}/metadata", timeout=5).json()
    assert meta["name"] == "fraud"
    assert meta["version"] == 3
    assert meta["flavor"] == "sklearn"
    assert [c["name"] for c in meta["signature"]["inputs"]][:2] == ["merchant_category", "country"]


@pytest.mark.parametrize(
    ("send", "status", "words"),
    [
        (lambda u: _post(u, b"x" * 300_000), 413, "over the 200000-byte limit"),
        (lambda u: _post(u, b"{}", "text/xml"), 415, "not supported"),
        (lambda u: _post(u, {"inputs": {"amount": [1.0]}}), 400, "missing column"),
        (lambda u: requests.get(f"{u}/invocations", timeout=5), 405, "not allowed"),
        (lambda u: requests.get(f"{u}/nope", timeout=5), 404, "no route /nope"),
    ],
    ids=["413", "415", "400", "405", "404"],
)
def test_refusals_are_json_4xx(url: str, send: Any, status: int, words: str) -> None:
    response = send(url)
    assert response.status_code == status
    assert words in response.json()["message"]


@pytest.mark.parametrize("token", ["Infinity", "-Infinity", "1e400"])
def test_every_numeric_column_refuses_non_finite_numbers(
    url: str, model: ServedModel, trained: tuple[Path, pd.DataFrame], token: str
) -> None:
    row = trained[1].head(1).to_dict(orient="records")[0]
    numeric = [
        c.name for c in model.schema.columns if c.type in ("double", "float", "long", "integer")
    ]
    assert numeric  # the fraud model has numeric inputs: the loop below really runs
    for column in numeric:
        body = json.dumps({"dataframe_records": [{**row, column: 123456.789}]})
        response = _post(url, body.replace("123456.789", token).encode())
        assert response.status_code == 400, (column, token, response.text)
        assert response.json()["field"] == column


def test_token_required_when_configured(
    model: ServedModel, trained: tuple[Path, pd.DataFrame]
) -> None:
    body = {"dataframe_records": trained[1].head(1).to_dict(orient="records")}
    with serve_in_thread(make_app(LocalScorer(model), AppOptions(token=TOKEN))) as base:
        assert _post(base, body).status_code == 401
        assert _post(base, body, headers={"authorization": "Bearer wrong"}).status_code == 401
        assert requests.get(f"{base}/metadata", timeout=5).status_code == 401
        assert requests.get(f"{base}/ping", timeout=5).status_code == 200  # probes stay open
        ok = _post(base, body, headers={"authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200


def test_timeout_is_408_and_overload_is_503(
    model: ServedModel, trained: tuple[Path, pd.DataFrame]
) -> None:
    body = {"dataframe_records": trained[1].head(1).to_dict(orient="records")}
    with serve_in_thread(make_app(LocalScorer(model), AppOptions(timeout_s=1e-6))) as base:
        assert _post(base, body).status_code == 408
    with serve_in_thread(make_app(LocalScorer(model, max_pending=0), AppOptions())) as base:
        response = _post(base, body)
        assert response.status_code == 503
        assert "retry" in response.json()["message"]


def test_requests_reach_the_sink_with_status_and_latency(
    model: ServedModel, trained: tuple[Path, pd.DataFrame]
) -> None:
    seen: list[RequestRecord] = []
    body = {"dataframe_records": trained[1].head(2).to_dict(orient="records")}
    options = AppOptions(on_request=lambda record, shadow: seen.append(record))
    with serve_in_thread(make_app(LocalScorer(model), options)) as base:
        _post(base, body)
        _post(base, {"inputs": {}})
    assert [r.status_code for r in seen] == [200, 400]
    assert seen[0].model_version == 3
    assert json.loads(seen[0].inputs or "null")["country"] == list(trained[1]["country"].head(2))
    assert len(json.loads(seen[0].outputs or "null")) == 2
    assert all(r.latency_ms > 0 for r in seen)


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("evil.example:80", 403),  # a name rebound to 127.0.0.1 by someone else's DNS
        ("127.0.0.1.nip.io", 403),
        ("LOCALHOST:8000", 200),
        ("[::1]:8000", 200),
        ("models.internal:8000", 200),  # allowed by WORKBENCH_ALLOWED_HOSTS below
    ],
)
def test_a_foreign_host_header_is_refused(
    model: ServedModel,
    trained: tuple[Path, pd.DataFrame],
    host: str,
    status: int,
) -> None:
    from workbench.serving.hosts import allowed_hosts_from

    options = AppOptions(allowed_hosts=allowed_hosts_from({}, ("models.internal",)))
    body = {"dataframe_records": trained[1].head(1).to_dict(orient="records")}
    with serve_in_thread(make_app(LocalScorer(model), options)) as base:
        answered = _post(base, body, headers={"host": host})
        assert answered.status_code == status, answered.text
        if status == 403:
            assert answered.json()["error_code"] == "FORBIDDEN_HOST"
            assert (
                requests.get(f"{base}/ping", headers={"host": host}, timeout=5).status_code == 403
            )
        assert _post(base, body).status_code == 200  # the client's own 127.0.0.1:PORT
