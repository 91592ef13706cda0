"""A wheelhouse collected on the host, so `docker build` installs with no network at all.

Every requirement is pinned to the host's installed version where the host has one, and
so is every dependency pip pulls in (a constraints file of the host's distributions).
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from workbench.core.errors import WorkbenchError

# The images' platform: Debian bookworm (glibc 2.36) under both python:3.11-slim and the
# test base image. Wheels for a newer glibc than the host would not run there.
TARGET_GLIBC_MINOR = 36
# The full mlflow is ~200 MB of server, UI and SQL stores; loading a pyfunc needs only this.
SKINNY = {"mlflow": "mlflow-skinny"}

# Dependencies of mlflow-skinny that loading and scoring a pyfunc never import: GitPython
# (a run's source commit, when logging) and cryptography (google-auth's signing, for
# Databricks). Left out unless the model names one or another wheel needs it.
UNSERVED = frozenset({"gitpython", "gitdb", "smmap", "cryptography", "cffi", "pycparser"})
_UNSERVED_VIA = UNSERVED | {"mlflow-skinny", "google-auth"}


class WheelhouseError(WorkbenchError):
    """pip could not collect a wheel for every requirement."""

    exit_code = 1


@dataclass(frozen=True)
class Wheel:
    """One wheel of the wheelhouse: what the image installs, and what the SBOM lists."""

    name: str
    version: str
    filename: str
    sha256: str

    @property
    def purl(self) -> str:
        return f"pkg:pypi/{self.name}@{self.version}"


def read_requirements(path: Path) -> list[str]:
    """The requirement lines of a model's requirements.txt (none when it has no such file)."""
    if not path.is_file():
        return []
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    for line in lines:
        if line.startswith("-"):
            raise WheelhouseError(
                f"{path} has a pip option line {line!r}", "a model lists plain requirements only"
            )
    return [line for line in lines if line]


def pin_requirements(model: list[str], runtime: tuple[str, ...]) -> list[str]:
    """The model's requirements (mlflow made skinny) then the runtime's, each pinned once.

    A requirement without a version gets the host's installed version; the model's own
    pins win over the runtime's (it was trained with them).
    """
    pinned: dict[str, str] = {}
    for text in [*model, *runtime]:
        requirement = _requirement(text)
        requirement.name = SKINNY.get(canonicalize_name(requirement.name), requirement.name)
        key = canonicalize_name(requirement.name)
        if key in pinned:
            continue
        if not requirement.specifier and (host := _host_version(requirement.name)) is not None:
            requirement = _requirement(f"{requirement}=={host}")
        pinned[key] = str(requirement)
    return list(pinned.values())


def host_constraints(exclude: set[str]) -> list[str]:
    """`name==version` for each distribution on the host: pins the dependencies pip adds."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"] or "")
        if name and name not in exclude and _valid_version(dist.version):
            found.setdefault(name, f"{name}=={dist.version}")
    return sorted(found.values())


def collect_wheels(requirements: list[str], dest: Path) -> list[Wheel]:
    """`pip download --only-binary=:all:` of `requirements` into `dest`; the wheels found there.

    Dependencies are held to the host's versions; if that cannot be satisfied (a model
    trained elsewhere, on older pins), pip resolves them freely, still from wheels only.
    """
    dest.mkdir(parents=True, exist_ok=True)
    requested = dest / "requested.txt"
    requested.write_text("\n".join(requirements) + "\n")
    named = {str(canonicalize_name(_requirement(text).name)) for text in requirements}
    with tempfile.TemporaryDirectory(prefix="workbench-pins-") as scratch:
        constraints = Path(scratch) / "host-constraints.txt"
        constraints.write_text("\n".join(host_constraints(named)) + "\n")
        done = _pip_download(requested, dest, ["-c", str(constraints)])
    if done.returncode != 0:
        for partial in dest.glob("*.whl"):
            partial.unlink()
        done = _pip_download(requested, dest, [])
    if done.returncode != 0:
        tail = [line for line in done.stderr.splitlines() if line.strip()][-3:]
        raise WheelhouseError(
            "pip could not collect the image's wheels: " + (" | ".join(tail) or "no output"),
            "check the model's requirements.txt and that pip can reach your package index",
        )
    wheels = _without_unserved([_wheel(path) for path in sorted(dest.glob("*.whl"))], dest, named)
    # The image installs exactly these (pip --no-deps), so what runs is what the SBOM lists.
    lines = [f"{wheel.name}=={wheel.version}" for wheel in wheels]
    (dest / "requirements.txt").write_text("\n".join(lines) + "\n")
    return wheels


def _without_unserved(wheels: list[Wheel], dest: Path, named: set[str]) -> list[Wheel]:
    """Delete the UNSERVED wheels that only mlflow-skinny's own chain requires."""
    required_by: dict[str, set[str]] = {}
    for wheel in wheels:
        for dependency in _dependencies(dest / wheel.filename):
            required_by.setdefault(dependency, set()).add(wheel.name)
    kept = []
    for wheel in wheels:
        if wheel.name in UNSERVED and wheel.name not in named:
            if required_by.get(wheel.name, set()) <= _UNSERVED_VIA:
                (dest / wheel.filename).unlink()
                continue
        kept.append(wheel)
    return kept


def _dependencies(path: Path) -> set[str]:
    """The names a wheel requires on this Python and platform (extras left out)."""
    with zipfile.ZipFile(path) as archive:
        member = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(member).decode())
    names = set()
    for line in metadata.get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            names.add(str(canonicalize_name(requirement.name)))
    return names


def _pip_download(
    requested: Path, dest: Path, extra: list[str]
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--no-input",
               "--disable-pip-version-check", "--progress-bar", "off", "--dest", str(dest),
               *_target_options(), "-r", str(requested), *extra]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=1800)


def _target_options() -> list[str]:
    """The host's Python (cp311) on manylinux wheels that bookworm's glibc can run."""
    python = f"{sys.version_info.major}{sys.version_info.minor}"
    machine = platform.machine()
    platforms = [f"manylinux_2_{minor}_{machine}" for minor in range(17, TARGET_GLIBC_MINOR + 1)]
    options = ["--python-version", python, "--implementation", "cp", "--abi", f"cp{python}"]
    for tag in [*platforms, f"manylinux2014_{machine}"]:
        options += ["--platform", tag]
    return options


def _wheel(path: Path) -> Wheel:
    name, version, _build, _tags = parse_wheel_filename(path.name)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Wheel(str(name), str(version), path.name, digest)


def _requirement(text: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as error:
        raise WheelhouseError(f"{text!r} is not a valid requirement: {error}") from None


def _host_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _valid_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True
