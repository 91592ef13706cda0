"""Model lanes without Serve: calls run off the event loop, one thread per version, batched."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import numpy as np

from workbench.serving.lanes import ModelLane, Result
from workbench.serving.signature import Columns


class _Recorder:
    """Doubles column `x`; blocks while `gate` is closed; remembers each call's request count."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.calls: list[int] = []
        self.threads: set[str] = set()

    def __call__(self, parts: list[Columns]) -> list[Result]:
        self.threads.add(threading.current_thread().name)
        self.gate.wait()
        self.calls.append(len(parts))
        return [(part["x"] * 2).tolist() for part in parts]


def _x(value: float) -> Columns:
    return {"x": np.array([value])}


def test_requests_queued_during_a_call_go_together_in_the_next() -> None:
    model = _Recorder()
    model.gate.clear()

    async def scenario() -> list[Any]:
        lane = ModelLane(1, model, max_batch_size=32)
        first = lane.submit(_x(1))
        rest = [lane.submit(_x(v)) for v in range(2, 12)]  # arrive while the first call runs
        assert lane.started_at is not None
        model.gate.set()
        return await asyncio.gather(first, *rest)

    results = asyncio.run(scenario())
    assert results == [[2.0 * v] for v in range(1, 12)]
    assert model.calls == [1, 10]
    assert model.threads == {"model-v1"}  # never on the event loop's thread


def test_a_hung_version_stalls_neither_the_loop_nor_another_version() -> None:
    hung, fine = _Recorder(), _Recorder()
    hung.gate.clear()

    async def scenario() -> None:
        lanes = {1: ModelLane(1, hung, 32), 2: ModelLane(2, fine, 32)}
        stuck = lanes[1].submit(_x(1))
        with_timeout = asyncio.wait_for(lanes[1].submit(_x(2)), 0.2)
        started = time.monotonic()
        assert await asyncio.wait_for(lanes[2].submit(_x(3)), 5) == [6.0]
        try:
            await with_timeout
        except TimeoutError:
            pass
        else:
            raise AssertionError("the request queued behind a hung call did not time out")
        assert time.monotonic() - started < 2
        assert lanes[1].running_for(time.monotonic()) > 0.1
        hung.gate.set()
        assert await stuck == [2.0]
        await asyncio.sleep(0)  # let the lane record the call's end
        assert hung.calls == [1]  # the request that timed out was never scored

    asyncio.run(scenario())


def test_a_failure_of_one_request_reaches_only_that_request() -> None:
    def predict(parts: list[Columns]) -> list[Result]:
        return [ValueError("bad row") if part["x"][0] < 0 else [1] for part in parts]

    async def scenario() -> tuple[Result, Result]:
        lane = ModelLane(1, predict, 32)
        return await asyncio.gather(lane.submit(_x(-1)), lane.submit(_x(1)))

    bad, good = asyncio.run(scenario())
    assert isinstance(bad, ValueError)
    assert good == [1]


def test_a_busy_replica_waits_for_company_before_calling() -> None:
    model = _Recorder()

    async def scenario() -> None:
        lane = ModelLane(1, model, max_batch_size=4)
        lane.batch_wait_s = 0.05
        futures = [lane.submit(_x(v)) for v in range(6)]
        await asyncio.gather(*futures)

    asyncio.run(scenario())
    assert model.calls == [4, 2]  # at most a full batch per call; the rest in the next
