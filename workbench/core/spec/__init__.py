"""The project spec (`workbench.toml`): what a pipeline is made of, validated on load.

`load_spec` and `parse_spec` turn TOML into a `ProjectSpec` or raise `SpecError` naming the
file, the line and the field. Submodules: `model` (the types), `rules` (the gate-rule grammar),
`loading`, `checking`, `reader` and `values` (parsing and validation), `locator` (field lines).
"""

from workbench.core.spec.loading import SPEC_FILE, load_spec, parse_spec
from workbench.core.spec.locator import FieldPath, format_field_path, locate_fields
from workbench.core.spec.model import (
    DriftSpec,
    EvaluationSpec,
    GateOp,
    GateRule,
    ParamSpec,
    ParamType,
    ProjectSpec,
    RegisterSpec,
    Resources,
    ServingSpec,
    SpecError,
    StepSpec,
)
from workbench.core.spec.rules import parse_rule
from workbench.core.spec.values import resolve_params

__all__ = [
    "SPEC_FILE",
    "DriftSpec",
    "EvaluationSpec",
    "FieldPath",
    "GateOp",
    "GateRule",
    "ParamSpec",
    "ParamType",
    "ProjectSpec",
    "RegisterSpec",
    "Resources",
    "ServingSpec",
    "SpecError",
    "StepSpec",
    "format_field_path",
    "load_spec",
    "locate_fields",
    "parse_rule",
    "parse_spec",
    "resolve_params",
]
