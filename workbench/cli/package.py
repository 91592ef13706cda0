"""`workbench package build|run|ls`: model versions as OCI images, through the Docker engine."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from workbench.cli.render import console, emit_json, print_table, short_duration
from workbench.packaging import DEFAULT_BASE_IMAGE

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from workbench.packaging.docker_engine import BuildStep

MLFLOW_IMAGE_MB = 3000  # MLflow's `build-docker` images weigh about 3 GB


class BuildProgress:
    """Phases as lines, Dockerfile steps as a progress bar, all on stderr."""

    def __init__(self, out: Console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.out = out
        self.progress: Progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeElapsedColumn(), console=out, transient=True,
        )  # fmt: skip
        self.task: TaskID | None = None

    def phase(self, text: str) -> None:
        self.out.print(f"[dim]·[/] {text}")

    def step(self, step: BuildStep) -> None:
        from rich.markup import escape

        self.out.print(f"  [dim]Step {step.index}/{step.total}[/] {escape(step.instruction[:90])}")
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task("docker build", total=step.total)
        self.progress.update(self.task, completed=step.index - 1, total=step.total,
                             description=f"step {step.index}/{step.total}")  # fmt: skip

    def close(self) -> None:
        if self.task is not None:
            self.progress.stop()


@click.group()
def package() -> None:
    """Package model versions as OCI images (Docker Engine API) and run them locally."""


@package.command("build")
@click.argument("ref", metavar="NAME[:VERSION|@ALIAS]")
@click.option("--tag", help="Image tag.  [default: workbench/NAME:VERSION]")
@click.option(
    "--base-image",
    default=DEFAULT_BASE_IMAGE,
    show_default=True,
    help="Base image with python3 (same minor as this Python) and venv; it must be present "
    "locally or pullable.",
)
@click.option(
    "--context-only",
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Write the build context (Dockerfile, model, wheels, SBOM) to DIR; no engine needed.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def build(
    ref: str, tag: str | None, base_image: str, context_only: Path | None, as_json: bool
) -> None:
    """Build an image that serves a model version over the MLflow scoring protocol.

    \b
    The image runs as a non-root user, has a HEALTHCHECK, OCI labels (version, source
    run, sha256, metrics) and a CycloneDX SBOM at /opt/sbom.cdx.json. Wheels are
    collected here first, so the build itself runs with no network.

    \b
    Examples:
      workbench package build fraud@champion
      workbench package build fraud:3 --context-only ./fraud-image
    """
    from workbench.core.settings import load_settings
    from workbench.services.package import BuildRequest, build_package

    request = BuildRequest(ref, tag=tag, base_image=base_image, context_only=context_only)
    progress = BuildProgress(console(stderr=True))
    try:
        result = build_package(load_settings(), request, progress)
    finally:
        progress.close()
    if as_json:
        emit_json(result)
    elif context_only is not None:
        click.echo(f"wrote the build context of {result['name']} v{result['version']} to "
                   f"{result['context']} ({result['packages']} wheels)")  # fmt: skip
        click.echo(f"build it: {result['build']}", err=True)
    else:
        _print_built(console(), result)


def _print_built(out: Console, result: dict[str, Any]) -> None:
    size = float(result["size_mb"])
    out.print(f"[bold green]built[/] {result['tag']}  {result['image_id'][:19]}  "
              f"{size:.0f} MB in {short_duration(result['seconds'])}")  # fmt: skip
    out.print(f"  {MLFLOW_IMAGE_MB / size:.1f}x smaller than MLflow's ~3 GB model images; "
              f"{result['packages']} Python packages, no Ray inside")  # fmt: skip
    out.print("  largest layers:")
    for layer in result["largest_layers"]:
        out.print(f"    {layer['size_mb']:>8.1f} MB  {layer['created_by']}")
    out.print(f"  run it: workbench package run {result['tag']}", style="dim")


@package.command("run")
@click.argument("image")
@click.option("--port", type=click.IntRange(1, 65535), help="Host port.  [default: a free one]")
@click.option(
    "--no-auth",
    is_flag=True,
    help="Serve /invocations without a bearer token (anyone on this machine can call it).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def run(image: str, port: int | None, no_auth: bool, as_json: bool) -> None:
    """Start IMAGE detached on 127.0.0.1, wait until it is healthy, print its URL.

    \b
    The container runs read-only, with every capability dropped, no new privileges and a
    non-root user. /invocations needs the bearer token in the file this prints (made once
    per image under WORKBENCH_HOME/tokens, mounted read-only; never baked into the image).

    \b
    Example:
      workbench package run workbench/fraud:3 --port 8080
      curl -H "Authorization: Bearer $(cat TOKEN_FILE)" ...
    """
    from workbench.core.settings import load_settings
    from workbench.services.package import run_package

    started = run_package(load_settings(), image, port, auth=not no_auth)
    if as_json:
        emit_json(started)
        return
    click.echo(started["url"])
    if started["token_file"]:
        click.echo(f"bearer token in {started['token_file']}: send "
                   f"'Authorization: Bearer $(cat {started['token_file']})'", err=True)  # fmt: skip
    else:
        click.echo("serving WITHOUT auth (--no-auth)", err=True)
    click.echo(f"stop it: docker rm -f {started['container'][:12]}", err=True)


@package.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ls(as_json: bool) -> None:
    """List the images `package build` made (by their io.workbench.model.* labels)."""
    from workbench.services.package import list_packages

    images = list_packages()
    if as_json:
        emit_json(images)
        return
    if not images:
        console().print("no model images yet: workbench package build NAME", style="dim")
        return
    rows = [
        (", ".join(image["tags"]) or image["image_id"][:19], image["model"] or "-",
         image["version"] or "-", f"{image['size_mb']:.0f} MB", str(image["created"])[:19])
        for image in images
    ]  # fmt: skip
    print_table(("TAG", "MODEL", "VERSION", "SIZE", "CREATED"), rows, no_wrap=True)
