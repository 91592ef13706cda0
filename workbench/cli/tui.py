"""`workbench tui` (and plain `workbench` on a terminal): open the app."""

from __future__ import annotations

import click


@click.command()
@click.option(
    "--refresh", type=click.FloatRange(min=0.2), default=2.0, show_default=True,
    help="Seconds between reloads of the visible live screen.",
)  # fmt: skip
def tui(refresh: float) -> None:
    """Open the Workbench app: runs, models, deployments, pipelines and the cluster.

    \b
    Keys: o r m d p c switch screens, / filters, enter opens, esc goes back,
    ctrl+p or : opens the command palette, ? shows the keys, q quits.
    The app holds no lock on the catalogue: other terminals keep working.
    """
    open_app(refresh)


def open_app(refresh: float = 2.0) -> None:
    """Build the app from the environment's settings and run it until the user quits."""
    from workbench.core.settings import load_settings
    from workbench.tui.app import make_app
    from workbench.tui.context import Workspace

    make_app(Workspace(load_settings(), refresh_s=refresh)).run()
