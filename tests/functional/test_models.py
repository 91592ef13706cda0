"""`workbench models` and `audit ls`: versions, aliases, champion gates, rollback, audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from workbench.artifacts.manifest import write_manifest
from workbench.catalogue import Catalogue
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.catalogue.models import ModelLedger
from workbench.cli.main import cli
from workbench.core.settings import Settings


@pytest.fixture
def registry(settings: Settings, tmp_path: Path) -> dict[int, Path]:
    """fraud v1 and v2 pass their gate, v3 does not; each artifact has a manifest."""
    cat = Catalogue(DuckDBBackend(settings.catalogue_path))
    models = ModelLedger(cat)
    dirs = {}
    for version, passed in ((1, True), (2, True), (3, False)):
        run_id = cat.create_run("fraud")
        cat.log_metric(run_id, "auc", 0.9 + version / 100)
        root = tmp_path / f"v{version}"
        root.mkdir()
        (root / "model.pkl").write_bytes(b"weights-%d" % version)
        write_manifest(root)
        models.register("fraud", run_id=run_id, uri=str(root), sha256="x" * 64, flavor="sklearn",
                        signature=None, gate={"passed": passed, "checks": []})  # fmt: skip
        dirs[version] = root
    cat.close()
    return dirs


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_ls_and_show(registry: dict[int, Path]) -> None:
    code, out, _ = _invoke("models", "ls", "--json")
    assert code == 0
    assert json.loads(out) == [
        {"name": "fraud", "versions": 3, "latest": 3, "updated_at": json.loads(out)[0]["updated_at"],
         "aliases": None}
    ]  # fmt: skip
    code, out, _ = _invoke("models", "show", "fraud:2", "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["version"] == 2
    assert shown["gate"]["passed"] is True
    code, _, err = _invoke("models", "show", "fraud@champion")
    assert code == 2
    assert "has no alias 'champion'" in err
    code, _, err = _invoke("models", "show", "nope:1")
    assert code == 2
    assert "no model named 'nope'" in err


def test_promote_rollback_and_audit(registry: dict[int, Path]) -> None:
    code, out, _ = _invoke(
        "models", "promote", "fraud:1", "champion", "--reason", "first", "--json"
    )
    assert code == 0, out
    assert json.loads(out)["previous"] is None
    code, out, _ = _invoke(
        "models", "promote", "fraud:2", "champion", "--reason", "better auc", "--approve", "--json"
    )
    moved = json.loads(out)
    assert (moved["version"], moved["previous"]) == (2, 1)
    assert moved["approver"]
    code, out, _ = _invoke(
        "models", "rollback", "fraud", "champion", "--reason", "p99 up", "--json"
    )
    assert code == 0
    assert json.loads(out)["version"] == 1
    assert json.loads(_invoke("models", "show", "fraud@champion", "--json")[1])["version"] == 1
    events = json.loads(_invoke("audit", "ls", "--json")[1])
    moves = [e for e in events if e["action"] == "alias.move"]
    assert [(e["details"]["from"], e["details"]["to"], e["reason"]) for e in moves] == [
        (2, 1, "p99 up"), (1, 2, "better auc"), (None, 1, "first"),
    ]  # fmt: skip
    assert moves[1]["details"]["approver"] == moved["approver"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fraud:3", "champion"], "its evaluation gate did not pass"),
        (["fraud:2", "champion", "--require-image"], "no image was built"),
    ],
)
def test_champion_gates_refuse_and_leave_an_audit_row(
    registry: dict[int, Path], args: list[str], message: str
) -> None:
    code, _, err = _invoke("models", "promote", *args, "--reason", "try")
    assert code == 1
    assert message in err
    assert "Traceback" not in err
    events = json.loads(_invoke("audit", "ls", "--json")[1])
    assert [e["action"] for e in events if e["action"].startswith("alias")] == [
        "alias.move.refused"
    ]
    code, _, _ = _invoke("models", "show", "fraud@champion")
    assert code == 2  # the alias was not created


def test_tampered_artifact_cannot_become_champion(registry: dict[int, Path]) -> None:
    path = registry[2] / "model.pkl"
    path.write_bytes(path.read_bytes().replace(b"2", b"3"))
    code, _, err = _invoke("models", "promote", "fraud:2", "champion", "--reason", "x")
    assert code == 1
    assert "failed verification" in err
    assert "model.pkl does not match its checksum" in err
    code, _, _ = _invoke("models", "promote", "fraud:2", "staging", "--reason", "not champion")
    assert code == 0  # other aliases carry no gates


@pytest.mark.parametrize(
    "args",
    [
        ["models", "promote", "fraud:1", "champion"],  # no --reason
        ["models", "promote", "fraud", "champion", "--reason", "x"],  # no version
        ["models", "promote", "fraud:9", "champion", "--reason", "x"],
        ["models", "promote", "fraud:1", "bad alias!", "--reason", "x"],
        ["models", "rollback", "fraud", "champion", "--reason", "x"],  # never set
    ],
)
def test_bad_input_exit_2(registry: dict[int, Path], args: list[str]) -> None:
    code, _, err = _invoke(*args)
    assert code == 2, err


def test_audit_rows_cannot_be_changed_or_deleted(
    registry: dict[int, Path], settings: Settings
) -> None:
    _invoke("models", "promote", "fraud:1", "champion", "--reason", "first")
    before = json.loads(_invoke("audit", "ls", "--json")[1])
    for sql in ("DELETE FROM audit_events", "UPDATE audit_events SET reason = 'x'",
                "DROP TABLE audit_events", "TRUNCATE audit_events"):  # fmt: skip
        code, _, err = _invoke("catalogue", "sql", sql)
        assert code == 2, sql
        assert "read-only" in err or "malformed" in err
    assert json.loads(_invoke("audit", "ls", "--json")[1]) == before
    # No code path in Workbench writes UPDATE or DELETE against audit_events.
    sources = Path(__file__).resolve().parents[2] / "workbench"
    for source in sources.rglob("*.py"):
        text = source.read_text().upper()
        assert "UPDATE AUDIT_EVENTS" not in text, source
        assert "DELETE FROM AUDIT_EVENTS" not in text, source


def test_model_card_is_markdown_from_the_catalogue(registry: dict[int, Path]) -> None:
    _invoke("models", "promote", "fraud:2", "champion", "--reason", "best")
    code, out, _ = _invoke("models", "card", "fraud@champion")
    assert code == 0
    assert out.startswith("# Model card: fraud v2")
    assert "- Aliases: champion" in out
    assert "| auc | 0.92 |" in out
    assert "The gate passed." in out
    assert "No open drift alert." in out
    assert "## Intended use" in out
