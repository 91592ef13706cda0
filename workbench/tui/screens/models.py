"""The Models screen: models, their versions with aliases and gates; promote, roll back, card.

Promote and rollback touch only the catalogue, so they call services.models in a worker
(no child process). A refusal names the gate that refused, in a notification and under
the versions table; the audit row (of the move or of the refusal) is the service's. Each
read also fetches the labelled quality of the highlighted model's versions (last 24 h,
hourly) for the Quality panel; highlighting another model reads again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Footer, Markdown, Static

from workbench.core.errors import WorkbenchError
from workbench.services import models as model_service
from workbench.services.models import ModelDetails, RegisteredModel
from workbench.services.quality_view import VersionQuality, model_quality
from workbench.tui.dialogs import ReasonAnswer
from workbench.tui.screens.base import DataScreen, Freshness
from workbench.tui.widgets.alias_dialog import GATED_ALIAS, AliasAnswer, AliasDialog
from workbench.tui.widgets.quality_panel import QualityPanel
from workbench.tui.widgets.topbar import TopBar

_GATE_WIDTH = 34
# (header, width): fixed widths, so a header never lags behind rows that widen a column.
_MODEL_COLUMNS = (("MODEL", 24), ("VERSIONS", 8), ("LATEST", 6), ("ALIASES", 30), ("UPDATED", 16))
_VERSION_COLUMNS = (("VERSION", 7), ("ALIASES", 18), ("GATE", _GATE_WIDTH), ("SHA256", 12),
                    ("SOURCE RUN", 10), ("CREATED", 16))  # fmt: skip


@dataclass(frozen=True)
class ModelsData:
    """The registry, and the quality of each version of one of its models (by version)."""

    models: list[RegisteredModel]
    quality_of: str | None
    quality: dict[int, VersionQuality]


class ModelsScreen(DataScreen[ModelsData]):
    """Models, then the versions of the highlighted one: promote (P), roll back (B), card."""

    DEFAULT_CSS = """
    ModelsScreen #models { height: auto; max-height: 8; }
    ModelsScreen #versions { height: 1fr; }
    ModelsScreen #version-panels { height: 7; }
    ModelsScreen #version-detail { width: 1fr; height: 7; }
    ModelsScreen #quality { width: 1fr; height: 7; }
    ModelsScreen #refusal { height: auto; color: $error; padding: 0 1; display: none; }
    ModelsScreen #refusal.-shown { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("P", "promote", "Promote"),
        Binding("B", "rollback", "Rollback"),
        Binding("enter", "card", "Model card", show=False),
    ]
    PALETTE: ClassVar[list[tuple[str, str, str]]] = [
        ("Promote model version", "move an alias (champion) to the selected version", "promote"),
        ("Roll back model alias", "point an alias back at its previous version", "rollback"),
        ("Open model card", "the selected version's model card", "card"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._model: str | None = None
        self._quality: dict[str, dict[int, VersionQuality]] = {}
        """The newest quality read of each model, by model and version."""

    def compose(self) -> ComposeResult:
        yield TopBar("Models")
        yield Freshness()
        models: DataTable[str] = DataTable(id="models", cursor_type="row", classes="panel")
        models.border_title = "Models"
        yield models
        versions: DataTable[str] = DataTable(id="versions", cursor_type="row", classes="panel")
        versions.border_title = "Versions"
        yield versions
        yield Static("", id="refusal")
        with Horizontal(id="version-panels"):
            detail = Static("", id="version-detail", classes="panel")
            detail.border_title = "Gate"
            yield detail
            yield QualityPanel(id="quality", classes="panel")
        yield Footer()

    def on_mount(self) -> None:
        for table_id, columns in (("#models", _MODEL_COLUMNS), ("#versions", _VERSION_COLUMNS)):
            table = self.query_one(table_id, DataTable)
            for header, width in columns:
                table.add_column(header, width=width)

    def fetch(self) -> ModelsData:
        settings = self.workspace.settings
        models = model_service.registry(settings)
        chosen = next((m for m in models if m.name == self._model), models[0] if models else None)
        if chosen is None:
            return ModelsData(models, None, {})
        versions = [details.version.version for details in chosen.versions]
        found = model_quality(settings, chosen.name, versions, now=self.workspace.now())
        return ModelsData(models, chosen.name, found)

    def show(self, data: ModelsData) -> None:
        if data.quality_of is not None:
            self._quality[data.quality_of] = data.quality
        table = self.query_one("#models", DataTable)
        table.clear()
        table.border_title = "Models" if data.models else "Models: none registered yet"
        for found in data.models:
            aliases = ", ".join(f"{a}=v{v}" for a, v in sorted(found.aliases.items()))
            newest = found.versions[0].version if found.versions else None
            table.add_row(
                found.name,
                str(len(found.versions)),
                f"v{newest.version}" if newest else "-",
                aliases or "-",
                f"{newest.created_at:%Y-%m-%d %H:%M}" if newest and newest.created_at else "-",
                key=found.name,
            )
        names = [found.name for found in data.models]
        if self._model not in names:
            self._model = names[0] if names else None
        if self._model is not None:
            table.move_cursor(row=names.index(self._model))
        self._show_versions()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row != event.data_table.cursor_row:
            return  # a row highlighted while the table was refilled, passed since
        if event.data_table.id == "models" and event.row_key.value != self._model:
            self._model = event.row_key.value
            self._show_versions(keep_cursor=False)
            self.action_reload()  # the quality of this model's versions
        elif event.data_table.id == "versions":
            self._show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "models":
            self.query_one("#versions", DataTable).focus()
        else:
            self.action_card()

    def _show_versions(self, *, keep_cursor: bool = True) -> None:
        table = self.query_one("#versions", DataTable)
        keep = table.cursor_row if keep_cursor else 0
        table.clear()
        found = self._registered()
        table.border_title = f"{found.name}: versions" if found else "Versions"
        for details in found.versions if found else []:
            version = details.version
            table.add_row(
                f"v{version.version}",
                ", ".join(details.aliases) or "-",
                _gate_text(details),
                (version.sha256 or "-")[:12],
                (version.run_id or "-")[:8],
                f"{version.created_at:%Y-%m-%d %H:%M}" if version.created_at else "-",
                key=str(version.version),
            )
        if table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1))
        self._show_detail()

    def _show_detail(self) -> None:
        """The highlighted version's gate checks, one line each, and where it came from."""
        found = self._registered()
        row = self.query_one("#versions", DataTable).cursor_row
        panel = self.query_one("#version-detail", Static)
        quality = self.query_one(QualityPanel)
        if found is None or not 0 <= row < len(found.versions):
            panel.update("")
            quality.show_quality(None)
            return
        version = found.versions[row].version
        quality.show_quality(self._quality.get(found.name, {}).get(version.version))
        panel.border_title = f"{version.label}: gate {found.versions[row].gate_summary}"[:60]
        checks = (version.gate or {}).get("checks", [])
        lines = [
            f"{'[green]✓[/]' if check.get('passed') else '[red]✗[/]'} {check.get('name', '?')}"
            f"  [dim]{check.get('detail') or ''}[/]"
            for check in checks
        ] or ["[dim]no gate checks recorded[/]"]
        lines.append(f"[dim]run {version.run_id or '-'}  sha256 {version.sha256 or '-'}[/]")
        panel.update("\n".join(lines))

    def _registered(self) -> RegisteredModel | None:
        models = self.data.models if self.data else []
        return next((m for m in models if m.name == self._model), None)

    def _selected(self) -> tuple[RegisteredModel, ModelDetails] | None:
        """The highlighted model and version, or None (with a notification)."""
        found = self._registered()
        table = self.query_one("#versions", DataTable)
        if found is None or not found.versions or table.cursor_row >= len(found.versions):
            self.notify("no model version selected", severity="warning")
            return None
        return found, found.versions[table.cursor_row]

    def action_card(self) -> None:
        """Open the selected version's model card."""
        selected = self._selected()
        if selected is not None:
            self.app.push_screen(ModelCardScreen(selected[1].version.label))

    def action_promote(self) -> None:
        """Move an alias (default champion) to the selected version, after asking why."""
        selected = self._selected()
        if selected is None:
            return
        found, details = selected
        version = details.version.version

        def changes(alias: str) -> str:
            current = found.aliases.get(alias)
            before = f"v{current}" if current is not None else "(new alias)"
            note = "  (already there)" if current == version else ""
            gates = "\nchampion must pass the gates first" if alias == GATED_ALIAS else ""
            return f"{found.name}@{alias}: {before} -> v{version}{note}{gates}"

        def answered(answer: ReasonAnswer | None) -> None:
            if isinstance(answer, AliasAnswer):
                self.run_service("promote", self._promote, found.name, version, answer)

        self.app.push_screen(AliasDialog(f"Promote {details.version.label}", changes), answered)

    def action_rollback(self) -> None:
        """Point an alias back at the version it had before its last move, after asking why."""
        selected = self._selected()
        if selected is None:
            return
        found, details = selected
        alias = details.aliases[0] if details.aliases else GATED_ALIAS

        def changes(name: str) -> str:
            current = found.aliases.get(name)
            if current is None:
                return f"{found.name} has no alias {name!r}"
            target = found.rollback_targets.get(name)
            if target is None:
                return f"{found.name}@{name}: v{current} has no earlier version to go back to"
            return f"{found.name}@{name}: v{current} -> v{target}"

        def answered(answer: ReasonAnswer | None) -> None:
            if isinstance(answer, AliasAnswer):
                self.run_service("rollback", self._rollback, found.name, answer)

        dialog = AliasDialog(f"Roll back {found.name}", changes, alias, ask_approve=False)
        self.app.push_screen(dialog, answered)

    def _promote(self, name: str, version: int, answer: AliasAnswer) -> str:
        """Worker thread: the service call; a refusal is also put under the versions table."""
        try:
            moved = model_service.promote(
                self.workspace.settings, f"{name}:{version}", answer.alias,
                reason=answer.reason, approve=answer.approve,
            )  # fmt: skip
        except WorkbenchError as error:
            self.app.call_from_thread(self._show_refusal, "promote", error)
            raise
        before = f"v{moved['previous']}" if moved["previous"] is not None else "(new)"
        return f"{name}@{answer.alias}: {before} -> v{moved['version']}"

    def _rollback(self, name: str, answer: AliasAnswer) -> str:
        """Worker thread: the service call; a refusal is also put under the versions table."""
        try:
            moved = model_service.rollback(
                self.workspace.settings, name, answer.alias, reason=answer.reason
            )
        except WorkbenchError as error:
            self.app.call_from_thread(self._show_refusal, "rollback", error)
            raise
        return f"{name}@{answer.alias}: v{moved['previous']} -> v{moved['version']}"

    def _show_refusal(self, action: str, error: WorkbenchError) -> None:
        hint = f"\nhint: {error.hint}" if error.hint else ""
        line = self.query_one("#refusal", Static)
        line.update(f"{action} refused: {error.message}{hint}")
        line.add_class("-shown")

    def action_done(self, title: str, outcome: object) -> None:
        """A move went through: clear the last refusal, say what moved, reload."""
        line = self.query_one("#refusal", Static)
        line.update("")
        line.remove_class("-shown")
        super().action_done(title, outcome)


def _gate_text(details: ModelDetails) -> str:
    summary = details.gate_summary
    style = "green" if summary == "passed" else "red"
    return f"[{style}]{summary[:_GATE_WIDTH]}[/]"


class ModelCardScreen(DataScreen[str]):
    """One version's model card (services.models.model_card), scrollable; esc goes back."""

    DEFAULT_CSS = """
    ModelCardScreen VerticalScroll { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

    def __init__(self, ref: str) -> None:
        super().__init__()
        self.ref = ref

    def compose(self) -> ComposeResult:
        yield TopBar(f"Models · {self.ref}")
        yield Freshness()
        with VerticalScroll(classes="panel"):
            yield Markdown()
        yield Footer()

    def fetch(self) -> str:
        return model_service.model_card(self.workspace.settings, self.ref)

    def show(self, data: str) -> None:
        self.query_one(Markdown).update(data)

    def action_back(self) -> None:
        """Back to the versions."""
        self.dismiss()
