"""``campaign-etl demo``: the whole job with no credentials, against the built-in simulators on loopback.

The demo loads night after night: ``DEMO_NIGHTS`` nightly loads over simulated days before the last (the first,
``DEMO_NIGHTS`` days back, a first run from the start date), each with the loader's clock (``core.clock``) and the
simulators (``SimApp.advance_to``) moved to that day, then the last at the real now. So
``analytics.fact_campaign_metrics_history`` holds one observed day per load and shows the counts of recent sends
growing from day to day, while the warehouse ends with exactly what a single load at the real now finds. The
date-range providers are pulled by day (``DEMO_DAILY_PROVIDERS``). The demo ends by writing the HTML report
(``pipelines.html_report``) beside the warehouse and printing its path.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pendulum

from core import clock
from core.errors import CampaignEtlError
from pipelines import report
from pipelines.html_report import write_report
from pipelines.runner import Progress, RunResult, load
from simulators import registry as sim_registry
from simulators.base import RollingLimit, SimApp, SimServer
from sources import registry as source_registry

DEMO_HISTORY_DAYS = 120
# nightly loads over simulated days before the last one (at the real now): one observed day each in the history
DEMO_NIGHTS = 4
# The rate-limit period of a simulator with a limit (Insider: 30 requests per minute) while the demo loads its
# nights: the loads send about 10 requests each within a few seconds, so at the real minute the later nights
# would wait most of a minute; the loader is told the same period, and the figures do not depend on it.
DEMO_LIMIT_PERIOD_SECONDS = 10.0
# The date-range providers the demo pulls by UTC day (window_days = 1, where production defaults to weeks), so that
# analytics.daily_campaign_metrics has days to show; a window_days set in the environment is kept.
DEMO_DAILY_PROVIDERS = ("insider", "shoplive")


@contextlib.contextmanager
def _patched_env(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@contextlib.contextmanager
def demo_simulators(now: pendulum.DateTime, progress: Progress | None = None) -> Iterator[dict[str, SimApp]]:
    """The demo's simulators served on loopback, the loader pointed at them in the environment (credentials and a
    start ``DEMO_HISTORY_DAYS`` back) for the block; yields provider -> simulator."""
    servers: list[SimServer] = []
    apps: dict[str, SimApp] = {}
    env: dict[str, str] = {}
    try:
        for name, factory in sim_registry.available().items():
            if name not in source_registry.available():
                continue
            app, config = factory(now)
            server = SimServer(app).start()
            servers.append(server)
            apps[name] = app
            env.update(config(server.url))
            env.setdefault(f"SOURCES__{name.upper()}__START_DATE",
                           now.subtract(days=DEMO_HISTORY_DAYS).to_date_string())
            if progress is not None:
                progress(f"simulator {name} serving on {server.url}")
        with _patched_env(env):
            yield apps
    finally:
        for server in servers:
            server.stop()


def demo_nights(now: pendulum.DateTime, nights: int = DEMO_NIGHTS) -> list[pendulum.DateTime]:
    """The moments the demo loads as of, oldest first: one a day for ``nights`` days back, then ``now`` itself."""
    return [now.subtract(days=n) for n in range(nights, 0, -1)] + [now]


# exit codes from the worst down (pipelines.runner.RunResult.exit_code): a failed provider, skipped entities, ok
_WORST_FIRST = (1, 3, 0)


def worst_exit_code(codes: list[int]) -> int:
    """The exit code of the demo's loads taken together: the worst of them (1 before 3 before 0)."""
    return min(codes, key=lambda code: _WORST_FIRST.index(code) if code in _WORST_FIRST else -1)


def _shorter_limits(apps: dict[str, SimApp]) -> dict[str, str]:
    """Shorten the rate-limit period of the simulators that have a longer one to ``DEMO_LIMIT_PERIOD_SECONDS``;
    returns the environment that tells the loader the same."""
    env: dict[str, str] = {}
    for name, app in apps.items():
        limit = getattr(app, "limit", None)
        if isinstance(limit, RollingLimit) and limit.period > DEMO_LIMIT_PERIOD_SECONDS:
            limit.period = DEMO_LIMIT_PERIOD_SECONDS
            env[f"SOURCES__{name.upper()}__RATE_LIMIT_PERIOD_SECONDS"] = f"{DEMO_LIMIT_PERIOD_SECONDS:g}"
    return env


def loaded_until(warehouse: Path) -> pendulum.DateTime | None:
    """When the latest load the published ``warehouse`` holds started (its loader clock), or None when it holds
    none (no warehouse yet, or not one this loader wrote)."""
    if not warehouse.exists():
        return None
    from pipelines.warehouse import read_only

    try:
        with read_only(warehouse) as con:
            row = con.execute("select max(started_at) from analytics.load_runs").fetchone()
    except (CampaignEtlError, duckdb.Error):
        return None
    return None if row is None or row[0] is None else pendulum.instance(row[0], tz="UTC")


def load_nights(apps: dict[str, SimApp], *, warehouse: Path, now: pendulum.DateTime,
                progress: Progress) -> list[tuple[pendulum.DateTime, RunResult]]:
    """One nightly load of ``apps`` (the demo's simulators, anchored at ``now``) per moment of
    ``demo_nights(now)``, oldest first, into ``warehouse``: the simulators and the loader's clock moved to each
    moment (the last load at the real now, unshifted). Returns each moment with its run.

    A warehouse never goes back in time: the nights before the latest load it already holds (the demo run again on
    its warehouse) are left out, so a second demo the same day is one load at the real now, as it always was."""
    until = loaded_until(warehouse)
    nights = [moment for moment in demo_nights(now) if until is None or moment > until or moment == now]
    runs: list[tuple[pendulum.DateTime, RunResult]] = []
    daily = {f"SOURCES__{name.upper()}__WINDOW_DAYS": "1" for name in DEMO_DAILY_PROVIDERS if name in apps
             and f"SOURCES__{name.upper()}__WINDOW_DAYS" not in os.environ}
    with _patched_env({**_shorter_limits(apps), **daily}):
        for number, moment in enumerate(nights, 1):
            last = moment == now
            day = moment.to_date_string()
            progress(f"demo: nightly load {number} of {len(nights)}, " + (
                f"as of {day} (the real now)" if last else f"as of {day} (simulated, {now.diff(moment).in_days()} "
                                                           f"day(s) back)"))
            for app in apps.values():
                app.advance_to(moment)
            # the loader's clock reads the simulated day (the last night: the real now)
            with clock.shifted_to(moment) if not last else contextlib.nullcontext():
                # the simulators' numbers stay in the demo's DuckDB file, never in a configured shared warehouse;
                # the nights before the last say their steps in lines only, so a terminal's live display shows
                # one row per provider (the last night's), not one per provider and night
                runs.append((moment, load(warehouse=warehouse, mode="nightly", providers=list(apps),
                                          progress=progress if last else Progress.to(progress),
                                          shared_target=False)))
    return runs


def run_demo(*, warehouse: Path, progress: Progress) -> int:
    """Load the simulators night after night (``load_nights``), print the last load's run summary, the nights
    that built the history and what landed. Exits with the worst exit code of the loads (1 before 3 before 0): a
    provider failing or skipping entities on any night shows in the demo's exit code, even when the last night
    caught up."""
    now = clock.now()
    with demo_simulators(now, progress) as apps:
        runs = load_nights(apps, warehouse=warehouse, now=now, progress=progress)
    print(report.run_summary(runs[-1][1]))
    print()
    earlier = [f"{moment.to_date_string()} exited {run.exit_code}" for moment, run in runs[:-1] if run.exit_code]
    if len(runs) > 1:
        print(f"history: {len(runs)} nightly loads, one per day {runs[0][0].to_date_string()}.."
              f"{runs[-1][0].to_date_string()} (the last at the real now), in "
              f"analytics.fact_campaign_metrics_history" + (f"; {', '.join(earlier)}" if earlier else ""))
    else:
        print(f"history: 1 nightly load, at the real now ({runs[0][0].to_date_string()}): {warehouse} already held "
              f"the simulated nights before it, in analytics.fact_campaign_metrics_history")
    print()
    print(summary(warehouse))
    print()
    print(f"report: {write_report(warehouse)} (campaign-etl report writes it again from the warehouse)")
    return worst_exit_code([run.exit_code for _, run in runs])


# the conformed counts the demo sums over each provider's campaigns (analytics.campaign_performance): unique and
# total clicks apart, each with the one meaning the metric dictionary gives it (docs/metrics.md)
SUMMED = ("sent", "delivered", "opens_unique", "clicks_unique", "clicks_total", "conversions", "viewers")


def summed_over_campaigns(con: Any) -> list[dict[str, Any]]:
    """Per provider: its campaigns and, per column of ``SUMMED``, the sum over the campaigns that have figures
    (``periods`` not NULL), or None when the provider has no such figure or some of those campaigns lack it (a
    unique count of a campaign with several windows is NULL, never summed: a sum over the others would mean
    something else); ``missing`` holds (column, campaigns with it, campaigns with figures) for the latter."""
    counts = ", ".join(f"sum({c}), count({c})" for c in SUMMED)
    rows = con.execute(f"""
        select provider, count(*), count(periods), {counts}
        from analytics.campaign_performance group by all order by provider""").fetchall()
    # the figures each provider has at all, per window or per campaign
    has = set(con.execute("""select distinct provider, conformed_metric from analytics.fact_campaign_metrics
        where breakdown_type = 'total' and conformed_metric is not null""").fetchall())
    out = []
    for provider, campaigns, with_figures, *values in rows:
        row: dict[str, Any] = {"provider": provider, "campaigns": campaigns}
        missing = []
        for i, column in enumerate(SUMMED):
            total, have = values[2 * i], values[2 * i + 1]
            row[column] = total if have and have == with_figures else None
            if have < with_figures and (have or (provider, column) in has):
                missing.append((column, have, with_figures))
        out.append({**row, "missing": missing})
    return out


def summary(warehouse: Path) -> str:
    """What landed: fact rows per provider and breakdown, campaigns, and a few conformed totals."""
    from pipelines.warehouse import read_only

    with read_only(warehouse) as con:
        by_breakdown = con.execute("""
            select provider, breakdown_type, count(*) as fact_rows, count(distinct campaign_id) as campaigns
            from analytics.fact_campaign_metrics group by all order by provider, breakdown_type""").fetchall()
        conformed = summed_over_campaigns(con)
        dims = con.execute("select provider, count(*) as campaigns from analytics.dim_campaign group by all "
                           "order by provider").fetchall()
    partial = [f"  {row['provider']}: " + ", ".join(f"{column} for {have} of {of} campaigns"
                                                    for column, have, of in row["missing"])
               for row in conformed if row["missing"]]
    if partial:   # a unique count of a campaign with several windows is NULL, never summed
        partial.insert(0, "no sum where only some campaigns have a figure: a unique count is never summed over "
                          "windows (analytics.daily_campaign_metrics has it per window):")
    return "\n".join([
        f"analytics.fact_campaign_metrics in {warehouse}:",
        report.text_table([{"provider": p, "breakdown_type": b, "fact_rows": n, "campaigns": c}
                           for p, b, n, c in by_breakdown]), "",
        "analytics.campaign_performance, summed over campaigns ('-': the provider has no such figure):",
        report.text_table([{k: v for k, v in row.items() if k != "missing"} for row in conformed]),
        *partial, "",
        "analytics.dim_campaign:", report.text_table([{"provider": p, "campaigns": c} for p, c in dims]),
    ])
