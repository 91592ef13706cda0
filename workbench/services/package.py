"""`workbench package build|run|ls`: a model version as an OCI image, built by the Docker engine.

Audit: a build that produced an image records `package.build` (the row the champion gate
`--require-image` looks for); a build attempt that failed after the model was resolved
records `package.build.failed` with the error. Bad input and `--context-only` record nothing.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from workbench.artifacts.manifest import verify_registered
from workbench.catalogue.catalogue import Catalogue
from workbench.catalogue.models import ModelLedger
from workbench.core.entities import Run
from workbench.core.errors import InvalidInputError, WorkbenchError, first_line
from workbench.core.models import ModelRef
from workbench.core.settings import Settings
from workbench.owner import open_catalogue
from workbench.packaging import DEFAULT_BASE_IMAGE
from workbench.packaging import docker_engine as engine
from workbench.packaging.context import USER, ImageSpec, write_context
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
        base = engine.ensure_base_image(client, spec.base_image)
        spec = replace(spec, base_digest=base)
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
    built["base_digest"], built["base_digest_source"] = base.digest, base.source
    kept = ("tag", "image_id", "size_mb", "base_image", "base_digest")
    _record(settings, spec, {key: built[key] for key in kept}, built=True)
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
    if found.sha256:  # the manifest travels with the files; the registered digest does not
        verify_registered(Path(found.uri), found.sha256)
    return spec, Path(found.uri)


def run_package(
    settings: Settings, image: str, port: int | None, *, auth: bool = True
) -> dict[str, Any]:
    """Start IMAGE locked down on 127.0.0.1 and wait until it answers /ping.

    With `auth`, its bearer token is a file under WORKBENCH_HOME/tokens (made once per
    image, mode 0600), mounted read-only; the result names that file, never the token.
    """
    # deferred: the server's module loads starlette, which build and ls never need
    from workbench.serving.standalone import NO_AUTH_ENV, TOKEN_FILE_ENV

    client = engine.connect()
    if not auth:
        confinement = engine.Confinement(environment=((NO_AUTH_ENV, "1"),))
        return {**engine.run_container(client, image, port, confinement), "token_file": None}
    token_file = image_token_file(settings, image)
    confinement = engine.Confinement(
        user=_reader_of(token_file),
        environment=((TOKEN_FILE_ENV, engine.SECRET_MOUNT),),
        secret_file=token_file,
    )
    started = engine.run_container(client, image, port, confinement)
    return {**started, "token_file": str(token_file)}


def image_token_file(settings: Settings, image: str) -> Path:
    """WORKBENCH_HOME/tokens/image-IMAGE.token: a random bearer token, mode 0600, made once."""
    path = settings.home / "tokens" / f"image-{re.sub(r'[^A-Za-z0-9_.-]', '_', image)}.token"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path  # the image keeps its token across runs, as a deployment does
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(32))
    return path


def _reader_of(token_file: Path) -> str:
    """The container user that can read the 0600 token file through the bind mount.

    As root, the file is handed to the image's own user (root still reads it); otherwise
    the container runs as the calling (non-root) user, who owns the file.
    """
    if os.geteuid() == 0:
        uid, gid = (int(part) for part in USER.split(":"))
        os.chown(token_file, uid, gid)
        return USER
    return f"{os.getuid()}:{os.getgid()}"


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
