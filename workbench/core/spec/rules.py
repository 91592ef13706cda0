"""The gate-rule grammar: `metric op number` (e.g. `auc >= 0.90`) parsed into a GateRule.

Lives beside the types it builds, so the spec loader and the gate both import it, no circle.
"""

from __future__ import annotations

import math
import re
from typing import cast

from workbench.core.errors import InvalidInputError
from workbench.core.spec.model import GateOp, GateRule

_RULE = re.compile(
    r"""^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_.]*)
        \s*(?P<op>>=|<=|>|<)
        \s*(?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$""",
    re.VERBOSE,
)
_RULE_HINT = 'a rule is `metric op number` with op one of >=, >, <=, <; example: "auc >= 0.90"'


def parse_rule(text: str) -> GateRule:
    """Parse `metric op number` (e.g. `auc >= 0.90`); anything else is an InvalidInputError."""
    if not isinstance(text, str):
        raise InvalidInputError(f"malformed gate rule {text!r}: expected a string", _RULE_HINT)
    match = _RULE.match(text)
    if match is None:
        raise InvalidInputError(f"malformed gate rule {text!r}", _RULE_HINT)
    threshold = float(match["number"])
    if not math.isfinite(threshold):
        raise InvalidInputError(
            f"malformed gate rule {text!r}: threshold is not finite", _RULE_HINT
        )
    return GateRule(match["metric"], cast(GateOp, match["op"]), threshold)
