"""What a run tells the person or the log watching it.

``Progress`` writes one line per step (on stderr, or to an orchestrator's log through ``sink``) and one line for
every wait of ``WAIT_NOTICE_SECONDS`` or more, with its reason: the rate limit, the provider's ``Retry-After``,
a retry's backoff, metrics the provider has not finished computing. ``LiveProgress`` is what a terminal gets: a
live display (``rich``) with a row per provider — windows done of planned, requests sent of estimated, the current
wait and its reason, an ETA from the rate limit and the pace so far — and the step lines printed above it.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.redact import redact
from pipelines.estimate import Estimate, duration, rate_bound
from sources.common.http import HttpPolicy, RequestStats

# a wait at least this long gets a line of its own in a log
WAIT_NOTICE_SECONDS = 5.0


def wait_reason(reason: str, policy: HttpPolicy | None) -> str:
    """A wait's reason in words."""
    if reason == "rate limit" and policy is not None and policy.rate_limit_requests:
        return (f"the rate limit ({policy.rate_limit_requests} requests per "
                f"{policy.rate_limit_period_seconds:g} s)")
    return {"rate limit": "the rate limit", "Retry-After": "the provider's Retry-After",
            "backoff": "a retry (backoff after an error)",
            "metrics not ready": "metrics the provider is still computing"}.get(reason, reason)


@dataclass
class ProviderProgress:
    """One provider's run as the display sees it."""

    name: str
    stats: RequestStats
    policy: HttpPolicy
    windows: int
    estimate: Estimate
    started: float = field(default_factory=time.monotonic)
    windows_done: int = 0
    outcome: str | None = None
    _noticed_until: dict[str, float] = field(default_factory=dict)

    def eta(self) -> float | None:
        """Seconds left: the longer of the rate limit's bound for the requests left and the pace so far."""
        if self.outcome is not None:
            return 0.0
        sent = self.stats.requests
        left = max(0, self.estimate.requests - sent)
        if left == 0 and self.windows_done >= self.windows:
            return None
        pace = (time.monotonic() - self.started) / sent * left if sent else 0.0
        waiting = self.stats.current_wait()
        return max(rate_bound(left + 1, self.policy), pace, waiting[1] if waiting else 0.0)


class Progress:
    """One line per step: on stderr, or to ``sink`` (an orchestrator's log); nothing when quiet."""

    def __init__(self, quiet: bool = False, sink: Callable[[str], None] | None = None) -> None:
        self.quiet = quiet
        self.sink = sink
        self._providers: dict[str, ProviderProgress] = {}
        self._lock = threading.Lock()

    @classmethod
    def to(cls, sink: Callable[[str], None]) -> Progress:
        return cls(sink=sink)

    def __call__(self, message: str) -> None:
        if self.quiet:
            return
        if self.sink is not None:
            self.sink(redact(message))
        else:
            self._print(redact(message))

    def _print(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the display (nothing to do for lines)."""

    # -- a provider's run -----------------------------------------------------------------------------------

    def provider_started(self, name: str, stats: RequestStats, policy: HttpPolicy, *, windows: int,
                         estimate: Estimate) -> None:
        """``name`` starts pulling ``windows`` windows; its waits are reported from now on."""
        state = ProviderProgress(name, stats, policy, windows, estimate)
        with self._lock:
            self._providers[name] = state
        stats.on_wait = lambda reason, seconds: self._wait(state, reason, seconds)

    def windows_done(self, name: str, done: int) -> None:
        state = self._providers.get(name)
        if state is not None:
            state.windows_done = done

    def provider_finished(self, name: str, outcome: str) -> None:
        state = self._providers.get(name)
        if state is not None:
            state.outcome = outcome
            state.stats.on_wait = None

    def _wait(self, state: ProviderProgress, reason: str, seconds: float) -> None:
        """A log line for a long wait; several threads waiting on the same thing get one line."""
        if seconds < WAIT_NOTICE_SECONDS:
            return
        now = time.monotonic()
        with self._lock:
            if state._noticed_until.get(reason, 0.0) > now + 1.0:
                return
            state._noticed_until[reason] = now + seconds
        self(f"{state.name}: waiting {duration(seconds)} for {wait_reason(reason, state.policy)}; "
             f"{state.stats.requests} requests sent, {state.windows_done} of {state.windows} window(s) done")


class LiveProgress(Progress):
    """A terminal's live display: a row per provider, the step lines above it."""

    def __init__(self) -> None:
        super().__init__()
        from rich.console import Console
        from rich.progress import BarColumn, TextColumn
        from rich.progress import Progress as RichProgress

        self._rich = RichProgress(
            TextColumn("{task.description:<11}"), BarColumn(bar_width=24),
            TextColumn("{task.fields[windows]}"), TextColumn("{task.fields[requests]}"),
            TextColumn("{task.fields[state]}"),
            console=Console(stderr=True), refresh_per_second=4, transient=False,
            get_time=time.monotonic)
        self._tasks: dict[str, Any] = {}
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        self._started = False

    def _print(self, message: str) -> None:
        self._ensure_started()
        self._rich.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def _ensure_started(self) -> None:
        if not self._started:
            self._started = True
            self._rich.start()
            self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._ticker.start()

    def provider_started(self, name: str, stats: RequestStats, policy: HttpPolicy, *, windows: int,
                         estimate: Estimate) -> None:
        super().provider_started(name, stats, policy, windows=windows, estimate=estimate)
        self._ensure_started()
        with self._lock:
            self._tasks[name] = self._rich.add_task(name, total=max(windows, 1), windows="", requests="",
                                                    state="starting")
        self._refresh()

    def _wait(self, state: ProviderProgress, reason: str, seconds: float) -> None:
        """Shown in the provider's row (``_tick``), not as a line."""

    def _tick(self) -> None:
        while not self._stop.wait(0.25):
            self._refresh()

    def _refresh(self) -> None:
        with self._lock:
            rows = [(self._tasks[name], state) for name, state in self._providers.items() if name in self._tasks]
        for task, state in rows:
            self._rich.update(task, completed=min(state.windows_done, state.windows) if state.windows else
                              (1 if state.outcome else 0),
                              windows=f"{state.windows_done}/{state.windows} windows",
                              requests=f"{state.stats.requests}/{'≥' if state.estimate.at_least else '~'}"
                                       f"{state.estimate.requests} requests",
                              state=self._state(state))

    @staticmethod
    def _state(state: ProviderProgress) -> str:
        if state.outcome is not None:
            return state.outcome
        wait = state.stats.current_wait()
        eta = state.eta()
        tail = f"  ETA {duration(eta)}" if eta is not None else ""
        if wait is not None and wait[1] >= 1.0:
            return f"waiting {duration(wait[1])} for {wait_reason(wait[0], state.policy)}{tail}"
        return f"pulling{tail}"

    def close(self) -> None:
        if self._started:
            self._stop.set()
            if self._ticker is not None:
                self._ticker.join(timeout=1.0)
            self._refresh()
            self._rich.stop()
            self._started = False
