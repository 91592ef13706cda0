"""`workbench feedback` and `workbench quality` end to end on a real catalogue file: labels
join served rows all or nothing, and quality per bucket and version equals scikit-learn's."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn import metrics

from tests.fixtures.settings import outside_ray
from workbench.catalogue.catalogue import utcnow
from workbench.catalogue.deployments import DeploymentLedger
from workbench.cli.main import cli
from workbench.core.deployments import DeploymentSpec, RequestRecord, VersionEntry
from workbench.owner import open_catalogue

HOURS = 3
PER_HOUR = 40


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _served(home: Path, rng: np.random.Generator) -> pd.DataFrame:
    """Deployment `fraud` answered PER_HOUR two-row requests in each of the last HOURS hours
    (v1 in the oldest hour, v2 after); returns every served row with its true label."""
    now = utcnow()
    records, truth = [], []
    for hour in range(HOURS):
        for index in range(PER_HOUR):
            ts = now - timedelta(hours=HOURS - hour) + timedelta(seconds=30 + index * 60)
            labels = rng.integers(0, 2, 2)
            positive = np.clip(labels * 0.4 + rng.random(2) * 0.6, 0, 1)
            request_id = f"h{hour}-{index}"
            version = 1 if hour == 0 else 2
            columns = {"amount": rng.normal(size=2), "country": np.array(["NL", "DE"])}
            records.append(RequestRecord(request_id, ts, version, 200, 1.0, "{}", "[]",
                                         columns=columns,
                                         predictions=np.column_stack([1 - positive, positive])
                                         .tolist()))  # fmt: skip
            for row in range(2):
                truth.append((request_id, row, float(labels[row]), positive[row], version, hour))
    spec = DeploymentSpec(name="fraud", home=str(home), route_prefix="/fraud",
                          url="http://127.0.0.1:8000/fraud",
                          versions=(VersionEntry("fraud", 2, str(home / "model")),))  # fmt: skip
    with open_catalogue(outside_ray(home)) as catalogue:
        deployments = DeploymentLedger(catalogue)
        deployments.record(spec, "running", action="deployment.create", reason="test")
        deployments.log_requests("fraud", records)
        catalogue.backend.sync()
    return pd.DataFrame(
        truth, columns=["request_id", "row_index", "label", "score", "version", "hour"]
    )


def _feedback_rows(home: Path) -> list[dict[str, Any]]:
    with open_catalogue(outside_ray(home)) as catalogue:
        return catalogue.backend.query(
            "SELECT request_id, row_index, label FROM feedback ORDER BY request_id, row_index"
        ).to_pylist()


def test_labels_join_served_rows_and_a_label_sent_again_replaces_the_old(
    runner: CliRunner, home: Path, tmp_path: Path
) -> None:
    served = _served(home, np.random.default_rng(1))
    first = served.iloc[:50][["request_id", "row_index", "label"]]
    path = tmp_path / "labels.csv"
    first.to_csv(path, index=False)
    result = runner.invoke(cli, ["feedback", "fraud", "--labels", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"deployment": "fraud", "file": str(path),
                                         "labels": 50, "replaced": 0}  # fmt: skip
    assert len(_feedback_rows(home)) == 50

    again = served.iloc[40:60][["request_id", "row_index", "label"]].copy()
    again["label"] = 1 - again["label"]
    parquet = tmp_path / "fixes.parquet"
    again.to_parquet(parquet, index=False)
    result = runner.invoke(cli, ["feedback", "fraud", "--labels", str(parquet)])
    assert result.exit_code == 0, result.output
    assert "20 labels joined" in result.stdout
    assert "10 replaced" in result.stdout
    stored = {(r["request_id"], r["row_index"]): r["label"] for r in _feedback_rows(home)}
    assert len(stored) == 60
    assert stored[(again.iloc[0]["request_id"], int(again.iloc[0]["row_index"]))] == float(
        again.iloc[0]["label"]
    )


def test_row_index_defaults_to_the_first_row(runner: CliRunner, home: Path, tmp_path: Path) -> None:
    _served(home, np.random.default_rng(2))
    path = tmp_path / "labels.csv"
    path.write_text("request_id,label\nh0-1,1\nh2-3,0\n")
    result = runner.invoke(cli, ["feedback", "fraud", "--labels", str(path)])
    assert result.exit_code == 0, result.output
    assert _feedback_rows(home) == [
        {"request_id": "h0-1", "row_index": 0, "label": 1.0},
        {"request_id": "h2-3", "row_index": 0, "label": 0.0},
    ]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("id,label\nh0-1,1\n", "no column request_id"),
        (
            "request_id,label\nh0-1,yes\nh0-2,1\nh0-3,maybe\n",
            "2 labels are not numbers: h0-1, h0-3",
        ),
        ("request_id,label\nh0-1,1\nh0-2,\n", "1 labels are not numbers: h0-2"),
        ("request_id,row_index,label\nh0-1,0,1\nh0-2,1,0\nh0-1,0,0\n", "1 rows repeat"),
        ("request_id,label\nh0-1,1\nnope-1,0\nnope-2,1\n", "2 of 4 labels name rows fraud never"),
        ("request_id,row_index,label\nh0-1,2,1\n", "h0-1#2"),  # the request had two rows
        ("request_id,row_index,label\nh0-1,-1,1\n", "not whole numbers"),
        ("request_id,label\n", "holds no labels"),
    ],
    ids=[
        "missing-column",
        "text-labels",
        "empty-label",
        "duplicate",
        "unknown-ids",
        "unknown-row",
        "negative-row",
        "empty-file",
    ],  # fmt: skip
)
def test_bad_label_files_store_nothing(
    runner: CliRunner, home: Path, tmp_path: Path, text: str, words: str
) -> None:
    _served(home, np.random.default_rng(3))
    keep = tmp_path / "keep.csv"
    keep.write_text("request_id,label\nh1-1,1\n")
    assert runner.invoke(cli, ["feedback", "fraud", "--labels", str(keep)]).exit_code == 0
    before = _feedback_rows(home)
    path = tmp_path / "labels.csv"
    path.write_text(text.replace("h0-1,1\n", "h0-1,1\nh1-1,0\n", 1))  # would change a label
    result = runner.invoke(cli, ["feedback", "fraud", "--labels", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: ")
    assert words in lines[0]
    assert lines[1].startswith("hint: ")
    assert len(lines) == 2
    assert _feedback_rows(home) == before


def test_unknown_deployment_and_file(runner: CliRunner, home: Path, tmp_path: Path) -> None:
    _served(home, np.random.default_rng(4))
    path = tmp_path / "labels.csv"
    path.write_text("request_id,label\nh0-1,1\n")
    missing = runner.invoke(cli, ["feedback", "nobody", "--labels", str(path)])
    assert missing.exit_code == 2
    assert "no deployment 'nobody'" in missing.stderr
    no_file = runner.invoke(cli, ["feedback", "fraud", "--labels", str(tmp_path / "x.csv")])
    assert no_file.exit_code == 2
    assert "no label file" in no_file.stderr
    text = tmp_path / "labels.txt"
    text.write_text("request_id,label\n")
    wrong = runner.invoke(cli, ["feedback", "fraud", "--labels", str(text)])
    assert wrong.exit_code == 2
    assert ".csv or .parquet" in wrong.stderr


def test_quality_per_hour_and_version_equals_sklearn(
    runner: CliRunner, home: Path, tmp_path: Path
) -> None:
    served = _served(home, np.random.default_rng(5))
    labelled = served[served["request_id"].str.endswith(("0", "2", "4", "6", "8"))]
    path = tmp_path / "labels.parquet"
    labelled[["request_id", "row_index", "label"]].to_parquet(path, index=False)
    assert runner.invoke(cli, ["feedback", "fraud", "--labels", str(path)]).exit_code == 0

    result = runner.invoke(cli, ["quality", "fraud", "--since", "4h", "--every", "1h", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["kind"] == "classifier"
    buckets = report["buckets"]
    assert [b["rows"] for b in buckets] == [0, *(len(labelled) // HOURS,) * HOURS]
    assert buckets[0]["model_version"] is None  # the hour before any traffic: no data
    assert [b["model_version"] for b in buckets[1:]] == [1, 2, 2]
    for bucket, hour in zip(buckets[1:], range(HOURS), strict=True):
        rows = labelled[labelled["hour"] == hour]
        predicted = (rows["score"] >= 0.5).astype(int)
        assert bucket["auc"] == pytest.approx(metrics.roc_auc_score(rows["label"], rows["score"]),
                                              abs=1e-9)  # fmt: skip
        assert bucket["accuracy"] == pytest.approx(
            metrics.accuracy_score(rows["label"], predicted), abs=1e-9
        )
        assert bucket["precision"] == pytest.approx(
            metrics.precision_score(rows["label"], predicted), abs=1e-9
        )
        assert bucket["recall"] == pytest.approx(
            metrics.recall_score(rows["label"], predicted), abs=1e-9
        )
    assert report["total"]["rows"] == len(labelled)
    assert report["total"]["auc"] == pytest.approx(
        metrics.roc_auc_score(labelled["label"], labelled["score"]), abs=1e-9
    )

    table = runner.invoke(cli, ["quality", "fraud", "--since", "4h", "--every", "1h"])
    assert table.exit_code == 0, table.output
    assert "no data" in table.stdout
    assert "AUC" in table.stdout
    assert "v2" in table.stdout


def test_quality_without_labels_and_bad_durations(runner: CliRunner, home: Path) -> None:
    _served(home, np.random.default_rng(6))
    result = runner.invoke(cli, ["quality", "fraud", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["total"]["rows"] == 0
    assert len(report["buckets"]) == 24
    for args, words in [
        (["--every", "soon"], "--every 'soon' is not a duration"),
        (["--since", "0h"], "--since '0h' must be more than zero"),
        (["--since", "30d", "--every", "1s"], "at most 1000"),
    ]:
        bad = runner.invoke(cli, ["quality", "fraud", *args])
        assert bad.exit_code == 2, bad.output
        assert words in bad.stderr
    assert runner.invoke(cli, ["quality", "nobody"]).exit_code == 2


def test_help_teaches(runner: CliRunner) -> None:
    for command in ("feedback", "quality"):
        result = runner.invoke(cli, [command, "--help"])
        assert result.exit_code == 0
        assert "Examples" in result.stdout
