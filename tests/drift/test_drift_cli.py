"""`workbench drift check|ls|show|profile` on a real catalogue file: two files compared and
kept, a model version's stored profile checked and alerting, and bad input as one line
(exit 2) with nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner
from pyarrow import csv, parquet

from tests.fixtures.settings import outside_ray
from workbench.catalogue.drift import DriftLedger
from workbench.catalogue.models import ModelLedger
from workbench.cli.main import cli
from workbench.core.drift.check import DriftReport, Reference, compare
from workbench.core.drift.config import DriftConfig
from workbench.core.drift.profile import CategoryCounts, build_profile
from workbench.owner import open_catalogue
from workbench.services.drift import show_check
from workbench.services.drift_data import read_columns

SIGNATURE = {
    "inputs": [
        {"name": "age", "type": "double"},
        {"name": "city", "type": "string"},
        {"name": "visits", "type": "long"},
    ]
}


def _table(seed: int, rows: int, *, shift: float = 0.0) -> pa.Table:
    rng = np.random.default_rng(seed)
    cities = ["lyon", "nice", "paris"] if not shift else ["nice", "paris", "rome"]
    return pa.table(
        {
            "age": rng.normal(40.0 + shift, 10.0, size=rows),
            "city": rng.choice(cities, p=[0.3, 0.2, 0.5], size=rows),
            "visits": rng.poisson(3.0 + shift / 5, size=rows),
        }
    )


@pytest.fixture
def data(tmp_path: Path) -> dict[str, Path]:
    """train.parquet (with a label), the same distribution as CSV and Parquet (with an extra
    column), and a drifted CSV."""
    paths = {
        name: tmp_path / name
        for name in ("train.parquet", "same.csv", "same.parquet", "drifted.csv")
    }
    train = _table(1, 3000)
    parquet.write_table(
        train.append_column("label", pa.array(np.arange(3000) % 2)), paths["train.parquet"]
    )
    same = _table(2, 600).append_column("request_id", pa.array(np.arange(600)))
    csv.write_csv(same, paths["same.csv"])
    parquet.write_table(same, paths["same.parquet"])
    csv.write_csv(_table(3, 600, shift=10.0), paths["drifted.csv"])
    return paths


def _invoke(*args: Any) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def _json(*args: Any) -> Any:
    code, out, err = _invoke(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def _check_count(home: Path) -> int:
    with open_catalogue(outside_ray(home)) as catalogue:
        return len(DriftLedger(catalogue).checks(limit=10_000))


def _expected(reference: Path, current: Path) -> DriftReport:
    """The same check computed here, from the same files, with nothing stored."""
    built = Reference.from_columns(read_columns(reference, "--reference"))
    return compare(built, read_columns(current, "--current"), DriftConfig())


@pytest.mark.parametrize("current", ["same.csv", "same.parquet"])
def test_check_two_files_prints_json_and_keeps_the_check(
    home: Path, data: dict[str, Path], current: str
) -> None:
    shown = _json(
        "drift", "check", "--reference", data["train.parquet"], "--current", data[current]
    )
    assert shown["model"] is None
    assert shown["source"] == f"{data['train.parquet']} vs {data[current]}"
    assert (shown["status"], shown["drifted"]) == ("ok", False)
    assert (shown["reference_rows"], shown["current_rows"]) == (3000, 600)
    assert shown["ignored_columns"] == ["request_id"]
    features = {f["feature"]: f for f in shown["features"]}
    assert list(features) == ["age", "city", "visits", "label"]
    assert features["label"]["status"] == "error"
    assert features["label"]["message"] == "not in the current data"
    assert features["age"]["method"] == "ks"
    assert features["city"]["method"] == "chisquare"
    assert set(features["age"]["statistics"]) == {
        "ks",
        "wasserstein",
        "psi",
        "jensenshannon",
        "chisquare",
    }
    assert set(features["city"]["statistics"]) == {"chisquare", "psi", "jensenshannon"}
    expected = _expected(data["train.parquet"], data[current])
    assert [f["status"] for f in shown["features"]] == [f.status for f in expected.features]
    assert shown["share"] == pytest.approx(expected.share)

    (listed,) = _json("drift", "ls")
    assert listed["check_id"] == shown["check_id"]
    assert (listed["status"], listed["current_rows"]) == ("ok", 600)
    assert listed["drifted_features"] == shown["drifted_features"]

    again = _json("drift", "show", shown["check_id"][:6])
    assert again["check_id"] == shown["check_id"]
    assert again["features"] == shown["features"]
    assert again["ignored_columns"] == ["request_id"]
    stored = show_check(outside_ray(home), shown["check_id"][:6])
    for found, computed in zip(stored.report.features, expected.features, strict=True):
        assert found.histogram == computed.histogram, found.feature
    assert stored.report.features[0].histogram is not None
    assert len(stored.report.features[0].histogram.labels) == 10  # the reference's deciles

    code, out, _ = _invoke("drift", "show", shown["check_id"])
    assert code == 0
    assert "not in the reference, ignored: request_id" in out


def test_check_table_output_lists_every_feature(home: Path, data: dict[str, Path]) -> None:
    code, out, err = _invoke(
        "drift", "check", "--reference", data["train.parquet"], "--current", data["drifted.csv"]
    )
    assert code == 0, err
    assert "drift check " in out
    for name in ("age", "city", "visits", "label"):
        assert name in out
    assert "3 of 3 features drifted (100%" in out  # label is an error: no verdict
    code, out, _ = _invoke("drift", "ls")
    assert code == 0
    assert "age, city, visits" in out


def test_fail_on_drift_exits_1_on_drift_and_0_without(home: Path, data: dict[str, Path]) -> None:
    code, out, _ = _invoke(
        "drift",
        "check",
        "--reference",
        data["train.parquet"],
        "--current",
        data["drifted.csv"],
        "--fail-on-drift",
        "--json",
    )
    assert code == 1
    shown = json.loads(out)
    assert shown["drifted"] is True
    assert shown["drifted_features"] == ["age", "city", "visits"]
    code, _, _ = _invoke(
        "drift",
        "check",
        "--reference",
        data["train.parquet"],
        "--current",
        data["same.csv"],
        "--fail-on-drift",
    )
    assert code == 0
    assert _check_count(home) == 2  # a drifted check is kept like any other


def test_methods_thresholds_and_share_reach_the_check(home: Path, data: dict[str, Path]) -> None:
    shown = _json(
        "drift",
        "check",
        "--reference",
        data["train.parquet"],
        "--current",
        data["same.csv"],
        "--numeric-method",
        "wasserstein",
        "--categorical-method",
        "psi",
        "--threshold",
        "wasserstein=0.5",
        "--threshold",
        "psi=0.3",
        "--drift-share",
        "0.25",
        "--feature",
        "age",
        "--feature",
        "city",
    )
    assert [f["feature"] for f in shown["features"]] == ["age", "city"]
    age, city = shown["features"]
    assert (age["method"], age["statistics"]["wasserstein"]["threshold"]) == ("wasserstein", 0.5)
    assert (city["method"], city["statistics"]["psi"]["threshold"]) == ("psi", 0.3)
    assert shown["drift_share"] == 0.25
    assert shown["ignored_columns"] == ["request_id"]  # not visits: it was not asked for
    assert shown["current_rows"] == 600


def test_empty_and_blank_current_files_are_insufficient_data(
    home: Path, data: dict[str, Path], tmp_path: Path
) -> None:
    header_only = tmp_path / "header.csv"
    header_only.write_text("age,city,visits\n")
    blank_age = tmp_path / "blank_age.csv"  # an empty numeric column: Arrow reads null type
    rows = _table(4, 200)
    csv.write_csv(rows.set_column(0, "age", pa.nulls(200, pa.string())), blank_age)
    shown = _json("drift", "check", "--reference", data["train.parquet"], "--current", header_only)
    statuses = {f["feature"]: f["status"] for f in shown["features"]}
    assert statuses == {
        "age": "insufficient_data",
        "city": "insufficient_data",
        "visits": "insufficient_data",
        "label": "error",
    }
    assert shown["status"] == "insufficient_data"
    shown = _json("drift", "check", "--reference", data["train.parquet"], "--current", blank_age)
    age = shown["features"][0]
    assert (age["feature"], age["status"], age["current_missing"]) == (
        "age",
        "insufficient_data",
        1.0,
    )
    assert [f["status"] for f in shown["features"][1:3]] == ["ok", "ok"]


def _assert_one_line_error(code: int, out: str, err: str, words: str) -> None:
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert lines[0].startswith("error: ")
    assert words in lines[0]
    assert len(lines) <= 2  # the error and at most a hint
    assert "Traceback" not in err + out
    assert "internal error" not in err


FILES = ["--reference", "{train}", "--current", "{same}"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--reference", "{missing}", "--current", "{same}"], "no such file"),
        (["--reference", "{train}", "--current", "{notes}"], "not a .csv or .parquet"),
        (["--reference", "{train}", "--current", "{garbage}"], "cannot be read"),
        (["--reference", "{train}", "--current", "{other}"], "none of the reference"),
        ([*FILES, "--threshold", "ks=2"], "must be in (0, 1), got 2"),
        ([*FILES, "--threshold", "psi=-1"], "must be above 0"),
        ([*FILES, "--threshold", "x=0.1"], "unknown drift method"),
        ([*FILES, "--threshold", "0.1"], "needs --numeric-method"),
        ([*FILES, "--drift-share", "0"], "drift share must be in (0, 1]"),
        ([*FILES, "--drift-share", "1.5"], "drift share must be in (0, 1]"),
        ([*FILES, "--feature", "age", "--feature", "request_id"], "no feature 'request_id'"),
        (["--reference", "{train}"], "give --current FILE"),
        ([], "name a model"),
    ],
)
def test_bad_check_input_is_one_line_exit_2_and_nothing_written(
    home: Path, data: dict[str, Path], tmp_path: Path, args: list[str], words: str
) -> None:
    paths = {
        "train": data["train.parquet"],
        "same": data["same.csv"],
        "missing": tmp_path / "nope.csv",
        "notes": tmp_path / "notes.txt",
        "garbage": tmp_path / "garbage.parquet",
        "other": tmp_path / "other.csv",
    }
    paths["notes"].write_text("age\n1\n")
    paths["garbage"].write_text("not parquet")
    paths["other"].write_text("a,b\n1,2\n")
    before = _check_count(home)
    code, out, err = _invoke("drift", "check", *(a.format(**paths) for a in args))
    _assert_one_line_error(code, out, err, words)
    assert _check_count(home) == before


def test_unknown_or_ambiguous_check_id_is_exit_2(home: Path, data: dict[str, Path]) -> None:
    for _ in range(2):
        _json("drift", "check", "--reference", data["train.parquet"], "--current", data["same.csv"])
    code, out, err = _invoke("drift", "show", "zzzz")
    _assert_one_line_error(code, out, err, "no drift check matching 'zzzz'")
    code, out, err = _invoke("drift", "show", "")
    _assert_one_line_error(code, out, err, "2 drift checks matching ''")


def test_a_stored_profile_checks_as_the_profile_it_was(home: Path) -> None:
    """Edge features survive the catalogue: all-NaN, constant, infinite values, bools, text,
    text all null; a check against the stored profile equals one against the original."""
    rng = np.random.default_rng(8)
    reference = {
        "all_nan": np.full(300, np.nan),
        "constant": np.full(300, 2.5),
        "with_inf": np.append(rng.normal(size=290), [np.inf] * 10),
        "flag": rng.random(300) < 0.3,
        "city": rng.choice(["lyon", "nice"], size=300).astype(object),
        "no_city": CategoryCounts({}, 300),
    }
    current = {
        "all_nan": rng.normal(size=100),
        "constant": np.full(100, 2.5),
        "with_inf": rng.normal(0.5, size=100),
        "flag": rng.random(100) < 0.3,
        "city": rng.choice(["lyon", "rome"], size=100).astype(object),
        "no_city": np.full(100, "lyon", dtype=object),
    }
    profile = build_profile(reference)
    with open_catalogue(outside_ray(home)) as catalogue:
        ledger = DriftLedger(catalogue)
        ledger.save_profile(profile, source="memory", model_name="m", model_version=1)
        stored = ledger.profile_for("m", 1)
    assert stored is not None
    assert stored.profile.rows == profile.rows == 300
    original = compare(Reference(profile), current, DriftConfig())
    assert compare(Reference(stored.profile), current, DriftConfig()) == original
    assert [f.status for f in original.features] == [
        "insufficient_data",
        "ok",
        "drift",
        "ok",
        "drift",
        "insufficient_data",
    ]


# -- a model version's reference profile ------------------------------------------------------


@pytest.fixture
def fraud(home: Path) -> ModelLedger:
    """fraud v1 and v2, registered with a signature naming age, city and visits."""
    with open_catalogue(outside_ray(home)) as catalogue:
        models = ModelLedger(catalogue)
        for _ in range(2):
            run_id = catalogue.create_run("fraud")
            models.register(
                "fraud",
                run_id=run_id,
                uri="/nowhere",
                sha256="x" * 64,
                flavor="sklearn",
                signature=SIGNATURE,
                gate={"passed": True},
            )
    return models


def _alerts(home: Path) -> tuple[bool, list[Any]]:
    with open_catalogue(outside_ray(home)) as catalogue:
        models = ModelLedger(catalogue)
        events = [e for e in models.audit_events(100) if e.action == "drift.alert"]
        return models.open_drift_alert("fraud", 1), events


def test_profile_then_check_a_model_version(
    home: Path, data: dict[str, Path], fraud: ModelLedger
) -> None:
    code, out, err = _invoke("drift", "profile", "fraud:1", "--data", data["train.parquet"])
    assert code == 0, err
    assert "profiled fraud:1" in out
    with open_catalogue(outside_ray(home)) as catalogue:
        stored = DriftLedger(catalogue).profile_for("fraud", 1)
    assert stored is not None
    assert stored.profile.names() == ["age", "city", "visits"]  # the signature's inputs only

    shown = _json("drift", "check", "fraud:1", "--current", data["same.csv"])
    assert (shown["model"], shown["source"], shown["status"]) == (
        "fraud:1",
        str(data["same.csv"]),
        "ok",
    )
    train = read_columns(data["train.parquet"], "--data")
    expected = compare(
        Reference(build_profile({k: train[k] for k in ("age", "city", "visits")})),
        read_columns(data["same.csv"], "--current"),
        DriftConfig(),
    )
    for found, computed in zip(shown["features"], expected.features, strict=True):
        assert found == computed.to_json()  # the profile came back from the catalogue intact
    (listed,) = _json("drift", "ls", "--model", "fraud")
    assert (listed["model_name"], listed["model_version"]) == ("fraud", 1)
    assert _json("drift", "ls", "--model", "other") == []
    assert _alerts(home) == (False, [])

    code, out, _ = _invoke(
        "drift", "check", "fraud:1", "--current", data["drifted.csv"], "--fail-on-drift", "--json"
    )
    assert code == 1
    drifted = json.loads(out)
    open_alert, events = _alerts(home)
    assert open_alert
    (event,) = events
    assert event.target == "model/fraud:1"
    assert event.details["check_id"] == drifted["check_id"]
    assert event.details["features"] == ["age", "city", "visits"]

    _json("drift", "check", "fraud:1", "--current", data["same.parquet"])
    assert _alerts(home)[0] is False  # the newest check decides: the alert closed
    assert _check_count(home) == 3


def test_model_check_errors_write_nothing(
    home: Path, data: dict[str, Path], fraud: ModelLedger, tmp_path: Path
) -> None:
    code, out, err = _invoke("drift", "check", "fraud:2", "--current", data["same.csv"])
    _assert_one_line_error(code, out, err, "fraud:2 has no reference profile")
    assert "drift profile" in err  # the hint says how to make one
    lacking = tmp_path / "lacking.csv"
    csv.write_csv(_table(5, 100).drop_columns(["city"]), lacking)
    code, out, err = _invoke("drift", "profile", "fraud:2", "--data", lacking)
    _assert_one_line_error(code, out, err, "lacks the model's inputs: city")
    with open_catalogue(outside_ray(home)) as catalogue:
        assert DriftLedger(catalogue).profile_for("fraud", 2) is None

    _invoke("drift", "profile", "fraud:1", "--data", data["train.parquet"])
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    for args in (
        ["fraud:1", "--current", other],
        ["fraud:1", "--current", tmp_path / "nope.parquet"],
        ["fraud:1", "--current", data["same.csv"], "--window", "1h"],
        ["fraud:1", "--current", data["same.csv"], "--threshold", "chisquare=1"],
        ["fraud:1", "--current", data["same.csv"], "--feature", "label"],
        ["fraud:9", "--current", data["same.csv"]],
        ["nobody:1", "--current", data["same.csv"]],
    ):
        code, out, err = _invoke("drift", "check", *args)
        _assert_one_line_error(code, out, err, "")
    assert _check_count(home) == 0
    assert _alerts(home) == (False, [])
