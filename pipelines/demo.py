"""``campaign-etl demo``: the whole job with no credentials, against the built-in simulators on loopback."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pendulum

from pipelines import report
from pipelines.runner import Progress, load
from simulators import registry as sim_registry
from simulators.base import SimApp, SimServer
from sources import registry as source_registry

DEMO_HISTORY_DAYS = 120


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


def run_demo(*, warehouse: Path, progress: Progress) -> int:
    with demo_simulators(pendulum.now("UTC"), progress) as apps:
        # the simulators' numbers stay in the demo's DuckDB file, never in a configured shared warehouse
        result = load(warehouse=warehouse, mode="nightly", providers=list(apps), progress=progress,
                      shared_target=False)
    print(report.run_summary(result))
    print()
    print(summary(warehouse))
    return result.exit_code


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
    out = []
    for provider, campaigns, with_figures, *values in rows:
        row: dict[str, Any] = {"provider": provider, "campaigns": campaigns}
        missing = []
        for i, column in enumerate(SUMMED):
            total, have = values[2 * i], values[2 * i + 1]
            row[column] = total if have and have == with_figures else None
            if have and have < with_figures:
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
        partial.insert(0, "only some campaigns have these (unique counts are never summed over windows), so no sum:")
    return "\n".join([
        f"analytics.fact_campaign_metrics in {warehouse}:",
        report.text_table([{"provider": p, "breakdown_type": b, "fact_rows": n, "campaigns": c}
                           for p, b, n, c in by_breakdown]), "",
        "analytics.campaign_performance, summed over campaigns ('-': the provider has no such figure):",
        report.text_table([{k: v for k, v in row.items() if k != "missing"} for row in conformed]),
        *partial, "",
        "analytics.dim_campaign:", report.text_table([{"provider": p, "campaigns": c} for p, c in dims]),
    ])
