"""`workbench models ...` and `workbench audit ls`: the registry and its audit trail."""

from __future__ import annotations

import click

from workbench.cli.render import Column, console, emit_json, print_table, short_time


@click.group()
def models() -> None:
    """Model versions and aliases (champion, challenger, any name)."""


@models.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ls(as_json: bool) -> None:
    """List registered models with their latest version and aliases."""
    from workbench.core.settings import load_settings
    from workbench.services.models import list_models

    found = list_models(load_settings())
    if as_json:
        emit_json([model.to_json() for model in found])
        return
    if not found:
        console().print("no models yet: a run whose gate passes registers one", style="dim")
        return
    rows = [
        (model.name, str(model.versions), f"v{model.latest}", ", ".join(model.aliases) or "-",
         short_time(model.updated_at))
        for model in found
    ]  # fmt: skip
    print_table(("MODEL", "VERSIONS", "LATEST", "ALIASES", "UPDATED"), rows, no_wrap=True)


@models.command("show")
@click.argument("ref", metavar="NAME[:VERSION|@ALIAS]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(ref: str, as_json: bool) -> None:
    """Show one model version: source run, checksum, signature, gate, aliases."""
    from workbench.core.settings import load_settings
    from workbench.services.models import show_model

    details = show_model(load_settings(), ref)
    if as_json:
        emit_json(details.to_json())
        return
    found = details.version
    out = console()
    out.print(f"[bold]{found.name}[/] v{found.version}  {', '.join(details.aliases)}")
    for label in ("run_id", "flavor", "uri", "sha256", "created_at"):
        out.print(f"  [dim]{label:<10}[/] {getattr(found, label)}")
    verdict = "[green]passed[/]" if found.gate_passed else "[red]not passed[/]"
    out.print(f"  [dim]gate[/]       {verdict}")
    for check in (found.gate or {}).get("checks", []):
        out.print(f"    {'✓' if check.get('passed') else '✗'} {check.get('detail')}")


@models.command("card")
@click.argument("ref", metavar="NAME[:VERSION|@ALIAS]")
def card(ref: str) -> None:
    """Print a Markdown model card: intended use, lineage, params, metrics, gate, drift.

    \b
    Example: workbench models card fraud@champion > MODEL_CARD.md
    """
    from workbench.core.settings import load_settings
    from workbench.services.models import model_card

    click.echo(model_card(load_settings(), ref))


@models.command("promote")
@click.argument("ref", metavar="NAME:VERSION")
@click.argument("alias")
@click.option("--reason", required=True, help="Why: kept in the audit trail.")
@click.option(
    "--approve", is_flag=True, help="Record you (OS user or WORKBENCH_IDENTITY) as approver."
)
@click.option("--require-image", is_flag=True, help="Refuse unless an image of it was built.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def promote(
    ref: str, alias: str, reason: str, approve: bool, require_image: bool, as_json: bool
) -> None:
    """Point ALIAS at NAME:VERSION. `champion` must pass the gates first.

    Gates for champion: the evaluation gate passed, no open drift alert, the artifact
    matches its manifest, and with --require-image an image was built. A refusal
    exits 1 and is itself recorded in the audit trail.
    """
    from workbench.core.settings import load_settings
    from workbench.services.models import promote as promote_model

    moved = promote_model(
        load_settings(), ref, alias, reason=reason, approve=approve, require_image=require_image
    )
    _report(moved, as_json)


@models.command("rollback")
@click.argument("name")
@click.argument("alias")
@click.option("--reason", required=True, help="Why: kept in the audit trail.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def rollback(name: str, alias: str, reason: str, as_json: bool) -> None:
    """Point NAME@ALIAS back at the version it pointed to before its last move."""
    from workbench.core.settings import load_settings
    from workbench.services.models import rollback as rollback_model

    _report(rollback_model(load_settings(), name, alias, reason=reason), as_json)


def _report(moved: dict[str, object], as_json: bool) -> None:
    if as_json:
        emit_json(moved)
        return
    before = f" (was v{moved['previous']})" if moved.get("previous") else ""
    click.echo(f"{moved['name']}@{moved['alias']} -> v{moved['version']}{before}")


@click.group()
def audit() -> None:
    """The append-only audit trail: alias moves, approvals, registrations, builds."""


@audit.command("ls")
@click.option("--limit", "-n", default=100, show_default=True, help="Newest N events.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def audit_ls(limit: int, as_json: bool) -> None:
    """List audit events, newest first."""
    from workbench.core.settings import load_settings
    from workbench.services.models import audit_trail

    events = audit_trail(load_settings(), limit)
    if as_json:
        emit_json([event.to_json() for event in events])
        return
    rows = [
        (str(event.event_id), short_time(event.ts), event.actor, event.action,
         event.target or "-", event.reason or "-")
        for event in events
    ]  # fmt: skip
    print_table(("#", "WHEN", "WHO", "ACTION", "TARGET", Column("WHY")), rows, no_wrap=True)
