"""Services behind the Overview, Pipelines and Cluster screens, without the app."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.fixtures.projects import write_project
from workbench.catalogue.activity import ActiveRun, StepState
from workbench.core.errors import InvalidInputError
from workbench.core.settings import load_settings
from workbench.core.spec import load_spec
from workbench.services.cluster import ClusterProfile, ClusterStatus, NodeInfo
from workbench.services.cluster_report import cluster_report
from workbench.services.overview import run_progress
from workbench.services.projects import check_params, launch, list_projects

T = datetime(2026, 11, 30, 9, 0, 0)


def _run(project_dir: str | None, *steps: tuple[str, str]) -> ActiveRun:
    return ActiveRun(
        run_id="ab" * 16, project="tiny", name=None, status="running", attempt=1,
        created_at=T, started_at=T + timedelta(seconds=5), project_dir=project_dir,
        steps=tuple(StepState(name, status, False, T, None) for name, status in steps),
    )  # fmt: skip


def test_run_progress_counts_steps_from_the_spec_it_was_launched_from(tmp_path: Path) -> None:
    project = write_project(tmp_path / "tiny")
    run = _run(str(project), ("prepare", "finished"), ("train", "running"))
    progress = run_progress(run, steps_seen=7, now=T + timedelta(minutes=2))
    assert (progress.done, progress.total_steps, progress.current_step) == (1, 3, "train")
    assert progress.elapsed_s == 115.0
    assert progress.fraction == pytest.approx(1 / 3)


def test_run_progress_without_a_spec_uses_the_most_steps_seen(tmp_path: Path) -> None:
    run = _run(str(tmp_path / "gone"), ("prepare", "finished"))
    assert run_progress(run, steps_seen=4, now=T).total_steps == 4
    assert run_progress(run, steps_seen=0, now=T).total_steps == 1
    assert run_progress(run, steps_seen=0, now=T - timedelta(hours=1)).elapsed_s == 0.0


def test_check_params_names_each_bad_field_with_the_run_rules(tmp_path: Path) -> None:
    spec = load_spec(write_project(tmp_path / "tiny"))
    assert check_params(spec, {"rows": "200", "scale": "0.5", "fail_in": ""}) == {}
    problems = check_params(spec, {"rows": "9", "scale": "lots", "fail_in": "x"})
    assert set(problems) == {"rows", "scale"}
    assert "9 is below min 10" in problems["rows"]
    assert "expects float" in problems["scale"]


def test_launch_refuses_a_bad_form_before_starting_anything(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "home")
    spec = load_spec(write_project(tmp_path / "tiny"))
    with pytest.raises(InvalidInputError, match="rows"):
        launch(settings, spec, {"rows": "1"})
    assert not (settings.home / "logs").exists()


def test_projects_are_found_a_few_levels_down_and_shown_relative(tmp_path: Path) -> None:
    root = tmp_path / "work"
    write_project(root, name="top")
    write_project(root / "a" / "b", name="deep")
    write_project(root / "a" / "b" / "c", name="too_deep")
    write_project(root / ".hidden", name="hidden")
    (root / "broken").mkdir()
    (root / "broken" / "workbench.toml").write_text("[project\n")
    found = list_projects(load_settings(tmp_path / "home"), [root])
    shown = [(p.name, p.shown, p.spec is not None) for p in found.projects]
    assert shown == [("top", ".", True), ("deep", "a/b", True), ("broken", "broken", False)]
    assert found.projects[2].problem.startswith(str(root / "broken" / "workbench.toml"))


def test_cluster_report_reads_files_only_when_no_head_is_up(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "home")
    settings.home.mkdir(parents=True)
    settings.catalogue_path.write_bytes(b"x" * 3000)
    settings.owner_file.write_text(json.dumps({"address": "a:1", "pid": 42, "host": "h"}))
    report = cluster_report(settings)
    assert report.status.profile is None
    assert report.nodes == ()
    assert (report.catalogue.size_bytes, report.catalogue.wal_bytes) == (3000, None)
    assert report.owner is not None
    assert (report.owner.pid, report.owner.host, report.owner.socket) == (42, "h", None)


def test_node_details_survive_the_status_json() -> None:
    profile = ClusterProfile("127.0.0.1:1", "http://127.0.0.1:2", 1, 2, 0, "2026-11-30")
    node = NodeInfo("head", True, 2.0, 8 * 2**30, 0.0)
    status = ClusterStatus(profile, up=True, nodes=("head",), node_details=(node,))
    document = json.loads(json.dumps(status.to_json()))
    assert [NodeInfo.from_json(n) for n in document["node_details"]] == [node]
