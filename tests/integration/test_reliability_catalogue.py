"""The catalogue without a cluster, under real failures: a CLI process SIGKILLed while it
migrates an old catalogue, and a reader and a writer command started at the same moment."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_cli
from tests.fixtures.waiting import wait_until
from workbench.catalogue import Catalogue
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.catalogue.models import ModelLedger
from workbench.catalogue.schema import MIGRATIONS, MIGRATIONS_TABLE, known_migrations
from workbench.core.settings import load_settings

pytestmark = pytest.mark.slow

OLD_RUNS = 300_000  # enough rows that each ALTER of `runs` takes a measurable moment
KILLS = 12


def _old_catalogue(path: Path) -> None:
    """A catalogue as the first release left it: migration 0001 only, and committed runs."""
    con = duckdb.connect(str(path))
    try:
        first = MIGRATIONS[0]
        con.execute("BEGIN TRANSACTION")
        con.execute(MIGRATIONS_TABLE)
        for sql in first.statements:
            con.execute(sql)
        con.execute("INSERT INTO migrations VALUES (?, ?)",
                    [first.name, datetime.now(UTC).replace(tzinfo=None)])  # fmt: skip
        con.execute(
            "INSERT INTO runs (run_id, project, status, created_at, error) "
            f"SELECT 'r' || i, 'old', 'finished', now(), repeat('x', 200) FROM range({OLD_RUNS}) t(i)"
        )
        con.execute("COMMIT")
    finally:
        con.close()


def _applied(path: Path) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [
            row[0] for row in con.execute("SELECT name FROM migrations ORDER BY name").fetchall()
        ]
    finally:
        con.close()


def _cli(home: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["WORKBENCH_HOME"] = str(home)
    return subprocess.Popen([sys.executable, "-m", "workbench.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def test_sigkill_of_a_migrating_cli_leaves_a_catalogue_that_migrates_to_the_end(
    tmp_path: Path,
) -> None:
    pristine = tmp_path / "pristine.duckdb"
    _old_catalogue(pristine)
    home = tmp_path / "home"
    home.mkdir()
    path = load_settings(home).catalogue_path
    wal = path.with_name(path.name + ".wal")
    rng = random.Random(13)
    landed: Counter[int] = Counter()  # migrations applied when the kill landed
    for _ in range(KILLS):
        wal.unlink(missing_ok=True)
        shutil.copy(pristine, path)
        command = _cli(home, "runs", "ls", "--json")
        # The first migration's commit writes the WAL: the process is migrating. Kill it at a
        # random moment from then on, across the ~50 ms the remaining migrations take.
        wait_until(lambda: wal.exists() or command.poll() is not None, 60,  # noqa: B023
                   "the migration to start", step_s=0.001)  # fmt: skip
        time.sleep(rng.uniform(0, 0.06))  # a random moment to kill at: the test's subject
        if command.poll() is None:
            command.send_signal(signal.SIGKILL)
        command.communicate(timeout=30)
        landed[len(_applied(path))] += 1
        # Opened again (the same code path every command takes): it migrates to the end.
        with Catalogue(DuckDBBackend(path)) as catalogue:
            assert catalogue.sql("SELECT count(*) AS n FROM runs").to_pylist() == [{"n": OLD_RUNS}]
        assert _applied(path) == known_migrations()
    print(f"\nmigrations applied when the kill landed: {dict(sorted(landed.items()))}")  # noqa: T201
    partial = sum(n for applied, n in landed.items() if 1 < applied < len(MIGRATIONS))
    assert partial, f"no kill landed between two migrations: {dict(landed)}"
    # The last one, through the CLI: the columns of the newer migrations are there.
    shown = run_cli(home, "catalogue", "sql", "SELECT count(*) AS n, count(gate) AS gates FROM runs",
                    "--json")  # fmt: skip
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert json.loads(shown.stdout) == [{"n": OLD_RUNS, "gates": 0}]


ROUNDS = 8


def _two_versions(home: Path, tmp_path: Path) -> None:
    """Model `tiny` at versions 1 and 2 (a file each), from a finished run."""
    with Catalogue(DuckDBBackend(load_settings(home).catalogue_path)) as catalogue:
        run_id = catalogue.create_run("tiny")
        catalogue.finish_run(run_id)
        for version in (1, 2):
            model = tmp_path / f"model-{version}"
            model.mkdir()
            (model / "weights.json").write_text(json.dumps({"version": version}))
            ModelLedger(catalogue).register(
                "tiny", run_id=run_id, uri=str(model), sha256="0" * 64, flavor="pyfunc",
                signature=None, gate={"passed": True, "checks": []},
            )  # fmt: skip


def test_a_reader_and_a_writer_command_at_once_both_succeed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _two_versions(home, tmp_path)
    for round_ in range(ROUNDS):
        version = 1 + round_ % 2
        writer = _cli(home, "models", "promote", f"tiny:{version}", "challenger",
                      "--reason", f"round {round_}", "--json")  # fmt: skip
        reader = _cli(home, "runs", "ls", "--json")
        written, write_errors = writer.communicate(timeout=120)
        read, read_errors = reader.communicate(timeout=120)
        assert writer.returncode == 0, f"round {round_}: writer: {write_errors[-2000:]}"
        assert reader.returncode == 0, f"round {round_}: reader: {read_errors[-2000:]}"
        assert [run["project"] for run in json.loads(read)] == ["tiny"]
        shown = run_cli(home, "models", "show", "tiny@challenger", "--json")
        assert json.loads(shown.stdout)["version"] == version, shown.stderr[-2000:]
