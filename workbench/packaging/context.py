"""The build context of a model image: a generated Dockerfile, the verified model directory,
a wheelhouse, model-info.json, a CycloneDX SBOM and Workbench's own (pure Python) source.

Everything the build needs is in the context, so `docker build` runs with no network.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.artifacts.manifest import verify_manifest
from workbench.core.errors import WorkbenchError
from workbench.core.version import __version__
from workbench.packaging.base_image import BaseDigest
from workbench.packaging.sbom import cyclonedx_sbom
from workbench.packaging.wheelhouse import (
    Wheel,
    collect_wheels,
    pin_requirements,
    read_requirements,
)

PORT = 8080
USER = "10001:10001"  # numeric, so runAsNonRoot policies can check it without /etc/passwd
PATH = "/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Names of files that hold credentials: a context containing one is refused, not filtered.
SECRET_FILE = re.compile(
    r"^(\.env(\..*)?|\.netrc|\.pypirc|\.git-credentials|\.dockercfg|auth_token|token|"
    r".*\.token|.*_token|id_(rsa|dsa|ecdsa|ed25519)|.*\.pem|.*\.key|credentials(\.json)?)$",
    re.IGNORECASE,
)
_WORKBENCH_SOURCE = Path(__file__).resolve().parents[1]
# The wheels are for the host's Python: a base image with another one stops the build early.
PYTHON_CHECK = (
    "import sys; v = '%d.%d' % sys.version_info[:2]; sys.exit(0 if v == '{python}' "
    "else 'the wheels are for Python {python}; this base image has Python ' + v)"
)
# Slim images have no curl: the health probe is Python's own urllib.
HEALTH_PROBE = (
    "import sys, urllib.request; "
    f"sys.exit(urllib.request.urlopen('http://127.0.0.1:{PORT}/ping', timeout=4).status != 200)"
)
# Pruned from site-packages after install: nothing a scoring server loads. Build-time
# sources and headers (for compiling extensions against a package), and pyarrow's Flight
# RPC (~35 MB; request bodies use only its CSV and Parquet readers) with the unversioned
# copies of libarrow_python (wheels cannot hold symlinks; modules load it by its soname).
SOURCE_FILES = ("*.pyx", "*.pxd", "*.pxi", "*.h", "*.hpp", "*.c", "*.cc", "*.cpp")
PRUNED_PATHS = (
    "pyarrow/include", "pyarrow/src", "pyarrow/*flight*", "pyarrow/libarrow_python.so",
    "pyarrow/libarrow_python.so.*.*.*",
)  # fmt: skip
SERVE_COMMAND = (
    "python3 -m workbench.serving --model-dir /opt/model --metadata /opt/model-info.json "
    f"--host 0.0.0.0 --port {PORT}"
).split()


class SecretInContextError(WorkbenchError):
    """A file that looks like a credential would have been baked into an image layer."""

    exit_code = 1


@dataclass(frozen=True)
class ImageSpec:
    """Who the image is: the model version, its provenance and metrics, where it builds from."""

    name: str
    version: int
    run_id: str | None
    sha256: str
    flavor: str
    metrics: dict[str, float]
    revision: str
    created: str
    tag: str
    base_image: str
    runtime: tuple[str, ...] = field(default=())
    base_digest: BaseDigest | None = None  # None only for --context-only (no engine asked)

    def info(self) -> dict[str, Any]:
        """model-info.json: what the server reports under /metadata."""
        return {"name": self.name, "version": self.version, "run_id": self.run_id,
                "sha256": self.sha256, "flavor": self.flavor, "metrics": self.metrics,
                "created": self.created, "revision": self.revision}  # fmt: skip

    def labels(self) -> dict[str, str]:
        """OCI annotations plus the model's identity, provenance and metrics."""
        return {
            "org.opencontainers.image.title": f"{self.name} v{self.version}",
            "org.opencontainers.image.version": str(self.version),
            "org.opencontainers.image.created": self.created,
            "org.opencontainers.image.revision": self.revision,
            "org.opencontainers.image.description": (
                f"Model {self.name} v{self.version} served over the MLflow scoring protocol"
            ),
            "io.workbench.model.name": self.name,
            "io.workbench.model.version": str(self.version),
            "io.workbench.model.source_run": self.run_id or "",
            "io.workbench.model.sha256": self.sha256,
            "io.workbench.model.metrics": json.dumps(self.metrics, sort_keys=True),
            "org.opencontainers.image.base.name": self.base_image,
            **self._base_digest_labels(),
        }

    def _base_digest_labels(self) -> dict[str, str]:
        if self.base_digest is None:
            return {}
        return {"org.opencontainers.image.base.digest": self.base_digest.digest,
                "io.workbench.base.digest_source": self.base_digest.source}  # fmt: skip


@dataclass(frozen=True)
class BuildContext:
    """A written context directory and the wheels its image installs."""

    path: Path
    wheels: list[Wheel]


def write_context(
    dest: Path, model_dir: Path, spec: ImageSpec, on_phase: Callable[[str], None]
) -> BuildContext:
    """Write the whole context into `dest` (an empty or new directory)."""
    dest.mkdir(parents=True, exist_ok=True)
    on_phase("verifying the model's manifest")
    verify_manifest(model_dir)
    refuse_secrets(model_dir)  # early: before minutes of wheel collection
    shutil.copytree(model_dir, dest / "model")  # every file: the manifest vouches for each
    verify_manifest(dest / "model")  # the copy is what ships: check it too
    on_phase("collecting wheels on the host (pip download, binary only)")
    requirements = pin_requirements(read_requirements(model_dir / "requirements.txt"), spec.runtime)
    wheels = collect_wheels(requirements, dest / "wheels")
    on_phase("writing Dockerfile, model-info.json and SBOM")
    shutil.copytree(_WORKBENCH_SOURCE, dest / "app" / "workbench",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.so"))  # fmt: skip
    _dist_info(dest / "app")
    (dest / "model-info.json").write_text(json.dumps(spec.info(), indent=2) + "\n")
    sbom = cyclonedx_sbom(wheels, image=spec.tag, model=spec.info(), created=spec.created,
                          base=(spec.base_image, spec.base_digest))  # fmt: skip
    (dest / "sbom.cdx.json").write_text(json.dumps(sbom, indent=2) + "\n")
    (dest / "Dockerfile").write_text(render_dockerfile(spec, wheels))
    refuse_secrets(dest)
    _readable(dest)
    return BuildContext(dest, wheels)


def refuse_secrets(root: Path) -> None:
    """Refuse a context holding a file named like a credential (token, key, .env, ...)."""
    for path in sorted(root.rglob("*")):
        if SECRET_FILE.match(path.name):
            raise SecretInContextError(
                f"refusing to package {path.relative_to(root)}: it looks like a credential",
                "remove it from the model artifact; pass secrets at run time, never in an image",
            )


def render_dockerfile(spec: ImageSpec, wheels: list[Wheel]) -> str:
    """Two stages: a builder installs the wheels into a venv, the final image copies the venv.

    Only classic-builder instructions (no BuildKit), so any Docker engine builds it. Few of
    them, settings first: each step copies the whole image on the vfs storage driver, and
    settings cost little on the bare base. LABEL comes last so the venv layer is shared.
    """
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    labels = " \\\n      ".join(f"{key}={_quote(value)}" for key, value in spec.labels().items())
    return f"""\
# Generated by workbench for {spec.name} v{spec.version}. Build it offline with:
#   docker build --network none -t {spec.tag} .
FROM {spec.base_image} AS builder
COPY wheels /wheels
RUN python3 -c {_quote(PYTHON_CHECK.format(python=python))} \\
 && python3 -m venv /opt/venv \\
 && /opt/venv/bin/python -m pip install --no-index --find-links /wheels --no-cache-dir \\
      --no-deps --disable-pip-version-check -r /wheels/requirements.txt \\
{_drop_tools(wheels)} && cd /opt/venv/lib/python{python}/site-packages \\
 && find . -depth -type d -name tests -exec rm -rf {{}} + \\
 && find . -type f \\( {_find_names(SOURCE_FILES)} \\) -delete \\
 && rm -rf {" ".join(PRUNED_PATHS)} \\
 && groupadd --system --gid 10001 workbench \\
 && useradd --system --uid 10001 --gid workbench --create-home --shell /usr/sbin/nologin \\
      workbench \\
 && mkdir -p /stage/opt /stage/home /stage/etc \\
 && mv /opt/venv /stage/opt/ && mv /home/workbench /stage/home/ \\
 && cp -p /etc/passwd /etc/group /stage/etc/

FROM {spec.base_image}
ENV PATH={PATH} \\
    PYTHONPATH=/app PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER {USER}
EXPOSE {PORT}
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \\
  CMD {json.dumps(["python3", "-c", HEALTH_PROBE])}
CMD {json.dumps(SERVE_COMMAND)}
# The venv, the user's home and its /etc/passwd and /etc/group entries (same base image).
COPY --from=builder /stage /
COPY app /app
COPY model /opt/model
COPY model-info.json sbom.cdx.json /opt/
LABEL {labels}
"""


def _find_names(patterns: tuple[str, ...]) -> str:
    """`-name 'a' -o -name 'b'`: find's test for any of `patterns`."""
    return " -o ".join(f"-name '{pattern}'" for pattern in patterns)


def _drop_tools(wheels: list[Wheel]) -> str:
    """pip and setuptools came with the venv, not from the wheelhouse: the image needs neither."""
    drop = sorted({"pip", "setuptools"} - {wheel.name for wheel in wheels})
    return f" && /opt/venv/bin/python -m pip uninstall -y -q {' '.join(drop)} \\\n" if drop else ""


def _dist_info(app: Path) -> None:
    """Metadata beside the copied source, so `importlib.metadata` reports its version."""
    info = app / f"workbench-{__version__}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: workbench\nVersion: {__version__}\n"
    )


def _readable(root: Path) -> None:
    """Directories 755 and files 644: COPY keeps modes, and the image's user is not the owner."""
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _quote(value: str) -> str:
    """A double-quoted Dockerfile word: no variable expansion, no line breaks."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return '"' + " ".join(escaped.splitlines()) + '"'
