"""What the Models screen shows of a version's gate, and where an alias would roll back to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.tui.catalogue_fixture import FRAUD, MAINT, build_fixed_catalogue
from workbench.core.models import ModelVersion
from workbench.core.settings import load_settings
from workbench.services.models import ModelDetails, registry


@pytest.mark.parametrize(
    ("gate", "summary"),
    [
        (None, "not recorded"),
        ({"passed": True, "checks": []}, "passed"),
        ({"passed": False, "checks": []}, "failed"),
        (
            {"passed": False, "checks": [
                {"name": "metrics.auc >= 0.9", "passed": True, "detail": "auc = 0.93"},
                {"name": "beats champion", "passed": False, "detail": "auc 0.93 < 0.95"},
                {"name": "no drift", "passed": False, "detail": ""},
            ]},
            "failed: beats champion (auc 0.93 < 0.95)",
        ),
    ],
)  # fmt: skip
def test_gate_summary_names_the_first_failing_check(gate: Any, summary: str) -> None:
    details = ModelDetails(ModelVersion(FRAUD, 1, "/nowhere", gate=gate), [])
    assert details.gate_summary == summary


def test_registry_lists_versions_newest_first_with_aliases_and_rollback_targets(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    build_fixed_catalogue(home)
    fraud, maint = registry(load_settings(home))
    assert (fraud.name, maint.name) == (FRAUD, MAINT)
    assert [d.version.version for d in fraud.versions] == [3, 2, 1]
    assert [d.aliases for d in fraud.versions] == [["challenger"], ["champion"], []]
    assert fraud.aliases == {"challenger": 3, "champion": 2}
    # the audit trail holds champion's move from v1 to v2; challenger never moved
    assert fraud.rollback_targets == {"challenger": None, "champion": 1}
