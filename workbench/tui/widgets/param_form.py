"""The launch form: one field per typed param of a project, checked as you type.

Checks use `services.projects.check_params`, the rules `workbench run --param` applies, and
each problem shows under its field. `ctrl+s` hands the values back only when all are good.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Footer, Input, Label, Select, Static

from workbench.core.spec import ParamSpec, ProjectSpec
from workbench.services.projects import check_params


def describe_param(param: ParamSpec) -> str:
    """`rows  int, default 200, >= 10`: the type, default and bounds of a param."""
    parts = [param.type, f"default {param.default!r}"]
    if param.min is not None:
        parts.append(f">= {param.min:g}")
    if param.max is not None:
        parts.append(f"<= {param.max:g}")
    if param.choices:
        parts.append("one of " + ", ".join(repr(c) for c in param.choices))
    return ", ".join(parts)


def _as_text(value: Any) -> str:
    """A param value as `--param` takes it (`true`/`false` for booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ParamForm(ModalScreen[dict[str, str] | None]):
    """The params of `spec` with their defaults; dismisses with `{name: text}` or None (esc)."""

    DEFAULT_CSS = """
    ParamForm { align: center middle; }
    ParamForm > Vertical {
        width: 90; max-width: 100%; height: 100%; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    ParamForm #form-title { height: auto; padding: 0 0 1 0; }
    ParamForm VerticalScroll { height: 1fr; }
    ParamForm .field { height: auto; margin-bottom: 1; }
    ParamForm .field-label { height: 1; }
    ParamForm .field-help { color: $text-muted; height: auto; }
    ParamForm .field-error { color: $error; height: auto; }
    ParamForm Input, ParamForm Select { width: 100%; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "launch", "Launch", priority=True),
        Binding("escape", "cancel", "Back"),
    ]

    def __init__(self, spec: ProjectSpec, shown_path: str) -> None:
        super().__init__()
        self.spec = spec
        self._shown_path = shown_path

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                Text.assemble(
                    ("Launch ", "bold"),
                    (self.spec.name, "bold cyan"),
                    f"  {self._shown_path}  ",
                    ("ctrl+s launches, esc goes back", "dim"),
                ),
                id="form-title",
            )
            with VerticalScroll():
                if not self.spec.params:
                    yield Static("This project declares no [params]: it runs as it is.")
                for param in self.spec.params.values():
                    with Vertical(classes="field"):
                        yield Label(
                            Text.assemble((param.name, "bold"), f"  {describe_param(param)}"),
                            classes="field-label",
                        )
                        yield self._field(param)
                        if param.help:
                            yield Static(param.help, classes="field-help", markup=False)
                        yield Static("", id=f"error-{param.name}", classes="field-error")
        yield Footer()

    def on_mount(self) -> None:
        fields = self.query(".field Input, .field Select, .field Checkbox")
        if fields:
            fields.first().focus()

    def _field(self, param: ParamSpec) -> Input | Checkbox | Select[str]:
        field_id = f"param-{param.name}"
        if param.choices:
            options = [(_as_text(choice), _as_text(choice)) for choice in param.choices]
            return Select(options, value=_as_text(param.default), allow_blank=False, id=field_id)
        if param.type == "bool":
            return Checkbox(param.name, value=bool(param.default), id=field_id)
        kind: Literal["integer", "number", "text"] = (
            "integer" if param.type == "int" else "number" if param.type == "float" else "text"
        )
        return Input(value=_as_text(param.default), type=kind, id=field_id)

    def values(self) -> dict[str, str]:
        """What the form holds now, as `--param` text."""
        found: dict[str, str] = {}
        for name in self.spec.params:
            field = self.query_one(f"#param-{name}")
            if isinstance(field, Checkbox):
                found[name] = _as_text(field.value)
            elif isinstance(field, Select):
                found[name] = str(field.value)
            elif isinstance(field, Input):
                found[name] = field.value
        return found

    def check(self) -> dict[str, str]:
        """Check every field and show each problem under its field; the problems."""
        problems = check_params(self.spec, self.values())
        for name in self.spec.params:
            self.query_one(f"#error-{name}", Static).update(Text(problems.get(name, "")))
        return problems

    def on_input_changed(self) -> None:
        self.check()

    def action_launch(self) -> None:
        """Hand the values back if every field is good (ctrl+s)."""
        problems = self.check()
        if problems:
            self.notify(
                f"{len(problems)} field(s) need fixing: {', '.join(problems)}",
                title="not launched",
                severity="error",
            )
            return
        self.dismiss(self.values())

    def action_cancel(self) -> None:
        """Back to the project list without launching."""
        self.dismiss(None)
