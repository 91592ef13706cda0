"""Pipeline bookkeeping in the catalogue: steps, artifacts, caching, heartbeats, attempts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from workbench.catalogue.backend import Statement
from workbench.catalogue.catalogue import Catalogue, utcnow


@dataclass(frozen=True)
class StepOutcome:
    """What a finished step left: its outputs (name -> uri, sha256) and returned metrics."""

    outputs: dict[str, dict[str, str]]
    metrics: dict[str, float]


@dataclass(frozen=True)
class Artifact:
    """One output of a step: a directory (or file) and its content digest."""

    name: str
    uri: str
    sha256: str
    size_bytes: int
    kind: str = "output"


class PipelineLedger:
    """Records a pipeline's progress so it can be shown, cached, resumed and swept."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.backend = catalogue.backend

    # -- liveness ---------------------------------------------------------------------------

    def heartbeat(self, run_id: str) -> None:
        """The driver is alive; a run whose heartbeats stop is swept to `crashed`."""
        self.backend.write(
            [Statement("UPDATE runs SET heartbeat_at = ? WHERE run_id = ?", (utcnow(), run_id))]
        )

    def sweep_stale(self, older_than_s: float) -> list[str]:
        """Mark running runs with no heartbeat for `older_than_s` as crashed; their ids."""
        cutoff = utcnow() - timedelta(seconds=older_than_s)
        stale = (
            self.backend.query(
                "SELECT run_id FROM runs WHERE status = 'running' AND heartbeat_at < ?", (cutoff,)
            )
            .column("run_id")
            .to_pylist()
        )
        if stale:
            self.backend.write(
                [
                    Statement(
                        "UPDATE runs SET status = 'crashed', ended_at = ?, "
                        "error = 'the driver stopped sending heartbeats' "
                        "WHERE status = 'running' AND heartbeat_at < ? "
                        "AND list_contains(?, run_id)",
                        (utcnow(), cutoff, stale),
                    ),
                    Statement(
                        "UPDATE pipeline_runs SET status = 'crashed', ended_at = ? "
                        "WHERE status = 'running' AND list_contains(?, run_id)",
                        (utcnow(), stale),
                    ),
                ]
            )
        return [str(s) for s in stale]

    def close_open_steps(self, run_id: str, status: str) -> None:
        """Steps still marked running when their run stops end with the run's status."""
        self.backend.write(
            [
                Statement(
                    "UPDATE pipeline_runs SET status = ?, ended_at = ? "
                    "WHERE run_id = ? AND status = 'running'",
                    (status, utcnow(), run_id),
                )
            ]
        )

    def set_driver(self, run_id: str, driver: dict[str, Any]) -> None:
        """Who runs this run (host, pid, Ray job id): what `runs cancel` needs."""
        self.backend.write(
            [Statement("UPDATE runs SET driver = ? WHERE run_id = ?", (json.dumps(driver), run_id))]
        )

    def driver(self, run_id: str) -> dict[str, Any]:
        rows = self.backend.query("SELECT driver FROM runs WHERE run_id = ?", (run_id,)).to_pylist()
        return json.loads(rows[0]["driver"] or "{}") if rows else {}

    # -- attempts ---------------------------------------------------------------------------

    def begin_attempt(self, run_id: str) -> int:
        """Start another attempt of a run (worker restart or --resume); the new number."""
        now = utcnow()
        self.catalogue.flush()
        self.backend.write(
            [
                Statement(
                    "UPDATE runs SET attempt = attempt + 1, status = 'running', ended_at = NULL, "
                    "error = NULL, traceback = NULL, heartbeat_at = ? WHERE run_id = ?",
                    (now, run_id),
                )
            ]
        )
        return self.attempt(run_id)

    def mark_running(self, run_id: str) -> None:
        """A queued run (submitted with --detach) has been picked up by its driver."""
        now = utcnow()
        self.backend.write(
            [
                Statement(
                    "UPDATE runs SET status = 'running', started_at = ?, heartbeat_at = ? "
                    "WHERE run_id = ?",
                    (now, now, run_id),
                )
            ]
        )

    def attempt(self, run_id: str) -> int:
        rows = self.backend.query(
            "SELECT attempt FROM runs WHERE run_id = ?", (run_id,)
        ).to_pylist()
        return int(rows[0]["attempt"]) if rows else 0

    def truncate_metrics(self, run_id: str, keys: Sequence[str], after_step: int) -> None:
        """Drop points of `keys` past `after_step` (re-logged by the resumed attempt)."""
        if not keys:
            return
        self.catalogue.flush()
        self.backend.write(
            [
                Statement(
                    "DELETE FROM metrics WHERE run_id = ? AND list_contains(?, key) AND step > ?",
                    (run_id, list(keys), after_step),
                ),
                Statement(
                    "DELETE FROM latest_metrics WHERE run_id = ? AND list_contains(?, key)",
                    (run_id, list(keys)),
                ),
                Statement(
                    "INSERT INTO latest_metrics SELECT run_id, key, max(step), "
                    "arg_max(timestamp, step), arg_max(value, step) FROM metrics "
                    "WHERE run_id = ? AND list_contains(?, key) GROUP BY run_id, key",
                    (run_id, list(keys)),
                ),
            ]
        )

    # -- steps and artifacts ------------------------------------------------------------------

    def step_started(self, run_id: str, step: str, attempt: int, cache_key: str) -> None:
        self.backend.write(
            [
                Statement(
                    "INSERT INTO pipeline_runs (run_id, step, attempt, status, cached, cache_key, "
                    "started_at) VALUES (?, ?, ?, 'running', false, ?, ?) "
                    "ON CONFLICT (run_id, step, attempt) DO UPDATE SET status = 'running', "
                    "started_at = excluded.started_at, ended_at = NULL, error = NULL",
                    (run_id, step, attempt, cache_key, utcnow()),
                )
            ]
        )

    def step_finished(
        self,
        run_id: str,
        step: str,
        attempt: int,
        *,
        status: str,
        cache_key: str,
        cached: bool = False,
        artifacts: Iterable[Artifact] = (),
        metrics: dict[str, float] | None = None,
        error: str | None = None,
    ) -> None:
        """Close a step; its outputs become the run's artifacts, atomically."""
        artifacts = list(artifacts)
        now = utcnow()
        outputs = json.dumps({a.name: {"uri": a.uri, "sha256": a.sha256} for a in artifacts})
        statements = [
            Statement(
                "INSERT INTO pipeline_runs (run_id, step, attempt, status, cached, cache_key, "
                "started_at, ended_at, error, outputs, metrics) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (run_id, step, attempt) DO UPDATE SET status = excluded.status, "
                "cached = excluded.cached, ended_at = excluded.ended_at, error = excluded.error, "
                "outputs = excluded.outputs, metrics = excluded.metrics",
                (
                    run_id,
                    step,
                    attempt,
                    status,
                    cached,
                    cache_key,
                    now,
                    now,
                    error,
                    outputs,
                    json.dumps(metrics or {}),
                ),
            )  # fmt: skip
        ]
        for artifact in artifacts:
            statements.append(
                Statement(
                    "INSERT INTO artifacts VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, path) "
                    "DO UPDATE SET uri = excluded.uri, size_bytes = excluded.size_bytes, "
                    "sha256 = excluded.sha256, created_at = excluded.created_at",
                    (
                        run_id,
                        artifact.name,
                        artifact.kind,
                        artifact.uri,
                        artifact.size_bytes,
                        artifact.sha256,
                        now,
                    ),
                )  # fmt: skip
            )
        self.backend.write(statements)

    def finished_steps(self, run_id: str) -> dict[str, StepOutcome]:
        """Steps of this run that finished (any attempt), with their outcomes: for --resume."""
        rows = self.backend.query(
            "SELECT step, arg_max(outputs, attempt) AS outputs, "
            "arg_max(metrics, attempt) AS metrics FROM pipeline_runs "
            "WHERE run_id = ? AND status = 'finished' GROUP BY step",
            (run_id,),
        ).to_pylist()
        return {row["step"]: _outcome(row) for row in rows}

    def cached_outcome(self, cache_key: str) -> StepOutcome | None:
        """Outcome of the newest finished step with this cache key, in any run, or None."""
        rows = self.backend.query(
            "SELECT outputs, metrics FROM pipeline_runs "
            "WHERE cache_key = ? AND status = 'finished' ORDER BY ended_at DESC LIMIT 1",
            (cache_key,),
        ).to_pylist()
        return _outcome(rows[0]) if rows else None

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        """Every step record of a run, oldest first (for `runs show`)."""
        return self.backend.query(
            "SELECT step, attempt, status, cached, started_at, ended_at, error FROM pipeline_runs "
            "WHERE run_id = ? ORDER BY started_at, step",
            (run_id,),
        ).to_pylist()

    # -- lineage and gate -----------------------------------------------------------------------

    def set_data_fingerprint(self, run_id: str, fingerprint: str) -> None:
        self.backend.write(
            [
                Statement(
                    "UPDATE runs SET data_fingerprint = ? WHERE run_id = ?", (fingerprint, run_id)
                )
            ]
        )

    def set_gate(self, run_id: str, gate: dict[str, Any]) -> None:
        self.backend.write(
            [Statement("UPDATE runs SET gate = ? WHERE run_id = ?", (json.dumps(gate), run_id))]
        )

    def gate(self, run_id: str) -> dict[str, Any] | None:
        """The gate verdict `set_gate` recorded for a run, or None."""
        rows = self.backend.query("SELECT gate FROM runs WHERE run_id = ?", (run_id,)).to_pylist()
        return json.loads(rows[0]["gate"]) if rows and rows[0]["gate"] else None

    def params(self, run_id: str) -> dict[str, str]:
        rows = self.backend.query(
            "SELECT key, value FROM params WHERE run_id = ?", (run_id,)
        ).to_pylist()
        return {row["key"]: row["value"] for row in rows}


def _outcome(row: dict[str, Any]) -> StepOutcome:
    return StepOutcome(json.loads(row["outputs"] or "{}"), json.loads(row["metrics"] or "{}"))
