"""A crash or a full disk never corrupts the catalogue or loses committed rows.

The owner process is a real subprocess writing batched metrics through the
Catalogue API; it prints a batch number only after its commit returned.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow

ROWS_PER_BATCH = 5_000

_OWNER = f"""
import sys
import numpy as np
from workbench.catalogue import Catalogue
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.core.errors import WorkbenchError

path, first, limit = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if limit != "none":
    import resource, signal
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), hard))
catalogue = Catalogue(DuckDBBackend(path), flush_interval_s=3600)
# Small checkpoints, so kills also land in the middle of checkpointing.
catalogue.backend._con.execute("SET wal_autocheckpoint = '256KB'")
run_id = catalogue.create_run("durability")
# One whole batch before "ready": the first write loads pyarrow and DuckDB's Arrow scan,
# which on a busy machine outlasts the kill window; the kills are meant for steady writes.
catalogue.log_params(run_id, {{f"warmup-{{first:05d}}": 0}})
catalogue.log_metric_history(run_id, f"warmup-{{first:05d}}", np.arange({ROWS_PER_BATCH}), np.random.rand({ROWS_PER_BATCH}))
catalogue.flush()
print("ready", flush=True)
batch = first
try:
    while True:
        steps = np.arange({ROWS_PER_BATCH})
        catalogue.log_params(run_id, {{f"batch-{{batch:05d}}": batch}})  # its own transaction
        catalogue.log_metric_history(run_id, f"batch-{{batch:05d}}", steps, np.random.rand({ROWS_PER_BATCH}))
        catalogue.flush()
        print(batch, flush=True)
        batch += 1
except WorkbenchError as error:
    print("error:", error.message, "|", error.hint, flush=True)
if limit == "none":
    sys.exit(2)
# Space is back: the same owner recovers without a restart.
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
catalogue.log_params(run_id, {{"recovered": 1}})
print("recovered", flush=True)
sys.exit(1)
"""


def _start_owner(path: Path, first: int, limit: int | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _OWNER, str(path), str(first), str(limit or "none")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _check(path: Path) -> dict[str, int]:
    """Open the file like a user would; return rows per batch key, asserting atomicity."""
    con = duckdb.connect(str(path))
    try:
        counts = dict(con.execute("SELECT key, count(*) FROM metrics GROUP BY key").fetchall())
        latest = dict(con.execute("SELECT key, step FROM latest_metrics").fetchall())
        params = {k for (k,) in con.execute("SELECT key FROM params").fetchall()} - {"recovered"}
    finally:
        con.close()
    partial = {k: n for k, n in counts.items() if n != ROWS_PER_BATCH}
    assert not partial, f"partial batches visible: {partial}"
    # Metric rows and their latest value commit together; the param was committed before.
    assert set(latest) == set(counts)
    assert set(counts) <= params
    assert set(latest.values()) <= {ROWS_PER_BATCH - 1}
    return counts


def test_sigkill_the_owner_50_times(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.duckdb"
    rng = random.Random(20261130)
    committed: set[str] = set()
    next_batch = 0
    for _ in range(50):
        owner = _start_owner(path, next_batch)
        assert owner.stdout is not None
        assert owner.stdout.readline().strip() == "ready", (
            owner.stderr.read() if owner.stderr else ""
        )
        time.sleep(rng.uniform(0.02, 0.5))  # a random moment to kill at: the test's subject
        os.kill(owner.pid, signal.SIGKILL)
        out, _ = owner.communicate(timeout=30)
        assert owner.returncode == -signal.SIGKILL
        printed = [line for line in out.split() if line.isdigit()]
        committed |= {f"batch-{int(b):05d}" for b in printed}
        next_batch += len(printed) + 1  # the batch in flight at the kill may or may not be there
        counts = _check(path)
        missing = committed - set(counts)
        assert not missing, f"committed batches lost: {sorted(missing)[:5]}"
    assert len(committed) > 50  # the writers really wrote between kills


def test_full_disk_is_a_clear_error_and_keeps_earlier_data(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.duckdb"
    # Seed the file, then allow it to grow by only a few MB.
    seeded = _start_owner(path, 0)
    assert seeded.stdout is not None
    assert seeded.stdout.readline().strip() == "ready"
    first = seeded.stdout.readline().strip()
    seeded.send_signal(signal.SIGTERM)
    seeded.communicate(timeout=30)
    assert first == "0"
    before = _check(path)
    limit = path.stat().st_size + 3 * 1024 * 1024
    owner = _start_owner(path, 1000, limit)
    out, err = owner.communicate(timeout=120)
    assert owner.returncode == 1, err[-2000:]
    error_line = next(line for line in out.splitlines() if line.startswith("error:"))
    assert "could not write to catalogue" in error_line
    assert "disk is full or a file size limit was hit" in error_line
    assert "Traceback" not in out
    assert out.splitlines()[-1] == "recovered"
    written = {f"batch-{int(b):05d}" for b in out.split() if b.isdigit()}
    after = _check(path)
    assert set(before) <= set(after)
    assert written <= set(after)
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM params WHERE key = 'recovered'").fetchone() == (1,)
    finally:
        con.close()
