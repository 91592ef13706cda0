"""The Deployments screen on the fixed catalogue: split, latency, errors; canary actions."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from textual.message import Message
from textual.notifications import Notification, Notify
from textual.pilot import Pilot
from textual.widgets import DataTable

from tests.conftest import run_cli
from tests.fixtures.models import holdout_rows, register_fraud, train_fraud_model
from tests.fixtures.settings import outside_ray
from tests.fixtures.waiting import wait_until_async
from tests.tui.catalogue_fixture import NOW
from tests.tui.test_models_screen import type_text, until
from workbench.catalogue import Catalogue
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.core.errors import WorkbenchError
from workbench.core.settings import Settings, load_settings
from workbench.services.models import audit_trail
from workbench.services.serve import list_deployments
from workbench.tui import dialogs
from workbench.tui.app import WorkbenchApp, make_app
from workbench.tui.context import Workspace
from workbench.tui.screens import deployments as deployments_screen
from workbench.tui.screens.base import DataScreen
from workbench.tui.screens.deployments import WINDOW_MINUTES, DeploymentsScreen


async def open_deployments(pilot: Pilot[Any], app: WorkbenchApp) -> DeploymentsScreen:
    """Let the first screen finish its first read, then show Deployments and wait for data."""
    first = app.screen
    if isinstance(first, DataScreen):
        await until(pilot, lambda: first.loaded_at is not None, "the first screen to load")
    await pilot.press("d")
    screen = app.screen
    assert isinstance(screen, DeploymentsScreen)
    await until(pilot, lambda: screen.data is not None, "the deployments to load")
    return screen


def _quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def expected_figures(home: Path) -> dict[str, tuple[str, ...]]:
    """Per version (and `all`): requests, p50, p95, p99 and 5xx share, from the raw rows."""
    backend = DuckDBBackend(home / "catalogue.duckdb")
    try:
        rows = backend.query(
            "SELECT model_version, status_code, latency_ms FROM requests "
            "WHERE deployment_id = 'fraud' AND ts >= ?",
            (NOW - timedelta(minutes=WINDOW_MINUTES),),
        ).to_pylist()
    finally:
        backend.close()
    groups: dict[str, list[dict[str, Any]]] = {"all": rows}
    for row in rows:
        groups.setdefault(f"v{row['model_version']}", []).append(row)
    expected = {}
    for version, group in groups.items():
        ok = [float(r["latency_ms"]) for r in group if r["status_code"] < 400]
        errors = sum(1 for r in group if r["status_code"] >= 500) / len(group)
        share = f"{len(group) / len(rows):.0%}"
        expected[version] = (share, str(len(group)),
                             *(f"{_quantile(ok, q):.1f}" for q in (50, 95, 99)), f"{errors:.1%}")  # fmt: skip
    return expected


async def test_both_versions_with_their_split_and_latency(
    app: WorkbenchApp, fixed_home: Path
) -> None:
    expected = expected_figures(fixed_home)
    spec = list_deployments(load_settings(fixed_home))[0].spec
    canary = spec.canary
    assert canary is not None
    configured = {"primary": f"{100 - (canary.traffic or 0):g}%", "canary": f"{canary.traffic:g}%"}
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deployments(pilot, app)
        listing = screen.query_one("#deployments", DataTable)
        name, status, versions, replicas, url = (str(cell) for cell in listing.get_row_at(0))
        assert (name, url) == ("fraud", spec.url)
        assert "unreachable" in status  # recorded running, but no cluster serves it
        assert versions == (
            f"v2 primary {configured['primary']} · v3 canary {configured['canary']}"
        )
        assert replicas == str(spec.scaling.replicas)
        figures = screen.query_one("#figures", DataTable)
        shown = {str(figures.get_row_at(i)[0]): figures.get_row_at(i) for i in range(3)}
    assert set(shown) == {"v2", "v3", "all"}
    assert expected["v2"][0] == "90%"  # the fixture sends every tenth request to the canary
    assert expected["v3"][0] == "10%"
    for version in ("v2", "v3"):
        row = [str(cell) for cell in shown[version]]
        role = row[1]
        assert row[2] == configured[role]
        share, requests, p50, p95, p99, errors = expected[version]
        assert (row[3], row[4], row[6], row[7], row[8], row[9]) == (
            share, requests, p50, p95, p99, errors
        )  # fmt: skip
    overall = [str(cell) for cell in shown["all"]]
    assert (overall[4], *overall[6:10]) == expected["all"][1:]


class FakeChild:
    """Stands in for `run_json`: records the `workbench` arguments, optionally refuses."""

    def __init__(self, refusal: WorkbenchError | None = None) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.refusal = refusal

    def __call__(self, settings: Settings, *args: str, timeout_s: float = 600.0) -> Any:
        self.calls.append(args)
        if self.refusal is not None:
            raise self.refusal
        return {"name": args[2], "status": "running"}


@pytest.mark.parametrize(
    ("key", "verb", "shown"),
    [
        ("P", "promote", "canary v3 becomes the primary"),
        ("B", "rollback", "canary v3 removed; v2 takes all traffic"),
        ("S", "stop", "removed from Serve"),
    ],
)
async def test_each_action_asks_why_then_runs_the_command_in_a_child(
    app: WorkbenchApp, monkeypatch: pytest.MonkeyPatch, key: str, verb: str, shown: str
) -> None:
    child = FakeChild()
    monkeypatch.setattr(deployments_screen, "run_json", child)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_deployments(pilot, app)
        await pilot.press(key)
        dialog = app.screen
        assert isinstance(dialog, dialogs.ReasonDialog)
        assert shown in str(dialog.query_one(".changes").render())
        await type_text(pilot, "error budget spent")
        await pilot.press("enter")
        await until(pilot, lambda: child.calls, "the command to run")
    assert child.calls == [("deployments", verb, "fraud", "--reason", "error budget spent")]


async def test_escape_runs_nothing(app: WorkbenchApp, monkeypatch: pytest.MonkeyPatch) -> None:
    child = FakeChild()
    monkeypatch.setattr(deployments_screen, "run_json", child)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_deployments(pilot, app)
        await pilot.press("B", "escape")
        await until(pilot, lambda: isinstance(app.screen, DeploymentsScreen), "the dialog to close")
        await pilot.pause(0.2)
    assert child.calls == []


async def test_a_refusal_from_the_command_becomes_a_notification_with_its_hint(
    app: WorkbenchApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    refusal = WorkbenchError("no cluster is up to serve on", "workbench cluster up", exit_code=1)
    monkeypatch.setattr(deployments_screen, "run_json", FakeChild(refusal))
    notes: list[Notification] = []

    def keep_notifications(message: Message) -> None:
        if isinstance(message, Notify):
            notes.append(message.notification)

    async with app.run_test(size=(120, 40), message_hook=keep_notifications) as pilot:
        await open_deployments(pilot, app)
        await pilot.press("P")
        await type_text(pilot, "ship it")
        await pilot.press("enter")
        await until(pilot, lambda: any(n.title.endswith("refused") for n in notes), "the refusal")
    (note,) = [n for n in notes if n.title == "promote fraud: refused"]
    assert note.message == "no cluster is up to serve on\nworkbench cluster up"


@pytest.mark.slow  # a real `workbench deployments stop` child process (no Ray needed to stop)
async def test_stop_through_the_real_command_records_the_reason(
    app: WorkbenchApp, fixed_home: Path
) -> None:
    settings = outside_ray(fixed_home)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deployments(pilot, app)
        await pilot.press("S")
        await type_text(pilot, "moved to the new region")
        await pilot.press("enter")
        await until(
            pilot, lambda: list_deployments(settings)[0].status == "stopped", "the stop", 1500
        )
        listing = screen.query_one("#deployments", DataTable)
        await until(pilot, lambda: "stopped" in str(listing.get_row_at(0)[1]), "the screen", 500)
    newest = audit_trail(settings, limit=1)[0]
    assert (newest.action, newest.reason) == ("deployment.stop", "moved to the new region")


@pytest.fixture
def canary_served(tmp_path: Path, home: Path) -> Iterator[Path]:
    """fraud v1 with a v2 canary on 30% of traffic, on a `cluster up` cluster in `home`."""
    settings = load_settings(home)
    home.mkdir(parents=True)
    catalogue = Catalogue(DuckDBBackend(settings.catalogue_path))
    for seed in (7, 9):
        register_fraud(catalogue, train_fraud_model(tmp_path / f"model-{seed}", seed=seed))
    catalogue.close()
    up = run_cli(home, "cluster", "up", "--cpus", "2", "--json")
    assert up.returncode == 0, up.stderr[-2000:]
    try:
        served = run_cli(home, "serve", "fraud:1", "--canary", "fraud:2", "--traffic", "30")
        assert served.returncode == 0, served.stderr[-3000:]
        yield tmp_path / "model-7"
    finally:
        down = run_cli(home, "cluster", "down")
        assert down.returncode == 0, down.stderr[-2000:]


def _answering_versions(home: Path, model_root: Path, count: int) -> set[str | None]:
    """Which versions answer `count` real requests to the `fraud` endpoint."""
    shown = json.loads(run_cli(home, "deployments", "show", "fraud", "--json").stdout)
    split = json.loads(holdout_rows(model_root, 1).to_json(orient="split", index=False))
    token = (home / "tokens" / "fraud.token").read_text().strip()
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    answered = set()
    for _ in range(count):
        response = requests.post(f"{shown['url']}/invocations", headers=headers, timeout=30,
                                 data=json.dumps({"dataframe_split": split}))  # fmt: skip
        assert response.status_code == 200, response.text
        answered.add(response.headers.get("x-workbench-model-version"))
    return answered


@pytest.mark.slow
@pytest.mark.ray
async def test_rolling_back_a_real_canary_from_the_screen(canary_served: Path, home: Path) -> None:
    settings = outside_ray(home)
    assert _answering_versions(home, canary_served, 40) == {"1", "2"}
    app = make_app(Workspace(settings, live=False))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deployments(pilot, app)
        listing = screen.query_one("#deployments", DataTable)
        assert "v2 canary 30%" in str(listing.get_row_at(0)[2])
        await pilot.press("B")
        await type_text(pilot, "canary p95 too high")
        await pilot.press("enter")
        # A child `workbench deployments rollback` is at work.
        await wait_until_async(lambda: list_deployments(settings)[0].spec.canary is None, 240,
                               "the canary to be rolled back")  # fmt: skip
        await until(pilot, lambda: "canary" not in str(listing.get_row_at(0)[2]), "the screen")
    spec = list_deployments(settings)[0].spec
    assert [(v.version, v.role) for v in spec.versions] == [(1, "primary")]
    shown = json.loads(run_cli(home, "deployments", "show", "fraud", "--json").stdout)
    assert shown["serve"]["status"] == "RUNNING"
    assert _answering_versions(home, canary_served, 20) == {"1"}  # Serve sends all to v1
    rollback = audit_trail(settings, limit=1)[0]
    assert (rollback.action, rollback.reason) == ("deployment.rollback", "canary p95 too high")
