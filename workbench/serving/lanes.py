"""Model calls off the event loop: one thread per model version, batching what queues up.

A replica's event loop parses requests and answers /ping; a model call there would stall all
of it, and `--timeout` could not cut it short. So each loaded version gets a lane: one daemon
thread (a hung version stalls only itself, and never blocks the process from exiting) and a
queue. While a call runs, the requests that arrive for the version wait together and go in the
next call: the longer the model takes, the larger the batch, with no timer when idle.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from workbench.serving.signature import Columns

Result = list[Any] | Exception
"""A request's predictions, or the model's failure for it (raised to that request only)."""
PredictMany = Callable[[list[Columns]], list[Result]]


class ModelLane:
    """The calls of one model version: queued on the loop, run one at a time on its thread."""

    def __init__(self, version: int, predict: PredictMany, max_batch_size: int) -> None:
        self.version = version
        self.predict = predict
        self.max_batch_size = max_batch_size
        self.batch_wait_s = 0.0
        """How long an idle lane waits for company before a call (set while the replica is busy)."""
        self.pending: deque[tuple[Columns, asyncio.Future[Result]]] = deque()
        self.started_at: float | None = None
        """When the call in progress started (time.monotonic), or None while idle."""
        self._waiting = False
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        threading.Thread(target=self._work, name=f"model-v{version}", daemon=True).start()

    def submit(self, columns: Columns) -> asyncio.Future[Result]:
        """Queue one request; its future resolves with the request's slice of a model call."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self.pending.append((columns, future))
        self._next(loop)
        return future

    def running_for(self, now: float) -> float:
        """Seconds the call in progress has run (0 when idle)."""
        return 0.0 if self.started_at is None else now - self.started_at

    def _next(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start a call with what is pending, unless one runs (or a short wait for company)."""
        if self.started_at is not None or self._waiting or not self.pending:
            return
        if self.batch_wait_s > 0 and len(self.pending) < self.max_batch_size:
            self._waiting = True
            loop.call_later(self.batch_wait_s, self._waited, loop)
            return
        self._start(loop)

    def _waited(self, loop: asyncio.AbstractEventLoop) -> None:
        self._waiting = False
        if self.started_at is None and self.pending:
            self._start(loop)

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        batch: list[tuple[Columns, asyncio.Future[Result]]] = []
        while self.pending and len(batch) < self.max_batch_size:
            columns, future = self.pending.popleft()
            if not future.done():  # a request that timed out meanwhile is not scored
                batch.append((columns, future))
        if not batch:
            return
        self.started_at = time.monotonic()
        parts = [columns for columns, _ in batch]

        def call() -> None:  # on the lane's thread
            try:
                outcome: list[Result] | Exception = self.predict(parts)
            except Exception as error:  # predict answers failures per request; this is a bug
                outcome = error
            loop.call_soon_threadsafe(self._finished, loop, batch, outcome)

        self._jobs.put(call)

    def _finished(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[tuple[Columns, asyncio.Future[Result]]],
        outcome: list[Result] | Exception,
    ) -> None:
        self.started_at = None
        for index, (_, future) in enumerate(batch):
            if future.done():
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome[index])
        self._next(loop)

    def _work(self) -> None:
        while True:
            self._jobs.get()()
