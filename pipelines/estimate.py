"""How many requests a provider's run will send and how long it will take, before it starts.

Used by ``--dry-run`` (nothing is sent) and by the progress display's ETA. The request count per window comes
from the provider's last runs in ``analytics.load_runs`` of the published warehouse; without any, a run sends at
least one request per window (its listing), which is all that can be known before asking the provider. The time
is the longer of two bounds: the provider's rate limit (``limit`` requests per ``period``: the n-th request
cannot leave before ``(ceil(n / limit) - 1) * period``) and the time per request the last runs took.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from sources.common.http import HttpPolicy

# the runs of a provider an estimate learns from (the newest, with at least one window done)
HISTORY_RUNS = 10


@dataclass(frozen=True)
class History:
    """What a provider's last runs cost: requests per window done, and wall seconds per request."""

    runs: int
    requests_per_window: float
    seconds_per_request: float


@dataclass(frozen=True)
class Estimate:
    """A run's expected requests and seconds, and what they rest on (``basis``, said to the user)."""

    requests: int
    seconds: float
    basis: str
    at_least: bool = False


def history(warehouse: Path) -> dict[str, History]:
    """Per provider, the cost of its last runs, from the published warehouse ({} when there is none yet)."""
    if not warehouse.exists():
        return {}
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error:
        return {}
    try:
        rows = con.execute(f"""
            with recent as (
                select provider, requests, windows_done, duration_seconds,
                       row_number() over (partition by provider order by started_at desc) as n
                from analytics.load_runs
                where provider <> '*' and windows_done > 0 and requests > 0
            )
            select provider, count(*), sum(requests) / sum(windows_done), sum(duration_seconds) / sum(requests)
            from recent where n <= {HISTORY_RUNS} group by provider""").fetchall()
    except duckdb.Error:
        return {}
    finally:
        with contextlib.suppress(duckdb.Error):
            con.close()
    return {provider: History(int(runs), float(per_window), float(per_request))
            for provider, runs, per_window, per_request in rows}


def rate_bound(requests: int, policy: HttpPolicy) -> float:
    """The least time ``requests`` can take under the provider's rate limit (0 without one)."""
    if requests <= 0 or not policy.rate_limit_requests:
        return 0.0
    return (math.ceil(requests / policy.rate_limit_requests) - 1) * policy.rate_limit_period_seconds


def estimate(windows: int, policy: HttpPolicy, past: History | None) -> Estimate:
    """The requests and time of a run of ``windows`` windows."""
    if windows <= 0:
        return Estimate(0, 0.0, "nothing to pull")
    if past is None:
        requests = windows
        return Estimate(requests, rate_bound(requests, policy),
                        "no earlier run to learn from: one listing request per window, more per campaign found",
                        at_least=True)
    requests = max(windows, round(windows * past.requests_per_window))
    seconds = max(rate_bound(requests, policy), requests * past.seconds_per_request)
    runs = "run" if past.runs == 1 else f"{past.runs} runs"
    return Estimate(requests, seconds, f"{past.requests_per_window:.1f} requests per window in the last {runs}")


def limits(policy: HttpPolicy) -> str:
    """The provider's request limits in words."""
    rate = (f"{policy.rate_limit_requests} requests per {policy.rate_limit_period_seconds:g} s"
            if policy.rate_limit_requests else "no rate limit")
    return f"{rate}, {policy.max_concurrency} at a time"


def duration(seconds: float) -> str:
    """``75`` -> ``1 min 15 s``; ``4000`` -> ``1 h 07 min``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def dry_run_text(planned: list[Any], mode: str) -> str:
    """What ``--dry-run`` prints: per provider its windows (after snapping to the grid, said when it widened the
    range), the estimated requests and time; then the run's total (providers run side by side)."""
    out = [f"dry run ({mode}): no request is sent and nothing is loaded"]
    slowest = 0.0
    for p in planned:
        est = p.estimate
        windows = p.windows
        cells = ", ".join(f"{w.start.to_date_string()}..{_last_day(w)}" for w in windows[:4])
        if len(windows) > 4:
            cells += f", ... ({len(windows) - 4} more)"
        out.append(f"{p.provider}: {len(windows)} window(s) {_span(windows)}"
                   + (f" ({p.settled_windows} settled window(s) skipped)" if p.settled_windows else ""))
        if p.widened:
            out.append(f"  {p.widened}")
        if windows:
            out.append(f"  windows: {cells}")
        if est.at_least:
            time_left = f"at least {duration(est.seconds)}" if est.seconds >= 1 else "time unknown before a first run"
            out.append(f"  at least {est.requests} requests, {time_left} ({limits(p.policy)}; {est.basis})")
        else:
            out.append(f"  about {est.requests} requests, about {duration(est.seconds)} ({limits(p.policy)}; "
                       f"{est.basis})")
        slowest = max(slowest, est.seconds)
    out.append(f"estimated time: about {duration(slowest)} side by side (the slowest provider), plus the transform")
    return "\n".join(out)


def _last_day(window: Any) -> str:
    return str((window.end - dt.timedelta(microseconds=1)).date())


def _span(windows: list[Any]) -> str:
    return f"{windows[0].start.to_date_string()}..{_last_day(windows[-1])}" if windows else ""
