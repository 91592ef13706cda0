"""Projects for the Pipelines screen: find them, check a form's params, launch, follow, cancel.

A launch is `workbench run DIR --param K=V ...` in a detached child (the app never joins
Ray); its run is then found in the catalogue as the newest run of the project created
after the launch.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from workbench.catalogue.activity import ActivityLedger
from workbench.core.errors import InvalidInputError, WorkbenchError
from workbench.core.settings import Settings
from workbench.core.spec import SPEC_FILE, ProjectSpec, load_spec, resolve_params
from workbench.owner import open_catalogue
from workbench.services.child import launch_log, start_detached
from workbench.services.overview import RunProgress, run_progress

SCAN_DEPTH = 2
"""How deep under each root to look for workbench.toml (root/x/y/workbench.toml at most)."""
MAX_DIRS = 2000
"""Folders visited per root before the scan gives up (a root may be a home directory)."""
_SKIP = {"node_modules", "__pycache__", "site-packages", "venv", "build", "dist"}
LOG_TAIL_LINES = 12


@dataclass(frozen=True)
class ProjectEntry:
    """A project the user can launch: its spec (None when unreadable) and where it lives.

    `shown` is the folder relative to the root it was found under (absolute for recent
    projects outside every root), so screens show short, stable paths.
    """

    name: str
    path: Path
    shown: str
    source: str
    """`found` under a root, or `recent`: from the catalogue's runs and projects."""
    spec: ProjectSpec | None
    problem: str = ""


@dataclass(frozen=True)
class ProjectList:
    """Projects found and recent; `recent_problem` (and its hint) says why the catalogue could
    not be read for the recent ones."""

    projects: tuple[ProjectEntry, ...]
    recent_problem: str = ""
    recent_hint: str = ""


@dataclass(frozen=True)
class Launch:
    """A pipeline started from the app: the child process, its log, when it was started."""

    project: str
    project_dir: Path
    params: Mapping[str, str]
    steps: tuple[str, ...]
    log_file: Path
    launched_at: datetime
    process: subprocess.Popen[bytes]


@dataclass(frozen=True)
class LaunchState:
    """Where a launch stands: its run once the catalogue has it, the child's exit code, log tail."""

    run: RunProgress | None
    exit_code: int | None
    log_tail: str


def list_projects(settings: Settings, roots: Sequence[Path]) -> ProjectList:
    """Projects under `roots` (a few levels down), then recent ones from the catalogue."""
    entries: dict[Path, ProjectEntry] = {}
    roots = [root.resolve() for root in roots]
    for root in roots:
        for folder in _spec_folders(root):
            shown = folder.relative_to(root).as_posix() if folder != root else "."
            entries.setdefault(folder, _entry(folder, shown, "found"))
    recent_problem = recent_hint = ""
    try:
        with open_catalogue(settings) as catalogue:
            ledger = ActivityLedger(catalogue)
            recent = ledger.project_dirs() + [p.root for p in ledger.projects() if p.root]
    except WorkbenchError as error:
        recent, recent_problem, recent_hint = [], error.message, error.hint
    for text in recent:
        folder = Path(text)
        if folder not in entries:
            entries[folder] = _entry(folder, _shown(folder, roots), "recent")
    return ProjectList(tuple(entries.values()), recent_problem, recent_hint)


def check_params(spec: ProjectSpec, values: Mapping[str, str]) -> dict[str, str]:
    """What is wrong with each field of a params form, by param name (empty: all good).

    The same conversion, bounds and choices as `workbench run --param`.
    """
    problems: dict[str, str] = {}
    for name, raw in values.items():
        try:
            resolve_params(spec, {name: raw})
        except InvalidInputError as error:
            problems[name] = f"{error.message} ({error.hint})" if error.hint else error.message
    return problems


def launch(settings: Settings, spec: ProjectSpec, values: Mapping[str, str]) -> Launch:
    """Check `values`, then start `workbench run` on the project in a detached child."""
    problems = check_params(spec, values)
    if problems:
        name, problem = next(iter(problems.items()))
        raise InvalidInputError(f"parameter {name}: {problem}", "fix the form and launch again")
    launched_at = datetime.now(UTC).replace(tzinfo=None)
    log_file = launch_log(settings, spec.name, launched_at)
    arguments = [item for name, raw in values.items() for item in ("--param", f"{name}={raw}")]
    process = start_detached(settings, log_file, "run", spec.path, *arguments)
    steps = tuple(step.name for step in spec.steps)
    return Launch(spec.name, Path(spec.path), dict(values), steps, log_file, launched_at, process)


def launch_state(settings: Settings, launch: Launch, now: datetime) -> LaunchState:
    """The launched run (None until the child has created it), the exit code and the log tail."""
    exit_code = launch.process.poll()
    with open_catalogue(settings) as catalogue:
        ledger = ActivityLedger(catalogue)
        found = ledger.newest_run(launch.project, launch.launched_at)
        steps_seen = ledger.step_counts([launch.project]).get(launch.project, 0)
    run = run_progress(found, steps_seen, now) if found else None
    return LaunchState(run, exit_code, _tail(launch.log_file))


def _entry(folder: Path, shown: str, source: str) -> ProjectEntry:
    try:
        spec = load_spec(folder)
    except WorkbenchError as error:
        return ProjectEntry(folder.name, folder, shown, source, None, error.message)
    return ProjectEntry(spec.name, folder, shown, source, spec)


def _shown(folder: Path, roots: Sequence[Path]) -> str:
    for root in roots:
        if folder.is_relative_to(root):
            return folder.relative_to(root).as_posix() or "."
    return str(folder)


def _spec_folders(root: Path) -> list[Path]:
    """Folders holding a workbench.toml: `root` and its subfolders to SCAN_DEPTH, sorted."""
    found: list[Path] = []
    frontier, visited = [(root, 0)], 0
    while frontier and visited < MAX_DIRS:
        folder, depth = frontier.pop()
        visited += 1
        if (folder / SPEC_FILE).is_file():
            found.append(folder)
        if depth >= SCAN_DEPTH:
            continue
        try:
            children = [e for e in os.scandir(folder) if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        frontier += [
            (Path(e.path), depth + 1)
            for e in children
            if not e.name.startswith(".") and e.name not in _SKIP
        ]
    return sorted(found)


def _tail(log_file: Path) -> str:
    try:
        lines = log_file.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-LOG_TAIL_LINES:])
