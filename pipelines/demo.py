"""``campaign-etl demo``: the whole job with no credentials, against the built-in simulators on loopback."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

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


def summary(warehouse: Path) -> str:
    """What landed: fact rows per provider and breakdown, campaigns, and a few conformed totals."""
    from pipelines.warehouse import read_only

    with read_only(warehouse) as con:
        by_breakdown = con.execute("""
            select provider, breakdown_type, count(*) as fact_rows, count(distinct campaign_id) as campaigns
            from analytics.fact_campaign_metrics group by all order by provider, breakdown_type""").df()
        conformed = con.execute("""
            select provider, count(*) as campaigns, sum(sent) as sent, sum(delivered) as delivered,
                   sum(opens_unique) as opens_unique, sum(coalesce(clicks_unique, clicks_total)) as clicks,
                   sum(conversions) as conversions, sum(viewers) as viewers
            from analytics.campaign_performance group by all order by provider""").df()
        dims = con.execute("select provider, count(*) as campaigns from analytics.dim_campaign group by all "
                           "order by provider").df()
    return "\n".join([
        f"analytics.fact_campaign_metrics in {warehouse}:", by_breakdown.to_string(index=False, na_rep="-"), "",
        "analytics.campaign_performance, summed over campaigns (unique counts are never summed over windows):",
        conformed.to_string(index=False, na_rep="-") if not conformed.empty else "(none)", "",
        "analytics.dim_campaign:", dims.to_string(index=False),
    ])
