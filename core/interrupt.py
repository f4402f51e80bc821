"""Stopping a run on SIGINT / SIGTERM: a flag the signal handlers set, checked wherever a run waits or steps.

The first signal only asks the run to stop. Every wait of the loader (rate limit, ``Retry-After``, backoff,
Parrot's polling) sleeps in short slices and every network read is cut into short reads, so each notices the
request within a fraction of a second and raises ``Interrupted``. ``Interrupted`` is a ``BaseException``, like
``KeyboardInterrupt``: no ``except Exception`` of a provider or of dlt turns it into a provider failure. The
runner then stops before anything is published and the CLI exits 128 + the signal number (130 for SIGINT, 143
for SIGTERM). A second signal ends the process at once; the next run repairs what it left, as after a crash.

The handler only sets a module variable: no lock, no I/O on the first signal (a lock taken in a handler can
deadlock the thread it interrupted).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType

# Longest uninterrupted sleep or socket read: the worst-case delay between a signal and the run noticing it.
SLICE_SECONDS = 0.2
SIGNALS = (signal.SIGINT, signal.SIGTERM)

_received: int | None = None


class Interrupted(BaseException):
    """The run was asked to stop by a signal; exit code 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"stopped by {signal_name(signum)}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def requested() -> int | None:
    """The signal that asked the run to stop, or None."""
    return _received


def check() -> None:
    """Raise ``Interrupted`` when a stop was requested."""
    if _received is not None:
        raise Interrupted(_received)


def sleep(seconds: float) -> None:
    """``time.sleep`` that raises ``Interrupted`` within ``SLICE_SECONDS`` of a stop request."""
    deadline = time.monotonic() + max(0.0, seconds)
    while True:
        check()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        time.sleep(min(SLICE_SECONDS, remaining))


@contextlib.contextmanager
def on_stop(callback: Callable[[], object]) -> Iterator[None]:
    """Call ``callback`` (e.g. a DuckDB connection's ``interrupt``) from a watcher thread as soon as a stop is
    requested during the block, for work that cannot poll the flag itself (one long SQL statement)."""
    done = threading.Event()

    def watch() -> None:
        while not done.wait(SLICE_SECONDS):
            if _received is not None:
                callback()
                return

    watcher = threading.Thread(target=watch, name="stop-watcher", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


def request_stop(signum: int) -> None:
    """Ask the run to stop as if ``signum`` had arrived (the handler's first step; also used by tests)."""
    global _received
    _received = signum


def clear() -> None:
    """Forget a stop request (a new command starts; tests)."""
    global _received
    _received = None


def _handler(signum: int, frame: FrameType | None) -> None:
    if _received is not None:
        os.write(2, f"campaign-etl: {signal_name(signum)} again; stopping now.\n".encode())
        os._exit(128 + signum)
    request_stop(signum)


@contextlib.contextmanager
def handling_signals() -> Iterator[None]:
    """Install the stop handlers for SIGINT and SIGTERM for the block (main thread only), then restore."""
    clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    for sig in SIGNALS:
        signal.signal(sig, _handler)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        # The flag stays set: a worker thread still finishing its wait must see the stop too, or the
        # interpreter, which joins worker threads at exit, would wait for it. The next command clears it.
