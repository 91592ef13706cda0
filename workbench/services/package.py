"""`workbench package build|run|ls`: a model version as an OCI image, built by the Docker engine.

Audit: a build that produced an image records `package.build` (the row the champion gate
`--require-image` looks for); a build attempt that failed after the model was resolved
records `package.build.failed` with the error. Bad input and `--context-only` record nothing.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from workbench.catalogue.catalogue import Catalogue
from workbench.catalogue.models import ModelLedger
from workbench.core.entities import Run
from workbench.core.errors import InvalidInputError, WorkbenchError, first_line
from workbench.core.models import ModelRef
from workbench.core.settings import Settings
from workbench.owner import open_catalogue
from workbench.packaging import DEFAULT_BASE_IMAGE
from workbench.packaging import docker_engine as engine
from workbench.packaging.context import ImageSpec, write_context
from workbench.serving import RUNTIME_REQUIREMENTS

# The serving app loads models as MLflow pyfuncs; the wheelhouse makes this mlflow-skinny.
PYFUNC_LOADER = "mlflow"
_TAG = re.compile(r"^[a-z0-9]+([._/-][a-z0-9]+)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$")


class BuildEvents(Protocol):
    """What a front end hears during a build (a progress display)."""

    def phase(self, text: str) -> None: ...
    def step(self, step: engine.BuildStep) -> None: ...


@dataclass(frozen=True)
class BuildRequest:
    """`package build` as the user typed it."""

    ref: str
    tag: str | None = None
    base_image: str = DEFAULT_BASE_IMAGE
    context_only: Path | None = None


def build_package(settings: Settings, request: BuildRequest, events: BuildEvents) -> dict[str, Any]:
    """Write the context, then (unless --context-only) build it and record the image."""
    spec, model_dir = image_spec(settings, request)
    summary: dict[str, Any] = {"name": spec.name, "version": spec.version, "tag": spec.tag,
                               "base_image": spec.base_image}  # fmt: skip
    if request.context_only is not None:
        dest = request.context_only
        created = _check_empty(dest)
        try:
            context = write_context(dest, model_dir, spec, events.phase)
        except BaseException:
            if created:  # leave no half-written context behind
                shutil.rmtree(dest, ignore_errors=True)
            raise
        return {**summary, "context": str(dest), "packages": len(context.wheels),
                "build": f"docker build --network none -t {spec.tag} {dest}"}  # fmt: skip
    started = time.monotonic()
    try:
        events.phase("connecting to the Docker engine")
        client = engine.connect()
        engine.ensure_base_image(client, spec.base_image)
        with tempfile.TemporaryDirectory(prefix="workbench-context-") as scratch:
            context = write_context(Path(scratch), model_dir, spec, events.phase)
            events.phase(f"building {spec.tag}")
            image_id = engine.build_image(client, context.path, spec.tag, events.step)
        report = engine.image_report(client, image_id)
    except Exception as error:  # any failed attempt is audited, then reported as it was
        why = error.message if isinstance(error, WorkbenchError) else first_line(error)
        _record(settings, spec, {"tag": spec.tag, "error": why}, built=False)
        raise
    built = {**summary, **report, "packages": len(context.wheels),
             "seconds": round(time.monotonic() - started, 1)}  # fmt: skip
    _record(settings, spec, {k: built[k] for k in ("tag", "image_id", "size_mb", "base_image")},
            built=True)  # fmt: skip
    return built


def image_spec(settings: Settings, request: BuildRequest) -> tuple[ImageSpec, Path]:
    """Resolve the model reference and gather what the image's labels and metadata say."""
    if request.tag is not None and not _TAG.match(request.tag):
        raise InvalidInputError(f"{request.tag!r} is not a valid image tag",
                                "lowercase REPOSITORY[:TAG], e.g. acme/fraud:1")  # fmt: skip
    ref = ModelRef.parse(request.ref)
    with open_catalogue(settings) as catalogue:
        found = ModelLedger(catalogue).resolve(ref)
        run = _source_run(catalogue, found.run_id)
    tag = request.tag or f"workbench/{ref.name.lower()}:{found.version}"
    if not _TAG.match(tag):
        raise InvalidInputError(f"model name {ref.name!r} makes no valid image tag",
                                "name the image with --tag REPOSITORY[:TAG]")  # fmt: skip
    spec = ImageSpec(
        name=ref.name,
        version=found.version,
        run_id=found.run_id,
        sha256=found.sha256 or "",
        flavor=found.flavor or "",
        metrics=dict(run.metrics) if run else {},
        revision=(run.lineage.git_commit if run else None) or "unknown",
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        tag=tag,
        base_image=request.base_image,
        runtime=(*RUNTIME_REQUIREMENTS, PYFUNC_LOADER),
    )
    return spec, Path(found.uri)


def run_package(image: str, port: int | None) -> dict[str, Any]:
    """Start IMAGE on 127.0.0.1 and wait until it answers /ping."""
    return engine.run_container(engine.connect(), image, port)


def list_packages() -> list[dict[str, Any]]:
    """Images that `package build` made (they carry the model labels)."""
    return engine.list_images(engine.connect())


def _source_run(catalogue: Catalogue, run_id: str | None) -> Run | None:
    if not run_id:
        return None
    try:
        return catalogue.get_run(run_id)
    except WorkbenchError:  # the run was deleted: the image still builds, with fewer labels
        return None


def _record(settings: Settings, spec: ImageSpec, details: dict[str, Any], *, built: bool) -> None:
    with open_catalogue(settings) as catalogue:
        registry = ModelLedger(catalogue)
        if built:
            registry.record_image_built(spec.name, spec.version, details)
        else:
            registry.record_build_failure(spec.name, spec.version, details)


def _check_empty(path: Path) -> bool:
    """Refuse a --context-only DIR that holds anything; True when it does not exist yet."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InvalidInputError(f"{path} exists and is not an empty directory",
                                "--context-only needs a new or empty directory")  # fmt: skip
    return not path.exists()
