"""The Drift screen (f): every drift check, the selected one's features and histograms.

Left: the checks, newest first, and the drifted share of the selected check's deployment
(or model) over its past checks. Right: the check's features, drift first, coloured by
status, and the highlighted feature's reference vs current histogram. Reads go through
services.drift_view (no statistics, no scipy, no Ray here); `x` checks the selected model
version again in a child `workbench drift check ... --json`, as the app never joins Ray.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.widgets import DataTable, Footer, Input, Static

from workbench.core.errors import WorkbenchError
from workbench.services.child import run_json
from workbench.services.drift_view import (
    CheckDetail,
    CheckRow,
    DriftChecks,
    FeatureRow,
    check_detail,
    drift_checks,
    format_age,
)
from workbench.tui.screens.base import DataScreen, Freshness
from workbench.tui.widgets.chart import Chart, Series
from workbench.tui.widgets.drift_histogram import DriftHistogram
from workbench.tui.widgets.topbar import TopBar

log = logging.getLogger(__name__)

EMPTY = (
    "no drift checks yet: `workbench drift check NAME`\n\n"
    "[dim]a check compares a model version's reference profile (stored at registration) with "
    "its served traffic or a file; two files: "
    "`workbench drift check --reference FILE --current FILE`[/dim]"
)
WIDE_AT = 100
STATUS_STYLES = {
    "drift": "bold red",
    "insufficient_data": "yellow",
    "error": "magenta",
    "ok": "green",
}
STATUS_WORDS = {"insufficient_data": "too few"}
"""Status words too long for the tables (the panel titles spell them out)."""
NUMBER_COLUMNS = frozenset({"ROWS", "VALUE", "THRESH", "MISSING", "MISS", "UNSEEN"})
METHOD_WORDS = {"wasserstein": "wass", "jensenshannon": "js", "chisquare": "chi2"}
# (header, width) per layout; cells carry their own trailing space (the tables pad nothing).
Columns = tuple[tuple[str, int], ...]
_CHECK_COLUMNS: dict[bool, Columns] = {
    True: (("WHEN", 12), ("MODEL", 16), ("DEPLOY", 8), ("DRIFT", 10), ("ROWS", 5)),
    False: (("WHEN", 6), ("MODEL", 14), ("DRIFT", 10)),
}
_FEATURE_COLUMNS: dict[bool, Columns] = {
    True: (("FEATURE", 14), ("STATUS", 8), ("METH", 5), ("VALUE", 9), ("THRESH", 7),
           ("MISSING", 8), ("UNSEEN", 7)),
    False: (("FEATURE", 11), ("STATUS", 8), ("VALUE", 9), ("MISS", 7), ("UNSEEN", 7)),
}  # fmt: skip


class DriftScreen(DataScreen[DriftChecks]):
    """Drift checks, newest first; the selected check's features and histograms. x: check now."""

    DEFAULT_CSS = """
    DriftScreen #filter { border: none; height: 1; padding: 0 1; background: $boost; }
    DriftScreen #filter:focus { background: $primary 20%; }
    DriftScreen #body { height: 1fr; }
    DriftScreen #left { width: 56; }
    DriftScreen.-narrow #left { width: 34; }
    DriftScreen #right { width: 1fr; }
    DriftScreen .table { border: round $primary-darken-2; border-title-color: $text-accent; }
    DriftScreen #checks { height: 1fr; }
    DriftScreen #history { height: 12; min-height: 6; }
    DriftScreen.-narrow #history { height: 1fr; }
    DriftScreen #summary { height: auto; max-height: 4; padding: 0 1; }
    DriftScreen #features { height: auto; max-height: 16; }
    DriftScreen.-narrow #features { max-height: 8; }
    DriftScreen #histogram { height: 1fr; min-height: 5; }
    DriftScreen #empty { display: none; margin: 1 2; }
    DriftScreen.-empty #empty { display: block; }
    DriftScreen.-empty #body { display: none; }
    """
    HORIZONTAL_BREAKPOINTS: list[tuple[int, str]] | None = [(0, "-narrow"), (WIDE_AT, "-wide")]
    LIVE: ClassVar[bool] = True
    REREAD_AFTER_S: ClassVar[float] = 30.0
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "check_now", "Check now"),
        Binding("slash", "focus_filter", "Filter"),
        Binding("escape", "leave_filter", "Table", show=False),
    ]
    PALETTE: ClassVar[list[tuple[str, str, str]]] = [
        ("Run a drift check now", "check the selected model version's traffic again", "check_now"),
        ("Filter drift checks", "show only checks whose model or deployment has this text",
         "focus_filter"),
        ("Refresh drift", "read the drift checks again now", "reload"),
    ]  # fmt: skip

    def __init__(self) -> None:
        super().__init__()
        self._check_id: str | None = None
        self._detail: CheckDetail | None = None
        self._feature: str | None = None
        self._wide: bool | None = None

    def compose(self) -> ComposeResult:
        yield TopBar("Drift")
        yield Freshness()
        yield Static(EMPTY, id="empty")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield Input(placeholder="/ filter: model or deployment", id="filter")
                yield _table("checks", "Checks")
                yield Chart("", x_label="hours before now", id="history",
                            classes="panel")  # fmt: skip
            with Vertical(id="right"):
                yield Static("", id="summary")
                yield _table("features", "Features")
                yield DriftHistogram(id="histogram", classes="panel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#checks", DataTable).focus()

    def fetch(self) -> DriftChecks:
        return drift_checks(self.workspace.settings, self.workspace.now(), selected=self._check_id)

    def show(self, data: DriftChecks) -> None:
        self.set_class(not data.checks, "-empty")
        if self._check_id not in {c.check_id for c in data.checks}:
            self._check_id = None
        if data.detail is not None and self._check_id in (None, data.detail.check.check_id):
            self._check_id, self._detail = data.detail.check.check_id, data.detail
        self._show_checks()

    def on_resize(self, event: Resize) -> None:
        if self.data is not None and self._wide != (event.size.width >= WIDE_AT):
            self._show_checks()

    # -- the checks ----------------------------------------------------------------------

    def _visible_checks(self) -> list[CheckRow]:
        text = self.query_one("#filter", Input).value.strip().lower()
        checks = list(self.data.checks) if self.data else []
        if not text:
            return checks
        return [c for c in checks if text in f"{c.subject} {c.deployment or ''}".lower()]

    def _show_checks(self) -> None:
        self._wide = self.size.width >= WIDE_AT
        table = self.query_one("#checks", DataTable)
        _set_columns(table, _CHECK_COLUMNS[self._wide])
        checks = self._visible_checks()
        for check in checks:
            table.add_row(*_check_cells(check, self._wide), key=check.check_id)
        shown = len(self.data.checks) if self.data else 0
        table.border_title = f"Checks ({len(checks)} of {shown})" if len(checks) < shown else (
            f"Checks ({shown})")  # fmt: skip
        ids = [c.check_id for c in checks]
        if self._check_id not in ids:
            self._select(ids[0] if ids else None)
        if self._check_id is not None:
            table.move_cursor(row=ids.index(self._check_id))
        self._show_detail()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if event.data_table.id == "checks" and key is not None and key != self._check_id:
            self._select(key)
            self._show_detail()
        elif event.data_table.id == "features" and key != self._feature:
            self._feature = key
            self._show_histogram()

    def _select(self, check_id: str | None) -> None:
        """Make `check_id` the selected check; read its detail unless it is at hand."""
        self._check_id = check_id
        if check_id is None:
            self._detail = None
        elif self._detail is None or self._detail.check.check_id != check_id:
            self._load_detail(check_id)

    @work(thread=True, exclusive=True, group="detail", exit_on_error=False)
    def _load_detail(self, check_id: str) -> None:
        try:
            detail = check_detail(self.workspace.settings, check_id, self.workspace.now())
        except WorkbenchError as error:
            self.app.call_from_thread(self.fetch_failed, error.message, error.hint)
            return
        except Exception as error:  # a bug must not take the app down; the log has the rest
            log.exception("reading drift check %s failed", check_id)
            self.app.call_from_thread(self.fetch_failed, f"{type(error).__name__}: {error}", "")
            return
        self.app.call_from_thread(self._detail_read, detail)

    def _detail_read(self, detail: CheckDetail) -> None:
        if detail.check.check_id == self._check_id:
            self._detail = detail
            self._show_detail()

    # -- the selected check --------------------------------------------------------------

    def _show_detail(self) -> None:
        detail = self._detail if self._check_id is not None else None
        if detail is not None and detail.check.check_id != self._check_id:
            return  # its read is under way; the old check stays until it lands
        self.query_one("#summary", Static).update(_summary(detail) if detail else "")
        self._show_history(detail)
        table = self.query_one("#features", DataTable)
        _set_columns(table, _FEATURE_COLUMNS[bool(self._wide)])
        features = detail.features if detail else ()
        for feature in features:
            table.add_row(*_feature_cells(feature, bool(self._wide)), key=feature.feature)
        table.border_title = f"Features ({len(features)})" if features else "Features"
        names = [f.feature for f in features]
        if self._feature not in names:
            self._feature = names[0] if names else None
        if self._feature is not None:
            table.move_cursor(row=names.index(self._feature))
        self._show_histogram()

    def _show_history(self, detail: CheckDetail | None) -> None:
        chart = self.query_one("#history", Chart)
        chart.border_title = f"Drifted share: {detail.history_scope}" if detail else "History"
        if detail is None:
            chart.plot([])
            return
        points = [(-p.hours_ago, 100 * p.share) for p in detail.history]
        series = [Series("drifted %", points)]
        if len(points) > 1:
            line = 100 * detail.drift_share
            series.append(Series("threshold", [(points[0][0], line), (points[-1][0], line)], "red"))
        chart.plot(series)

    def _show_histogram(self) -> None:
        panel = self.query_one("#histogram", DriftHistogram)
        feature = next((f for f in self._detail.features if f.feature == self._feature), None) if (
            self._detail) else None  # fmt: skip
        if feature is None:
            panel.border_title, panel.border_subtitle = "Histogram", ""
            panel.plot(None, "no feature selected")
            return
        panel.border_title = f"{feature.feature}: reference vs current"
        panel.border_subtitle = f"{feature.status} · {feature.method} {_value(feature)}".strip()
        panel.plot(feature.histogram, feature.message or "not computed")

    # -- actions ---------------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter" and self.data is not None:
            self._show_checks()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.query_one("#checks", DataTable).focus()

    def action_focus_filter(self) -> None:
        """Put the cursor in the filter box (/)."""
        self.query_one("#filter", Input).focus()

    def action_leave_filter(self) -> None:
        """Back from the filter box to the checks (esc)."""
        self.query_one("#checks", DataTable).focus()

    def action_check_now(self) -> None:
        """Check the selected check's model version again (its deployment's last hour)."""
        checks = self.data.checks if self.data else ()
        check = next((c for c in checks if c.check_id == self._check_id), None)
        if check is None or check.model is None:
            self.notify(
                "select a check of a model version; two files are checked in a terminal:\n"
                "workbench drift check --reference FILE --current FILE",
                severity="warning",
            )
            return
        args = ["drift", "check", check.model]
        if check.deployment:
            args += ["--deployment", check.deployment]
        self.notify(f"checking {check.model} …", title="drift check")
        self.run_service(f"drift check {check.model}", self._check_now, args)

    def _check_now(self, args: list[str]) -> tuple[str, str]:
        """Worker thread: `workbench drift check MODEL --json` in a child; (message, id)."""
        found = run_json(self.workspace.settings, *args)
        drifted = len(found.get("drifted_features", []))
        message = (
            f"{found.get('model')}: {found.get('status')}, {drifted} of "
            f"{len(found.get('features', []))} features drifted (check {found['check_id']})"
        )
        return message, str(found["check_id"])

    def action_done(self, title: str, outcome: object) -> None:
        """After a check ran: say what it found, then show it."""
        if isinstance(outcome, tuple):
            message, self._check_id = outcome
            self.notify(message, title=title)
            self.action_reload()
        else:
            super().action_done(title, outcome)


def _table(table_id: str, title: str) -> DataTable[Text]:
    table: DataTable[Text] = DataTable(
        id=table_id, cursor_type="row", cell_padding=0, classes="table"
    )
    table.border_title = title
    return table


def _set_columns(table: DataTable[Text], columns: Columns) -> None:
    """Replace the columns; numbers' headers sit right, over their numbers."""
    table.clear(columns=True)
    for header, width in columns:
        label = header.rjust(width - 1) + " " if header in NUMBER_COLUMNS else header
        table.add_column(label, width=width, key=header)


def _status_text(status: str) -> Text:
    return Text(STATUS_WORDS.get(status, status), style=STATUS_STYLES.get(status, ""))


def _check_cells(check: CheckRow, wide: bool) -> list[Text]:
    """WHEN, MODEL, [DEPLOY], DRIFT (status and drifted share), [ROWS]."""
    widths = dict(_CHECK_COLUMNS[wide])
    drift = _status_text(check.status)
    if check.status in ("ok", "drift"):
        drift.append(f" {check.share:.0%}")
    cells = [
        Text(f"{check.created_at:%m-%d %H:%M}" if wide else f"{check.created_at:%H:%M}"),
        Text(_subject(check, widths["MODEL"] - 1), style="bold"),
        drift,
    ]
    if wide:
        cells.insert(2, Text(_fit(check.deployment or "-", widths["DEPLOY"] - 1)))
        cells.append(Text(_rows(check.current_rows).rjust(widths["ROWS"] - 1)))
    return cells


def _feature_cells(feature: FeatureRow, wide: bool) -> list[Text]:
    """FEATURE, STATUS, [METH], VALUE, [THRESH], MISSING, UNSEEN: coloured by status."""
    widths = dict(_FEATURE_COLUMNS[wide])
    style = STATUS_STYLES.get(feature.status, "")
    unseen = "-" if feature.unseen_share is None else f"{feature.unseen_share:.1%}"
    missing = f"{feature.current_missing:.1%}".rjust(
        widths.get("MISSING", widths.get("MISS", 8)) - 1
    )
    value_style = style if feature.status == "drift" else ""
    cells = [
        Text(_fit(feature.feature, widths["FEATURE"] - 1), style=style),
        _status_text(feature.status),
        Text(_value(feature).rjust(widths["VALUE"] - 1), style=value_style),
        Text(missing),
        Text(unseen.rjust(widths["UNSEEN"] - 1)),
    ]
    if wide:
        cells.insert(2, Text(METHOD_WORDS.get(feature.method, feature.method)[:4], style="dim"))
        threshold = "-" if feature.threshold is None else f"{feature.threshold:g}"
        cells.insert(4, Text(threshold.rjust(widths["THRESH"] - 1), style="dim"))
    return cells


def _subject(check: CheckRow, width: int) -> str:
    """NAME:VERSION in `width` cells, shortening the name, never the version."""
    if check.model_name is None:
        return _fit(check.source, width)
    version = f":{check.model_version}"
    return _fit(check.model_name, width - len(version)) + version


def _value(feature: FeatureRow) -> str:
    """The deciding statistic: `p=0.0012` for a test, else its value; `-` when not computed."""
    if feature.value is None:
        return "-"
    if not feature.is_p_value:
        return f"{feature.value:.4g}"
    return f"p={feature.value:.3f}" if feature.value >= 0.001 else f"p={feature.value:.0e}"


def _summary(detail: CheckDetail) -> Text:
    """What was compared; the verdict; when, the rows and the check id."""
    check = detail.check
    where = f" @{check.deployment}" if check.deployment else ""
    source = f" · {check.source}" if check.model else ""
    considered = sum(f.status in ("ok", "drift") for f in detail.features)
    lines = [
        Text.assemble((check.subject, "bold"), where, source),
        Text.assemble(
            (check.status, STATUS_STYLES.get(check.status, "")),
            f": {len(check.drifted_features)} of {considered} features drifted, "
            f"{check.share:.0%} (drift at {detail.drift_share:.0%})",
        ),
        Text(
            f"{check.created_at:%m-%d %H:%M} ({format_age(check.age_s)}) · rows "
            f"{check.reference_rows:,} → {check.current_rows:,} · check {check.check_id}",
            style="dim",
        ),
    ]
    if detail.ignored_columns:
        lines.append(Text(f"ignored: {', '.join(detail.ignored_columns)}", style="dim"))
    return Text("\n").join(lines)


def _rows(count: int) -> str:
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if count >= size:
            return f"{count / size:.1f}{unit}".replace(".0", "")
    return str(count)


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
