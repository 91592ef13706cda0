"""The serving soak for one minute (benchmarks/soak_serving.py; the 10-minute figures are in
benchmarks/RESULTS.md): 200 req/s paced, every request logged, nothing failed or lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.ray]

SOAK = Path(__file__).resolve().parents[2] / "benchmarks" / "soak_serving.py"


def test_one_minute_at_200_rps_loses_nothing(tmp_path: Path) -> None:
    """Zero failed requests, the requests table holds exactly the requests sent, and the
    replica's and owner's RSS grow < 5% over the 30 s after a 30 s warm-up."""
    out = tmp_path / "soak.json"
    result = subprocess.run(
        [sys.executable, str(SOAK), "--minutes", "1", "--rate", "200", "--warmup", "30",
         "--trees", "5", "--json", str(out)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert out.exists(), result.stderr[-3000:]
    figures = json.loads(out.read_text())
    sent = figures["load"]["sent"]
    assert sent == 12_000
    assert figures["load"]["failed"] == 0, figures["load"]["failures"]
    assert figures["catalogue"]["rows"] == sent
    assert figures["catalogue"]["distinct_ids"] == sent
    assert figures["catalogue"]["rows_after_3s"] == sent
    for role in ("replica", "owner"):
        assert figures["memory"][role]["growth"] < 0.05, figures["memory"]
    assert result.returncode == 0, result.stderr[-3000:]
