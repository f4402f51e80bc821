"""``campaign-etl demo`` loads night after night over simulated days: the metrics history shows curves, and the
warehouse ends with what the last load at the real now finds. Also the simulators answering as of a moment."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import cli, demo_copy, query

from core.providers import PROVIDER_NAMES
from pipelines.demo import DEMO_NIGHTS, worst_exit_code
from simulators import experiture, greenarrow, insider, parrot, shoplive
from simulators.base import MATURE_DAYS, engagement_share

LOADS = DEMO_NIGHTS + 1
KEY = ("provider", "account_id", "campaign_id", "breakdown_type", "breakdown_value", "period_start", "metric")


@pytest.fixture(scope="module")
def demo(built_demo: tuple[Path, subprocess.CompletedProcess[str]],
         tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    return demo_copy(built_demo, tmp_path_factory, "demo-history")


def test_the_demo_says_which_day_it_loads_and_how_the_history_was_built(demo: tuple[Path, Any]) -> None:
    _, result = demo
    for number in range(1, LOADS + 1):
        assert f"demo: nightly load {number} of {LOADS}, as of " in result.stderr
    assert "(the real now)" in result.stderr
    assert f"history: {LOADS} nightly loads, one per day " in result.stdout
    assert len(re.findall(r"^run \S+ -> ", result.stdout, re.M)) == 1, "only the last run's summary"


def test_the_history_has_a_day_per_load(demo: tuple[Path, Any]) -> None:
    warehouse, _ = demo
    days = [d for (d,) in query(warehouse, "select distinct observed_date from "
                                           "analytics.fact_campaign_metrics_history order by 1")]
    assert len(days) >= LOADS - 1, days
    per_provider = dict(query(warehouse, """select provider, max(days) from (
        select provider, campaign_id, count(distinct observed_date) as days
        from analytics.fact_campaign_metrics_history group by all) group by all"""))
    assert set(per_provider) == set(PROVIDER_NAMES)
    for provider, most in per_provider.items():
        assert most >= 3, f"{provider}: no campaign observed on three days"


def test_greenarrow_counts_of_recent_sends_grow_from_day_to_day(demo: tuple[Path, Any]) -> None:
    warehouse, _ = demo
    curves = query(warehouse, f"""
        select h.campaign_id, h.metric, list(h.value order by h.observed_date)
        from analytics.fact_campaign_metrics_history as h
        join analytics.dim_campaign as d using (provider, account_id, campaign_id)
        where h.provider = 'greenarrow' and h.breakdown_type = 'total'
          and h.metric in ('opens_unique', 'clicks_unique')
          and d.started_at > (select max(observed_date) from analytics.fact_campaign_metrics_history)
                             - interval {int(MATURE_DAYS)} day
        group by all order by all""")
    campaigns = {c for c, _, _ in curves}
    assert len(campaigns) >= 2, curves
    assert any(len(values) >= 3 for _, _, values in curves), curves
    for campaign, metric, values in curves:
        assert values == sorted(values), f"{campaign} {metric} fell: {values}"
        if len(values) >= 2:
            assert values[-1] > values[0], f"{campaign} {metric} never grew: {values}"


def test_the_last_observed_day_is_the_latest_fact(demo: tuple[Path, Any]) -> None:
    warehouse, _ = demo
    on = " and ".join(f"l.{k} is not distinct from f.{k}" for k in KEY)
    rows = query(warehouse, f"""
        with last as (
            select * from analytics.fact_campaign_metrics_history
            qualify observed_date = max(observed_date) over (partition by {", ".join(KEY)})
        )
        select f.provider, count(*), count(l.value), count(*) filter (where l.value is distinct from f.value)
        from analytics.fact_campaign_metrics as f left join last as l on {on}
        group by all""")
    assert {p for p, *_ in rows} == set(PROVIDER_NAMES)
    for provider, facts, found, different in rows:
        assert (found, different) == (facts, 0), provider


def test_one_run_per_simulated_day_per_provider(demo: tuple[Path, Any]) -> None:
    warehouse, _ = demo
    runs = query(warehouse, """select provider, list(started_at order by started_at), list(distinct outcome),
                                      list(distinct mode)
                               from analytics.load_runs group by all""")
    assert {p for p, *_ in runs} == set(PROVIDER_NAMES)
    # the real now of the demo's last load: the moment the demo published the warehouse (the file's time, kept by
    # the module's copy; the session built the demo some minutes before this test)
    published = dt.datetime.fromtimestamp(warehouse.stat().st_mtime, dt.UTC).replace(tzinfo=None)
    for provider, started, outcomes, modes in runs:
        assert len(started) == LOADS and outcomes == ["ok"] and modes == ["nightly"], provider
        for a, b in itertools.pairwise(started):   # a simulated day apart (give or take the seconds of a load)
            assert abs(b - a - dt.timedelta(days=1)) < dt.timedelta(minutes=2), (provider, started)
        assert dt.timedelta(0) <= published - started[-1] < dt.timedelta(minutes=5), "the last at the real now"
    dates = {p: [s.date() for s in started] for p, started, _, _ in runs}
    assert all(len(set(d)) >= LOADS - 1 for d in dates.values()), dates


def test_the_demo_again_on_its_warehouse_never_goes_back_in_time(demo: tuple[Path, Any]) -> None:
    """Run last of the demo's tests (it adds a load): the nights before the warehouse's latest load are left out,
    so a second demo the same day is one load at the real now, and exits 0 (no campaign of later days probed as
    of an earlier one)."""
    warehouse, _ = demo
    before = dict(query(warehouse, "select provider, count(*) from analytics.load_runs group by all"))
    again = cli("demo", "--warehouse", str(warehouse), cwd=warehouse.parent)
    assert again.returncode == 0, again.stderr
    assert "demo: nightly load 1 of 1, as of " in again.stderr and "history: 1 nightly load" in again.stdout
    after = dict(query(warehouse, "select provider, count(*) from analytics.load_runs group by all"))
    assert after == {provider: runs + 1 for provider, runs in before.items()}
    days = query(warehouse, "select count(distinct observed_date) from analytics.fact_campaign_metrics_history")
    assert days[0][0] >= LOADS - 1


# -- the simulators as of a moment (no server) -------------------------------------------------------------------

NOW = dt.datetime(2026, 11, 23, 11, 30, tzinfo=dt.UTC)


def test_engagement_share_rises_to_one() -> None:
    shares = [engagement_share(age, 5.0) for age in (0.0, 1.0, 2.5, 4.0, 5.0)]
    assert shares == sorted(shares) and shares[0] > 0 and shares[-1] == 1.0
    assert engagement_share(MATURE_DAYS, 40.0) == 1.0 and engagement_share(30.0, 31.0) == 1.0


@pytest.mark.parametrize("make", [
    lambda: greenarrow.GreenArrowSim(now=NOW, lists=2, campaigns_per_list=6, days=20, max_links=520),
    lambda: insider.InsiderSim(now=NOW, campaigns=8, days=20),
    lambda: shoplive.ShopliveSim(now=NOW, campaigns=8, days=12),
    lambda: experiture.ExperitureSim(now=NOW, campaigns=16, days=20, journeys=False),
    lambda: parrot.ParrotSim(now=NOW, campaigns=12, days=20),
], ids=["greenarrow", "insider", "shoplive", "experiture", "parrot"])
def test_a_simulator_moved_back_and_to_its_anchor_again_answers_as_built(make: Any) -> None:
    built, moved = make(), make()
    for days in (4, 2, 1):
        moved.advance_to(NOW - dt.timedelta(days=days))
        assert len(moved.campaigns) <= len(built.campaigns)
    assert len(make().campaigns) > len(_at(make(), days=15).campaigns), "later campaigns are not there yet"
    moved.advance_to(NOW)
    assert moved.now == built.now == NOW
    if hasattr(built, "truth_fact_rows") and not isinstance(built, (insider.InsiderSim, shoplive.ShopliveSim)):
        assert moved.truth_fact_rows() == built.truth_fact_rows()
    with pytest.raises(ValueError):
        moved.advance_to(NOW + dt.timedelta(seconds=1))


def _at(sim: Any, *, days: float) -> Any:
    sim.advance_to(NOW - dt.timedelta(days=days))
    return sim


def test_greenarrow_counts_as_of_earlier_days_are_smaller_and_mature_ones_equal() -> None:
    sim = greenarrow.GreenArrowSim(now=NOW, lists=2, campaigns_per_list=6, days=20, max_links=520)
    at_anchor = sim.truth_fact_rows()
    earlier = _at(greenarrow.GreenArrowSim(now=NOW, lists=2, campaigns_per_list=6, days=20, max_links=520),
                  days=2).truth_fact_rows()
    assert earlier and len({k[1] for k in earlier}) < len({k[1] for k in at_anchor}), "later sends not there yet"
    opens = [(k[1], earlier[k], at_anchor[k]) for k in earlier if k[2:] == ("total", "total", "opens_unique")]
    assert all(then <= now for _, then, now in opens)
    grew = [c for c, then, now in opens if then < now]
    mature = [c for c, then, now in opens if then == now]
    assert grew and mature, opens


def test_the_demo_exit_code_is_the_worst_of_its_loads() -> None:
    assert worst_exit_code([0, 0, 0]) == 0
    assert worst_exit_code([0, 3, 0]) == 3
    assert worst_exit_code([3, 1, 0]) == 1
