"""In-memory buffer for metric points and the thread that flushes it as Arrow in large batches.

`log_metric` inside a training loop costs a few list appends; the disk (or the
owner actor) sees one transaction per flush. Strings are dictionary-encoded so a
million points from a hundred runs cost a hundred strings, not a million.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa


@dataclass
class _Chunk:
    run_code: int
    key_code: int
    steps: np.ndarray
    values: np.ndarray
    timestamps: np.ndarray  # int64 microseconds since the epoch, UTC


@dataclass
class MetricBuffer:
    """Points waiting for the next flush. Thread-safe; `drain` hands them over as one table."""

    _runs: dict[str, int] = field(default_factory=dict)
    _keys: dict[str, int] = field(default_factory=dict)
    _chunks: list[_Chunk] = field(default_factory=list)
    _scalars: list[tuple[int, int, int, float, int]] = field(default_factory=list)
    _size: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __len__(self) -> int:
        return self._size

    def add(self, run_id: str, key: str, value: float, step: int, timestamp_us: int) -> int:
        """Buffer one point; returns the number buffered."""
        with self._lock:
            run = self._runs.setdefault(run_id, len(self._runs))
            code = self._keys.setdefault(key, len(self._keys))
            self._scalars.append((run, code, step, value, timestamp_us))
            self._size += 1
            return self._size

    def add_many(
        self,
        run_id: str,
        key: str,
        steps: np.ndarray,
        values: np.ndarray,
        timestamps_us: np.ndarray,
    ) -> int:
        """Buffer a column of points for one (run, key); returns the number buffered."""
        with self._lock:
            run = self._runs.setdefault(run_id, len(self._runs))
            code = self._keys.setdefault(key, len(self._keys))
            self._chunks.append(_Chunk(run, code, steps, values, timestamps_us))
            self._size += len(steps)
            return self._size

    def drain(self) -> pa.Table | None:
        """Take everything buffered as one Arrow table (None when empty)."""
        with self._lock:
            if self._size == 0:
                return None
            runs, keys, chunks, scalars = self._runs, self._keys, self._chunks, self._scalars
            self._runs, self._keys, self._chunks, self._scalars = {}, {}, [], []
            self._size = 0
        return _to_table(runs, keys, chunks, scalars)


class MetricFlusher:
    """Owns a `MetricBuffer` and the background thread that hands it to `write` as one table.

    `write(table, wait)` commits one table of points in one transaction. The thread wakes
    every `interval_s`, or at once when `max_rows` points wait; an error it meets is kept
    and raised by the next `flushed()`, and the thread writes nothing more until then.
    """

    def __init__(
        self, write: Callable[[pa.Table, bool], None], *, interval_s: float, max_rows: int
    ) -> None:
        self.interval_s = interval_s
        self.max_rows = max_rows
        self._write = write
        self._buffer = MetricBuffer()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._error: BaseException | None = None

    def add(self, run_id: str, key: str, value: float, step: int, timestamp_us: int) -> None:
        """Buffer one point (the hot path: one buffer append, no flush lock)."""
        size = self._buffer.add(run_id, key, value, step, timestamp_us)
        if self._thread is None:
            self._start()
        if size >= self.max_rows:
            self._wake.set()

    def add_many(
        self,
        run_id: str,
        key: str,
        steps: np.ndarray,
        values: np.ndarray,
        timestamps_us: np.ndarray,
    ) -> None:
        """Buffer a column of points for one (run, key)."""
        size = self._buffer.add_many(run_id, key, steps, values, timestamps_us)
        if self._thread is None:
            self._start()
        if size >= self.max_rows:
            self._wake.set()

    @contextmanager
    def flushed(self, *, wait: bool) -> Iterator[None]:
        """Raise a kept background error, write everything buffered, then run the body.

        All under the flush lock, so no background write slips in between: what the body
        writes lands after the points buffered before it, in order.
        """
        with self._lock:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            self._drain(wait=wait)
            yield

    def stop(self, timeout_s: float = 5) -> None:
        """Stop the thread and wait for it (up to `timeout_s`); call `flushed()` first."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    def _drain(self, *, wait: bool) -> None:
        table = self._buffer.drain()
        if table is not None:
            self._write(table, wait)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="workbench-metric-flusher", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            with self._lock:
                if self._error is not None:
                    continue
                try:
                    self._drain(wait=False)
                except BaseException as error:  # kept and raised by the next flushed()
                    self._error = error


def _to_table(
    runs: dict[str, int],
    keys: dict[str, int],
    chunks: list[_Chunk],
    scalars: list[tuple[int, int, int, float, int]],
) -> pa.Table:
    lengths = np.fromiter((len(c.steps) for c in chunks), dtype=np.int64, count=len(chunks))
    run_codes = [
        np.repeat(np.fromiter((c.run_code for c in chunks), np.int32, len(chunks)), lengths)
    ]
    key_codes = [
        np.repeat(np.fromiter((c.key_code for c in chunks), np.int32, len(chunks)), lengths)
    ]
    steps = [np.asarray(c.steps, dtype=np.int64) for c in chunks]
    values = [np.asarray(c.values, dtype=np.float64) for c in chunks]
    stamps = [np.asarray(c.timestamps, dtype=np.int64) for c in chunks]
    if scalars:
        r, k, s, v, t = zip(*scalars, strict=True)
        run_codes.append(np.asarray(r, dtype=np.int32))
        key_codes.append(np.asarray(k, dtype=np.int32))
        steps.append(np.asarray(s, dtype=np.int64))
        values.append(np.asarray(v, dtype=np.float64))
        stamps.append(np.asarray(t, dtype=np.int64))
    run_dict = pa.array(list(runs), type=pa.string())
    key_dict = pa.array(list(keys), type=pa.string())
    return pa.table(
        {
            "run_id": pa.DictionaryArray.from_arrays(np.concatenate(run_codes), run_dict),
            "key": pa.DictionaryArray.from_arrays(np.concatenate(key_codes), key_dict),
            "step": np.concatenate(steps),
            "timestamp": pa.array(np.concatenate(stamps), type=pa.timestamp("us")),
            "value": np.concatenate(values),
        }
    )


def now_us() -> int:
    """Wall clock in microseconds since the epoch (UTC), the unit metrics are stored in."""
    return time.time_ns() // 1000
