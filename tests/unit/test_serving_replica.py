"""In-replica logic without Serve: canary policy, mixed-version batches, the request log."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from datetime import datetime
from typing import Any

import numpy as np
import pytest

from workbench.core.deployments import CanaryPolicy, RequestRecord
from workbench.serving.errors import ModelFailed
from workbench.serving.replica import RequestLog, VersionRouter


def test_canary_policy_needs_enough_requests_then_names_the_breach() -> None:
    policy = CanaryPolicy(max_error_rate=0.1, max_p95_ms=50.0, min_requests=10)
    outcomes: deque[tuple[bool, float]] = deque([(False, 1.0)] * 9)
    assert policy.breach(outcomes) is None  # 9 < min_requests
    outcomes.append((True, 1.0))
    assert "error rate 90.0% > 10.0% over 10 requests" == policy.breach(outcomes)
    slow = deque([(True, 80.0)] * 20)
    assert "p95 latency 80.0 ms > 50 ms" == policy.breach(slow)
    assert policy.breach(deque([(True, 5.0)] * 20)) is None


class _Model:
    """A stand-in for ServedModel.predict: doubles column `x`, or fails when told to."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls = 0

    def predict(self, columns: dict[str, np.ndarray]) -> list[Any]:
        self.calls += 1
        if self.fail:
            raise ValueError("boom")
        return (columns["x"] * 2).tolist()


def _router(models: dict[int, _Model]) -> VersionRouter:
    router = VersionRouter.__new__(VersionRouter)  # skip loading artifacts from disk
    router.models = models  # type: ignore[assignment]
    return router


def test_mixed_batch_is_one_call_per_version_and_split_back() -> None:
    good, bad = _Model(), _Model(fail=True)
    router = _router({1: good, 2: bad})
    items = [(1, {"x": np.array([1, 2])}), (2, {"x": np.array([3])}), (1, {"x": np.array([4])})]
    results = router.predict_batch(items)
    assert results[0] == [2, 4]
    assert results[2] == [8]
    assert isinstance(results[1], ModelFailed)
    assert results[1].version == 2
    assert "boom" in str(results[1])
    assert good.calls == 1  # both version-1 requests in one model call


class _Picky(_Model):
    """Fails on any call that holds a negative `x`, like a model meeting a value it rejects."""

    def predict(self, columns: dict[str, np.ndarray]) -> list[Any]:
        self.calls += 1
        if (columns["x"] < 0).any():
            raise ValueError("negative x")
        return (columns["x"] * 2).tolist()


def test_one_bad_request_fails_alone_not_its_batch() -> None:
    picky = _Picky()
    router = _router({1: picky})
    items = [(1, {"x": np.array([1])}), (1, {"x": np.array([-1])}), (1, {"x": np.array([3, 4])})]
    results = router.predict_batch(items)
    assert results[0] == [2]
    assert results[2] == [6, 8]
    assert isinstance(results[1], ModelFailed)
    assert "negative x" in str(results[1])
    assert picky.calls == 4  # the batch, then each request alone


def test_requests_with_other_columns_in_one_batch_are_scored_apart() -> None:
    class _AnyColumns(_Model):
        def predict(self, columns: dict[str, np.ndarray]) -> list[Any]:
            self.calls += 1
            return (next(iter(columns.values())) * 10).tolist()

    model = _AnyColumns()
    router = _router({1: model})
    items = [(1, {"x": np.array([1])}), (1, {"y": np.array([2])}), (1, {"x": np.array([3])})]
    assert router.predict_batch(items) == [[10], [20], [30]]
    assert model.calls == 2  # one call for the two x requests, one for y


def _record(request_id: str) -> RequestRecord:
    return RequestRecord(request_id, datetime(2026, 1, 1), 1, 200, 1.0, "{}", "[]")


def test_request_log_holds_records_until_their_shadow_finishes() -> None:
    written: list[list[RequestRecord]] = []
    log = RequestLog(written.append)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        pending: asyncio.Future[Any] = loop.create_future()
        log.add(_record("a"))
        log.add(_record("b"), pending)
        log.flush()
        assert [r.request_id for r in written[0]] == ["a"]
        pending.set_result([[0.1, 0.9]])
        log.flush()
        assert written[1][0].request_id == "b"
        assert json.loads(written[1][0].shadow_outputs or "null") == [[0.1, 0.9]]
        assert not hasattr(written[1][0], "shadow")

    asyncio.run(scenario())


def test_request_log_survives_a_failing_writer() -> None:
    def broken(records: list[RequestRecord]) -> None:
        raise ConnectionError("owner gone")

    log = RequestLog(broken)
    log.add(_record("a"))
    log.flush()  # must not raise: serving goes on without the catalogue
    assert log.dropped == 1
    assert log.buffer == []


@pytest.mark.parametrize("share", [0.0, 0.3])
def test_choose_respects_the_canary_share(share: float) -> None:
    router = _router({1: _Model(), 2: _Model()})
    router.primary, router.canary, router.canary_share = 1, 2, share
    picks = [router.choose() for _ in range(4000)]
    assert abs(picks.count(2) / len(picks) - share) < 0.03
