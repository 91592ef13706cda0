"""The line at the top of every screen: app, screen, catalogue and the clock."""

from __future__ import annotations

from textual.widgets import Static


class TopBar(Static):
    """`Workbench · Runs · catalogue: ~/… · 12:04:31`; the clock ticks only in a live app."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self._title = title

    def on_mount(self) -> None:
        self._tick()
        workspace = getattr(self.app, "workspace", None)
        if workspace is not None and workspace.live:
            self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        workspace = getattr(self.app, "workspace", None)
        if workspace is None:
            self.update(f"[b]Workbench[/b] · {self._title}")
            return
        home = str(workspace.settings.home)
        self.update(
            f"[b]Workbench[/b] · {self._title}   catalogue: {home}   {workspace.now():%H:%M:%S} UTC"
        )
