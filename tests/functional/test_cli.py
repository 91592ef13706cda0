"""The CLI end to end against a real catalogue file: output, --json, exit codes, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from tests.conftest import run_cli
from workbench.catalogue import Catalogue
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.cli.main import cli
from workbench.core.settings import Settings
from workbench.owner import access


@pytest.fixture(autouse=True)
def like_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """`workbench` runs as its own process, never as a Ray driver: even after another test
    joined this pytest process to the session's Ray cluster, the CLI reaches the file itself."""
    monkeypatch.setattr(access, "ray_connected", lambda: False)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def seeded(settings: Settings) -> list[str]:
    """Three runs with params and metric histories, then the file is released."""
    cat = Catalogue(DuckDBBackend(settings.catalogue_path))
    ids = []
    for i, lr in enumerate((0.1, 0.01, 0.001)):
        run_id = cat.create_run("fraud", name=f"run-{i}", params={"lr": lr})
        for step in range(30):
            cat.log_metric(run_id, "loss", 1.0 / (step + 1 + i), step)
        cat.log_metric(run_id, "auc", 0.8 + i * 0.05)
        cat.finish_run(run_id)
        ids.append(run_id)
    cat.close()
    return ids


def test_help_teaches(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "runs" in result.output
    assert "catalogue" in result.output
    assert "Examples" in result.output


def test_version_json(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["version", "--json"])
    assert result.exit_code == 0
    versions = json.loads(result.stdout)
    assert set(versions) >= {"workbench", "python", "ray", "duckdb", "mlflow"}


@pytest.mark.slow  # a subprocess
def test_python_dash_m_workbench_is_the_command(home: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "WORKBENCH_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "version", "--json"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["workbench"]


def test_runs_ls_table_and_json(runner: CliRunner, seeded: list[str]) -> None:
    result = runner.invoke(cli, ["runs", "ls"])
    assert result.exit_code == 0, result.output
    for run_id in seeded:
        assert run_id[:12] in result.output
    assert "finished" in result.output
    result = runner.invoke(cli, ["runs", "ls", "--json", "--sort", "-metrics.auc", "-n", "2"])
    runs = json.loads(result.stdout)
    assert [r["name"] for r in runs] == ["run-2", "run-1"]
    assert runs[0]["metrics"]["auc"] == pytest.approx(0.9)
    result = runner.invoke(cli, ["runs", "ls", "--json", "--where", "params.lr < 0.05"])
    assert sorted(r["name"] for r in json.loads(result.stdout)) == ["run-1", "run-2"]


def test_runs_show(runner: CliRunner, seeded: list[str]) -> None:
    result = runner.invoke(cli, ["runs", "show", seeded[0][:6]])
    assert result.exit_code == 0, result.output
    assert seeded[0] in result.output
    assert "lr" in result.output
    assert "loss" in result.output
    shown = json.loads(runner.invoke(cli, ["runs", "show", seeded[0], "--json"]).stdout)
    assert shown["run_id"] == seeded[0]
    assert shown["params"] == {"lr": "0.1"}
    assert shown["status"] == "finished"


def test_runs_metrics_chart_and_json(runner: CliRunner, seeded: list[str]) -> None:
    result = runner.invoke(cli, ["runs", "metrics", seeded[0], "loss"])
    assert result.exit_code == 0, result.output
    assert f"loss - run {seeded[0][:12]}" in result.output
    assert "30 points" in result.output
    assert "last 0.03333" in result.output
    data = json.loads(runner.invoke(cli, ["runs", "metrics", seeded[0], "loss", "--json"]).stdout)
    assert [p["step"] for p in data["points"]] == list(range(30))
    assert data["points"][0]["value"] == 1.0


def test_catalogue_sql_path_export_import(
    runner: CliRunner,
    seeded: list[str],
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = runner.invoke(cli, ["catalogue", "path"])
    assert result.stdout.strip() == str(settings.catalogue_path)
    result = runner.invoke(
        cli, ["catalogue", "sql", "SELECT status, count(*) AS n FROM runs GROUP BY ALL", "--json"]
    )
    assert json.loads(result.stdout) == [{"status": "finished", "n": 3}]
    result = runner.invoke(cli, ["catalogue", "export", str(tmp_path / "dump"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tables"]["metrics"] == 93
    assert "telemetry_nodes" not in json.loads(result.stdout)["tables"]
    result = runner.invoke(cli, ["catalogue", "export", str(tmp_path / "all"), "--telemetry"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "all" / "telemetry_nodes.parquet").is_file()
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "elsewhere"))
    result = runner.invoke(cli, ["catalogue", "import", str(tmp_path / "dump")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["runs", "ls", "--json"])
    assert sorted(r["run_id"] for r in json.loads(result.stdout)) == sorted(seeded)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["runs", "show", "ffffffff"], "no run matches 'ffffffff'"),
        (["runs", "metrics", "ffffffff", "loss"], "no run matches"),
        (["runs", "ls", "--where", "metrics.auc >"], "malformed filter"),
        (["runs", "ls", "--where", "colour = 'red'"], "unknown column 'colour'"),
        (["runs", "ls", "--sort", "colour"], "unknown column 'colour'"),
        (["runs", "ls", "--status", "exploded"], "unknown status"),
        (["catalogue", "sql", "DELETE FROM runs"], "read-only"),
        (["catalogue", "sql", "INSERT INTO runs SELECT * FROM runs"], "read-only"),
        (["catalogue", "sql", "UPDATE runs SET status = 'x'"], "read-only"),
        (["catalogue", "sql", "ATTACH 'x.duckdb'"], "read-only"),
        (["catalogue", "sql", "COPY runs TO 'x.csv'"], "read-only"),
        (["catalogue", "sql", "SELECT nope FROM runs"], "nope"),
        (["catalogue", "sql", "SELEKT 1"], "malformed SQL"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    runner: CliRunner, seeded: list[str], settings: Settings, args: list[str], message: str
) -> None:
    before = _snapshot(settings)
    result = runner.invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.output
    assert _snapshot(settings) == before


def test_unknown_metric_exit_2_with_known_keys(runner: CliRunner, seeded: list[str]) -> None:
    result = runner.invoke(cli, ["runs", "metrics", seeded[0], "accuracy"])
    assert result.exit_code == 2
    assert "hint: its metrics: auc, loss" in result.stderr


def _snapshot(settings: Settings) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(settings.catalogue_path), read_only=True)
    try:
        return con.execute(
            "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM metrics), "
            "(SELECT list(status ORDER BY run_id) FROM runs)"
        ).fetchall()
    finally:
        con.close()


def test_corrupt_catalogue_is_refused_cleanly(settings: Settings, home: Path) -> None:
    home.mkdir(parents=True)
    settings.catalogue_path.write_bytes(b"\x00garbage" * 512)
    result = run_cli(home, "runs", "ls")
    assert result.returncode == 2
    assert "not a valid DuckDB database" in result.stderr
    assert "Traceback" not in result.stderr
    assert settings.catalogue_path.read_bytes() == b"\x00garbage" * 512


def test_newer_schema_is_refused_cleanly(settings: Settings, home: Path) -> None:
    DuckDBBackend(settings.catalogue_path).close()
    con = duckdb.connect(str(settings.catalogue_path))
    con.execute("INSERT INTO migrations VALUES ('0999_from_a_newer_release', now())")
    con.close()
    result = run_cli(home, "runs", "ls")
    assert result.returncode == 2
    assert "newer version" in result.stderr
    assert "hint: upgrade" in result.stderr
    assert "Traceback" not in result.stderr


def test_locked_catalogue_names_the_holder(settings: Settings, home: Path) -> None:
    DuckDBBackend(settings.catalogue_path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys, time; c = duckdb.connect({str(settings.catalogue_path)!r}); "
            "print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        result = run_cli(home, "runs", "ls")
        assert result.returncode == 2
        assert f"in use by process {holder.pid}" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        holder.kill()
        holder.wait()
