"""The Docker Engine API through the docker SDK: build with streamed steps, run, list.

Every SDK import is deferred to the function that needs it: `import docker` pulls in
requests and friends, and commands that never talk to an engine must not pay for that.
"""

from __future__ import annotations

import re
import socket
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core.errors import NotFoundError, WorkbenchError, first_line
from workbench.packaging.base_image import BaseDigest
from workbench.packaging.context import PORT, USER

MODEL_LABEL = "io.workbench.model.name"
NETWORK = "workbench"  # used only on engines without a default bridge network
_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_NONZERO = re.compile(r"returned a non-zero code: (\d+)$")
SECRET_MOUNT = "/run/secrets/workbench"  # where a container finds its bearer token file
# A small /tmp for libraries that want scratch space: the root filesystem is read-only.
TMPFS = {"/tmp": "rw,noexec,nosuid,nodev,size=64m"}
_NO_ENGINE_HINT = (
    "start Docker (or set DOCKER_HOST), or write the build context only: --context-only DIR"
)


class EngineUnavailable(WorkbenchError):
    """No Docker engine answered."""

    exit_code = 1


class BaseImageMissing(WorkbenchError):
    """The base image is neither on this machine nor pullable."""

    exit_code = 1


class BuildFailed(WorkbenchError):
    """A Dockerfile step failed; the message carries that step's last log lines."""

    exit_code = 1


class ContainerUnhealthy(WorkbenchError):
    """A started container did not answer /ping in time (it was removed)."""

    exit_code = 1


@dataclass(frozen=True)
class BuildStep:
    """`Step 3/12 : RUN ...` as the classic builder announces it."""

    index: int
    total: int
    instruction: str


def connect(timeout: float = 120) -> Any:
    """A docker.DockerClient that has answered a ping, or EngineUnavailable."""
    import docker  # deferred: see the module docstring
    import requests

    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except (docker.errors.DockerException, requests.RequestException) as error:
        raise EngineUnavailable(
            f"no Docker engine is reachable: {first_line(error)}", _NO_ENGINE_HINT
        ) from None
    return client


def ensure_base_image(client: Any, image: str) -> BaseDigest:
    """Use `image` if it is local, else try to pull it once; its digest, or BaseImageMissing."""
    import docker

    try:
        return BaseDigest.of(image, client.images.get(image).attrs)
    except docker.errors.ImageNotFound:
        pass
    try:
        return BaseDigest.of(image, client.images.pull(image).attrs)
    except docker.errors.DockerException as error:
        raise BaseImageMissing(
            f"base image {image!r} is not on this machine and could not be pulled: "
            f"{first_line(error)}",
            f"`docker pull {image}` where a registry is reachable, or pick a local image "
            "with --base-image",
        ) from None


def build_image(client: Any, context: Path, tag: str, on_step: Callable[[BuildStep], None]) -> str:
    """Build `context` as `tag` with no network; the image id. Steps stream to `on_step`."""
    import docker

    tail: deque[str] = deque(maxlen=12)
    step: BuildStep | None = None
    image_id = None
    try:
        for chunk in _build_stream(client, context, tag):
            for line in str(chunk.get("stream", "")).splitlines():
                if match := _STEP.match(line.strip()):
                    step = BuildStep(int(match[1]), int(match[2]), match[3])
                    tail.clear()
                    on_step(step)
                elif line.strip():
                    tail.append(line.rstrip())
            if "error" in chunk:
                raise _failed(step, str(chunk["error"]), tail)
            image_id = (chunk.get("aux") or {}).get("ID", image_id)
    except docker.errors.APIError as error:
        raise BuildFailed(f"docker build was refused: {first_line(error)}") from None
    if image_id is None:
        image_id = client.images.get(tag).id
    return str(image_id)


def _failed(step: BuildStep | None, error: str, tail: deque[str]) -> BuildFailed:
    where = f"step {step.index}/{step.total} ({step.instruction[:60]})" if step else "its start"
    lines = error.strip().splitlines() or ["unknown error"]
    code = _NONZERO.search(lines[0])  # the message repeats the whole RUN line
    why = f"the command exited with code {code[1]}" if code else lines[0]
    log = "\n".join(f"    {line}" for line in tail)
    return BuildFailed(f"docker build failed at {where}: {why}",
                       f"the step's last log lines:\n{log}" if log else "")  # fmt: skip


def _build_stream(client: Any, context: Path, tag: str) -> Iterator[dict[str, Any]]:
    # network_mode none: the wheelhouse is in the context, so a step that reaches for the
    # network fails here instead of silently depending on it.
    return client.api.build(
        path=str(context), tag=tag, rm=True, forcerm=True, pull=False, decode=True,
        network_mode="none",
    )  # fmt: skip


def image_report(client: Any, image_id: str, top: int = 3) -> dict[str, Any]:
    """Size of the image and its largest layers (what they were made by)."""
    image = client.images.get(image_id)
    layers = [
        {"size_mb": round(layer["Size"] / 1e6, 1), "created_by": _short(layer["CreatedBy"])}
        for layer in client.api.history(image_id)
        if layer.get("Size")
    ]
    layers.sort(key=lambda layer: -layer["size_mb"])
    return {"image_id": image.id, "size_mb": round(image.attrs["Size"] / 1e6, 1),
            "largest_layers": layers[:top]}  # fmt: skip


def _short(created_by: str) -> str:
    """`/bin/sh -c #(nop) COPY dir:5f3a... in /opt/venv` -> `COPY dir in /opt/venv`."""
    text = re.sub(r"^/bin/sh -c (#\(nop\) )?", "", created_by.strip())
    text = re.sub(r"\b(dir|file|multi):[0-9a-f]{64}", r"\1", text)
    return " ".join(text.split())[:80] or "(base image)"


@dataclass(frozen=True)
class Confinement:
    """How a container runs: as whom, with which environment and read-only secret file."""

    user: str = USER
    environment: tuple[tuple[str, str], ...] = ()
    secret_file: Path | None = None  # mounted read-only at SECRET_MOUNT


def run_container(
    client: Any, image: str, port: int | None, confinement: Confinement, wait_s: float = 60
) -> dict[str, Any]:
    """Start `image` detached and locked down; return once /ping answers.

    Port 8080 is published on 127.0.0.1 only; the root filesystem is read-only (a small
    tmpfs on /tmp), every capability is dropped and no process can gain privileges.
    """
    import docker

    try:
        client.images.get(image)  # create would not pull it, but say so plainly
    except docker.errors.ImageNotFound:
        raise NotFoundError(
            f"no image {image!r} on this machine", "see: workbench package ls"
        ) from None
    port = port or free_port()
    options: dict[str, Any] = {
        "ports": {f"{PORT}/tcp": ("127.0.0.1", port)}, "user": confinement.user,
        "read_only": True, "tmpfs": TMPFS, "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"], "environment": dict(confinement.environment),
    }  # fmt: skip
    if confinement.secret_file is not None:
        options["volumes"] = {str(confinement.secret_file): {"bind": SECRET_MOUNT, "mode": "ro"}}
    if "bridge" not in {network.name for network in client.networks.list()}:
        options["network"] = _network(client).name  # an engine started with --bridge=none
    try:
        container = client.containers.create(image, detach=True, **options)
    except docker.errors.APIError as error:
        raise _not_started(image, error) from None
    url = f"http://127.0.0.1:{port}"
    try:
        container.start()
        _wait_healthy(container, url, wait_s)
    except BaseException as error:
        container.remove(force=True)  # a container that never served is not left behind
        if isinstance(error, docker.errors.APIError):
            raise _not_started(image, error) from None
        raise
    return {"container": container.id, "url": url, "image": image}


def _not_started(image: str, error: Exception) -> WorkbenchError:
    hint = "is the port taken? pick another with --port"
    return WorkbenchError(f"docker could not start {image}: {first_line(error)}", hint, exit_code=1)


def _wait_healthy(container: Any, url: str, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        container.reload()
        if container.status in ("exited", "dead"):
            break
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass  # not listening yet (the port proxy accepts, then drops the connection)
        time.sleep(0.5)
    logs = container.logs(tail=15).decode(errors="replace").splitlines()
    if container.status in ("exited", "dead"):
        code = container.attrs.get("State", {}).get("ExitCode")
        what = f"exited (code {code}) before it answered {url}/ping"
    else:
        what = f"did not answer {url}/ping within {wait_s:.0f}s"
    raise ContainerUnhealthy(
        f"container {container.short_id} {what}; it was removed",
        "its last log lines:\n" + "\n".join(f"    {line}" for line in logs or ["(none)"]),
    )


def _network(client: Any) -> Any:
    """The user-defined bridge network for engines that have no default bridge."""
    found = client.networks.list(names=[NETWORK])
    return found[0] if found else client.networks.create(NETWORK, driver="bridge")


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def list_images(client: Any) -> list[dict[str, Any]]:
    """Images built by `package build` (they carry the model-name label), newest first."""
    rows = []
    for image in client.images.list(filters={"label": MODEL_LABEL}):
        labels = image.labels or {}
        rows.append(
            {
                "tags": image.tags,
                "image_id": image.id,
                "model": labels.get(MODEL_LABEL),
                "version": labels.get("io.workbench.model.version"),
                "size_mb": round(image.attrs["Size"] / 1e6, 1),
                "created": image.attrs["Created"],
            }
        )
    return sorted(rows, key=lambda row: str(row["created"]), reverse=True)
