"""`workbench cluster ...`: a local Ray head that outlives the CLI and the TUI, and shared
clusters saved as named profiles."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from workbench.cli.render import console, emit_json

if TYPE_CHECKING:
    from workbench.services.cluster import ClusterProfile


@click.group()
def cluster() -> None:
    """Start, stop and inspect the local Ray cluster, or connect to shared ones.

    \b
    The local head listens on 127.0.0.1 with token authentication. Shared clusters are
    saved as named profiles (like kubectl contexts); commands use the current one.
    Examples:
      workbench cluster up --cpus 4
      workbench cluster connect team --address 10.0.0.5:6379 --token-file ~/.ray/team_token
      workbench cluster ls
      workbench cluster use local
    """


@cluster.command("up")
@click.option("--cpus", type=int, help="CPUs to offer (default: all cores).")
@click.option("--gpus", type=int, help="GPUs to offer (default: what NVML sees).")
@click.option("--json", "as_json", is_flag=True, help="Print the cluster profile as JSON.")
def up(cpus: int | None, gpus: int | None, as_json: bool) -> None:
    """Start a local head bound to 127.0.0.1 with token authentication."""
    from dataclasses import asdict

    from workbench.core.settings import load_settings
    from workbench.services import cluster as cluster_service

    with console(stderr=True).status("starting Ray head ..."):
        profile = cluster_service.up(load_settings(), cpus=cpus, gpus=gpus)
    if as_json:
        emit_json(asdict(profile))
        return
    click.echo(f"cluster up at {profile.address} ({profile.cpus} CPUs, {profile.gpus} GPUs)")
    click.echo(f"dashboard {profile.dashboard_url}; token in {profile.token_file} (not shown)")


@cluster.command("down")
def down() -> None:
    """Stop the local head and forget it (running work is stopped)."""
    from workbench.core.settings import load_settings
    from workbench.services import cluster as cluster_service

    with console(stderr=True).status("stopping Ray head ..."):
        stopped = cluster_service.down(load_settings())
    click.echo(f"cluster at {stopped.address} stopped" if stopped else "no cluster was up")


@cluster.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(as_json: bool) -> None:
    """Show whether the cluster is up, its nodes and resources."""
    from workbench.core.settings import load_settings
    from workbench.services import cluster as cluster_service

    info = cluster_service.status(load_settings())
    if as_json:
        emit_json(info.to_json())
        return
    if info.profile is None:
        click.echo(f"no cluster up: {info.hint}")
        return
    state = "up" if info.up else "DOWN"
    dashboard = f"  dashboard {info.profile.dashboard_url}" if info.profile.dashboard_url else ""
    click.echo(f"cluster {info.profile.name} {state} at {info.profile.address}{dashboard}")
    for name, amount in sorted(info.resources.items()):
        shown = f"{amount / 2**30:.1f} GiB" if "memory" in name else f"{amount:g}"
        click.echo(f"  {name:<20} {shown}")
    for node in info.nodes:
        click.echo(f"  node {node}")
    for warning in info.warnings:
        click.echo(f"warning: {warning}", err=True)


@cluster.command("connect")
@click.argument("name")
@click.option("--address", required=True, help="The head's GCS address, HOST:PORT.")
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A file (mode 0600) holding the cluster's token.",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="Accept a head that checks no token (every command that uses it then warns).",
)
@click.option(
    "--dashboard",
    metavar="URL",
    help="Where its dashboard (and Jobs API) answers; default: the address the head announced.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the saved profile as JSON.")
def connect(
    name: str,
    address: str,
    token_file: Path | None,
    insecure: bool,
    dashboard: str | None,
    as_json: bool,
) -> None:
    """Check a shared cluster and save it as NAME, the cluster in use from now on.

    \b
    The head must answer, check tokens, take this token, and run this machine's Ray and
    Python versions; the token stays in its file (never copied or printed). Example:
      workbench cluster connect team --address 10.0.0.5:6379 --token-file ~/.ray/team_token
    """
    from workbench.core.settings import load_settings
    from workbench.services import clusters

    with console(stderr=True).status(f"checking the head at {address} ..."):
        saved = clusters.connect(
            load_settings(), name, address, token_file.expanduser() if token_file else None,
            insecure=insecure, dashboard=dashboard,
        )  # fmt: skip
    if as_json:
        emit_json(_profile_json(saved))
        return
    if saved.insecure:
        click.echo(f"warning: cluster {name} checks no token: anyone who reaches it can run code "
                   "on it", err=True)  # fmt: skip
    click.echo(f"connected: cluster {name} at {address} is in use (`cluster use local` to leave)")


@cluster.command("use")
@click.argument("name")
def use(name: str) -> None:
    """Make NAME the cluster in use; `local` is the local head (or an embedded Ray)."""
    from workbench.core.settings import load_settings
    from workbench.services import clusters

    chosen = clusters.use(load_settings(), name)
    where = chosen.address if chosen is not None else "an embedded Ray (no head up)"
    click.echo(f"using {name}: {where}")


@cluster.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ls(as_json: bool) -> None:
    """List the saved clusters; * marks the one in use."""
    from workbench.cli.render import print_table
    from workbench.core.settings import load_settings
    from workbench.services import clusters

    rows = clusters.listing(load_settings())
    if as_json:
        emit_json([row.to_json() for row in rows])
        return
    print_table(
        ["", "NAME", "ADDRESS", "STATE", "AUTH"],
        [
            ["*" if r.current else "", r.name, r.address, "up" if r.up else "down",
             "NONE (insecure)" if r.insecure else "token"]
            for r in rows
        ],
    )  # fmt: skip


@cluster.command("forget")
@click.argument("name")
def forget(name: str) -> None:
    """Forget the shared cluster NAME (the cluster itself is untouched)."""
    from workbench.core.settings import load_settings
    from workbench.services import clusters

    clusters.forget(load_settings(), name)
    click.echo(f"forgot cluster {name}")


def _profile_json(profile: ClusterProfile) -> dict[str, object]:
    from dataclasses import asdict

    document = asdict(profile)
    document.pop("process_group", None)
    return document
