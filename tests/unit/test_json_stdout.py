"""--json: stdout carries the one document; what else the process prints goes to stderr."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
from workbench.cli.render import emit_json, keep_stdout_for_json
keep_stdout_for_json()
print("(raylet) The node with node id: abc has been marked dead")  # as Ray prints it
emit_json({"run_id": "r1"})
"""


def test_other_prints_go_to_stderr_and_the_document_alone_to_stdout() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          check=True, timeout=60)  # fmt: skip
    assert json.loads(done.stdout) == {"run_id": "r1"}
    assert "marked dead" in done.stderr
