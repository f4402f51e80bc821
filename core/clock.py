"""The loader's one clock: every "now" of a run (its windows, cursor, ledger, fetch log and run log) reads it.

``now()`` is the real time in UTC plus an in-process offset. The offset is zero unless ``shifted_to`` or
``offset`` moves it for a block: only ``campaign-etl demo`` does, to load its simulators night after night over
simulated days and so build a history. Production never shifts the clock, so there ``now()`` is the real now.

The offset is process-wide (every thread of a run reads the same clock), not per thread; the clock keeps running
while shifted, so durations measured with it stay real. Rate limits and timeouts do not read it: they use
``time.monotonic`` and the wall clock, which are never shifted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator

import pendulum

_lock = threading.Lock()
_offset = dt.timedelta(0)


def now() -> pendulum.DateTime:
    """The loader's now, in UTC: the real now plus the current offset (zero unless the demo shifted it)."""
    real = pendulum.now(pendulum.UTC)
    return real + _offset if _offset else real


def current_offset() -> dt.timedelta:
    """How far ``now()`` is from the real now (zero when not shifted)."""
    return _offset


@contextlib.contextmanager
def offset(delta: dt.timedelta) -> Iterator[None]:
    """Shift the clock by ``delta`` (added to any shift in force) for the block; the previous offset is back after
    it, whatever happens inside."""
    global _offset
    with _lock:
        saved = _offset
        _offset = saved + delta
    try:
        yield
    finally:
        with _lock:
            _offset = saved


@contextlib.contextmanager
def shifted_to(moment: dt.datetime) -> Iterator[pendulum.DateTime]:
    """Shift the clock so that ``now()`` reads ``moment`` on entering the block (and runs on from there); yields
    that moment in UTC. A naive ``moment`` is read as UTC."""
    target = pendulum.instance(moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).in_timezone("UTC")
    with offset(target - now()):
        yield target
