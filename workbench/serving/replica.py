"""What runs inside a Serve replica: versions, weighted routing, batching, canary watch, logging.

Kept free of Ray imports except where Serve calls in, so its logic reads (and is tested)
as plain asyncio.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.deployments import (
    CANARY,
    PRIMARY,
    SHADOW,
    STANDBY,
    CanaryPolicy,
    DeploymentSpec,
    RequestRecord,
    Routing,
)
from workbench.serving.app import Scored
from workbench.serving.errors import ModelFailed
from workbench.serving.model import ServedModel
from workbench.serving.signature import Columns, InputSchema

WINDOW = 200  # canary outcomes remembered per replica
ModelCall = Callable[[int, Columns], Awaitable[Any]]
"""Scores one request's columns with a version: predictions, or the model's failure for it."""


class VersionRouter:
    """Every loaded version of a deployment in one replica, and which of them answers.

    Routing (primary, optional canary with a traffic share, optional mirrored shadow) comes
    from `route`, which Serve calls with the deployment's user_config: a traffic change
    reconfigures a running replica instead of replacing it.
    """

    def __init__(self, spec: DeploymentSpec, on_breach: Callable[[str], None]) -> None:
        self.name = spec.name
        self.models: dict[int, ServedModel] = {}
        for entry in spec.loaded:
            info: dict[str, Any] = {"name": entry.model, "version": entry.version,
                                    "run_id": entry.run_id, "sha256": entry.sha256}  # fmt: skip
            self.models[entry.version] = ServedModel.load(Path(entry.uri), info)
        self.policy: CanaryPolicy = spec.canary_policy
        self.on_breach = on_breach
        self.outcomes: deque[tuple[bool, float]] = deque(maxlen=WINDOW)
        self.routing: Routing | None = None
        self.primary: int = 0
        self.canary: int | None = None
        self.shadow: int | None = None
        self.canary_share = 0.0
        self.meta: dict[str, Any] = {}

    def route(self, routing: Routing) -> None:
        """Answer with `routing` from now on (every version it names must be loaded)."""
        named = {routing.primary, routing.canary, routing.shadow} - {None}
        missing = {v for v in named if v is not None and v not in self.models}
        if missing:
            raise ValueError(f"versions {sorted(missing)} are not loaded in this replica")
        if routing.canary != self.canary:
            self.outcomes.clear()  # a new canary is judged on its own requests
        self.routing = routing
        self.primary, self.canary, self.shadow = routing.primary, routing.canary, routing.shadow
        self.canary_share = routing.canary_traffic / 100.0 if routing.canary else 0.0
        self.meta = {
            **self.models[self.primary].metadata,
            "deployment": self.name,
            "versions": {str(v): r for v, r in self._roles().items()},
        }

    @property
    def schema(self) -> InputSchema:
        """The primary's inputs (canary and shadow share them: one contract per endpoint)."""
        return self.models[self.primary].schema

    def _roles(self) -> dict[int, str]:
        roles = {v: STANDBY for v in self.models}
        roles[self.primary] = PRIMARY
        if self.canary is not None:
            roles[self.canary] = CANARY
        if self.shadow is not None:
            roles[self.shadow] = SHADOW
        return roles

    def choose(self) -> int:
        """The version that answers this request."""
        if self.canary is not None and random.random() < self.canary_share:
            return self.canary
        return self.primary

    async def score(
        self, columns: Columns, call: Callable[[int, Columns], Awaitable[Any]]
    ) -> Scored:
        """Predictions of the chosen version (and a shadow's, started alongside) via `call`."""
        version = self.choose()
        shadow = None
        if self.shadow is not None:
            shadow = asyncio.ensure_future(self._shadow(call, self.shadow, columns))
        started = time.perf_counter()
        result = await call(version, columns)
        if version == self.canary:
            self._observe(not isinstance(result, Exception), started)
        return Scored(_predictions(result), version, shadow)

    async def _shadow(self, call: ModelCall, version: int, columns: Columns) -> list[Any]:
        return _predictions(await call(version, columns))

    def _observe(self, ok: bool, started: float) -> None:
        self.outcomes.append((ok, (time.perf_counter() - started) * 1000.0))
        why = self.policy.breach(self.outcomes)
        if why is not None and self.canary is not None:
            gone = self.canary
            self.canary, self.canary_share = None, 0.0  # this replica stops routing to it now
            self.on_breach(f"canary v{gone} rolled back automatically: {why}")

    def predict_batch(self, items: list[tuple[int, Columns]]) -> list[list[Any] | Exception]:
        """Predict many requests: one model call per version and column set, split back.

        Requests of one version with the same columns share a model call. A call that fails
        is retried request by request, so only the request the model cannot score gets its
        500; other requests and other versions in the same batch are unaffected.
        """
        results: list[list[Any] | Exception] = [[] for _ in items]
        groups: dict[tuple[int, tuple[str, ...]], list[int]] = {}
        for index, (version, columns) in enumerate(items):
            groups.setdefault((version, tuple(columns)), []).append(index)
        for (version, _), indexes in groups.items():
            self._predict_group(version, indexes, items, results)
        return results

    def _predict_group(
        self,
        version: int,
        indexes: list[int],
        items: list[tuple[int, Columns]],
        results: list[list[Any] | Exception],
    ) -> None:
        parts = [items[i][1] for i in indexes]
        try:
            predictions = self.models[version].predict(
                parts[0] if len(parts) == 1 else _concat(parts)
            )
        except Exception as error:  # the model's own failure: a 500, but only where it belongs
            if len(indexes) > 1:
                for i in indexes:
                    self._predict_group(version, [i], items, results)
                return
            results[indexes[0]] = ModelFailed(f"model version {version} failed: {error}", version)
            return
        offset = 0
        for i, part in zip(indexes, parts, strict=True):
            rows = len(next(iter(part.values())))
            results[i] = predictions[offset : offset + rows]
            offset += rows


def _predictions(result: list[Any] | Exception) -> list[Any]:
    """A request's slice of a batch, or the model's failure raised for it."""
    if isinstance(result, Exception):
        raise result
    return list(result)


def _concat(parts: list[Columns]) -> Columns:
    """Requests validated against one signature: same columns, in signature order."""
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


class RequestLog:
    """Buffers sampled request records and hands them over in batches, off the request path."""

    def __init__(self, write: Callable[[list[RequestRecord]], None], interval_s: float = 1.0):
        self.write = write
        self.interval_s = interval_s
        self.buffer: list[tuple[RequestRecord, asyncio.Future[Any] | None]] = []
        self.dropped = 0

    def add(self, record: RequestRecord, shadow: asyncio.Future[Any] | None = None) -> None:
        """Keep `record` (and the shadow prediction still running for it) for the next flush."""
        if len(self.buffer) >= 100_000:  # the owner is unreachable: shed, never block or grow
            self.dropped += 1
            return
        self.buffer.append((record, shadow))

    def take_ready(self, final: bool = False) -> list[RequestRecord]:
        """Records whose shadow prediction (if any) has finished; the rest wait a turn."""
        ready: list[RequestRecord] = []
        waiting: list[tuple[RequestRecord, asyncio.Future[Any] | None]] = []
        for record, shadow in self.buffer:
            if shadow is None:
                ready.append(record)
            elif shadow.done() or final:
                ready.append(replace(record, shadow_outputs=_shadow_json(shadow)))
            else:
                waiting.append((record, shadow))
        self.buffer = waiting
        return ready

    async def run(self) -> None:
        """Flush forever (a replica task); a failed write drops that batch, never the replica."""
        while True:
            await asyncio.sleep(self.interval_s)
            self.flush()

    def flush(self, final: bool = False) -> None:
        ready = self.take_ready(final)
        if ready:
            try:
                self.write(ready)
            except Exception:  # the catalogue is best effort from here; serving goes on
                self.dropped += len(ready)


def _shadow_json(shadow: asyncio.Future[Any]) -> str:
    if not shadow.done():
        shadow.cancel()
        return json.dumps({"error": "shadow did not finish"})
    if shadow.exception() is not None:
        return json.dumps({"error": str(shadow.exception())[:200]})
    return json.dumps(shadow.result())
