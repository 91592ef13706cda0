"""`workbench cluster ...`: a local Ray head that outlives the CLI and the TUI."""

from __future__ import annotations

import click

from workbench.cli.render import console, emit_json


@click.group()
def cluster() -> None:
    """Start, stop and inspect the local Ray cluster (127.0.0.1, token authentication)."""


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
    click.echo(f"cluster {state} at {info.profile.address}  dashboard {info.profile.dashboard_url}")
    for name, amount in sorted(info.resources.items()):
        shown = f"{amount / 2**30:.1f} GiB" if "memory" in name else f"{amount:g}"
        click.echo(f"  {name:<20} {shown}")
    for node in info.nodes:
        click.echo(f"  node {node}")
