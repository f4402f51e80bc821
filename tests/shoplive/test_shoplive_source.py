"""Shoplive end to end: simulator over HTTP -> dlt -> raw -> transforms -> fact and dim, checked against truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pendulum
import pytest
from helpers import fact, query

from simulators.base import Faults
from simulators.shoplive import ShopliveSim, make_jwt

NOW = pendulum.now("UTC")


def sim_with(**kwargs: Any) -> ShopliveSim:
    return ShopliveSim(now=NOW, **{"campaigns": 10, "days": 28, **kwargs})


def assert_matches(loaded: dict, truth: dict) -> None:
    assert loaded.keys() == truth.keys()
    assert not {k: (loaded[k], v) for k, v in truth.items() if loaded[k] != pytest.approx(v, rel=1e-12)}


def overlapping_periods(warehouse: Path) -> list[tuple]:
    return query(warehouse, """
        select a.campaign_id, a.metric, a.period_start, b.period_start
        from analytics.fact_campaign_metrics as a
        join analytics.fact_campaign_metrics as b
          on a.provider = b.provider and a.account_id = b.account_id and a.campaign_id = b.campaign_id
         and a.breakdown_type = b.breakdown_type and a.breakdown_value = b.breakdown_value and a.metric = b.metric
         and a.period_start < b.period_end and b.period_start < a.period_end and a.period_start <> b.period_start
        where a.provider = 'shoplive'""")


def test_fact_and_dim_equal_ground_truth(configure, run_cli, warehouse: Path) -> None:
    sim = sim_with()
    sim.extra_fields = True
    sim.string_numbers = True
    garbled = sim.active_keys()[0]
    sim.garble_campaign(garbled)
    configure(sim)
    assert run_cli("run", "--warehouse", warehouse) == 0
    truth = sim.truth_fact_rows()
    assert_matches(fact(warehouse, "shoplive", with_period=True), truth)
    metrics = {k[4] for k in truth}
    assert {"total_viewers", "average_likes", "peak_concurrent_viewers", "replay_viewers"} <= metrics
    assert not metrics & {"stream_type", "campaign_id", "title"}
    windows = sim.requested_windows()
    assert all(b - a <= dt.timedelta(days=7) and a.weekday() == 0 and a.hour == 0 for a, b, _ in windows)
    assert all(b - a == dt.timedelta(days=7) for a, b, _ in windows[:-1])
    assert overlapping_periods(warehouse) == []
    periods = {(s, e) for s, e in query(warehouse, "select distinct period_start, period_end "
                                                   "from analytics.fact_campaign_metrics where provider = 'shoplive'")}
    asked = {a.replace(tzinfo=None): b.replace(tzinfo=None) for a, b, _ in windows}
    assert len(periods) >= 3 and {start for start, _ in periods} <= set(asked)
    for start, end in periods:   # the window's own end; the open window's `to` was rounded up to the second
        assert dt.timedelta(0) <= asked[start] - end < dt.timedelta(seconds=1)

    units = dict(query(warehouse, "select metric, any_value(unit) from analytics.fact_campaign_metrics "
                                  "where provider = 'shoplive' group by all"))
    assert units["total_viewing_time"] == units["average_viewing_time"] == "seconds"
    assert units["total_viewers"] == units["average_likes"] == "count"
    conformed = dict(query(warehouse, "select metric, any_value(conformed_metric) from "
                                      "analytics.fact_campaign_metrics where provider = 'shoplive' group by all"))
    assert conformed["total_viewers"] == "viewers" and conformed["likes"] is None

    quarantined = query(warehouse, "select campaign_id, endpoint, field, raw_value, reason "
                                   "from analytics.quarantined_values where provider = 'shoplive'")
    with_activity = [w for w in windows if sim.has_activity(sim.campaigns[garbled], w[0], w[1])]
    assert len(quarantined) == len(with_activity) >= 1
    assert {q[:4] for q in quarantined} == {(garbled, "campaign_stats", "totalViewingTime", '"n/a"')}

    dims = {r[0]: r[1:] for r in query(warehouse, """select campaign_id, campaign_name, channel, status,
        started_at, finished_at, scheduled_at from analytics.dim_campaign where provider = 'shoplive'""")}
    expected = sim.truth_dim()
    assert set(dims) == set(expected), "search reached every campaign, the upcoming one too"

    def ts(value: str | None) -> dt.datetime | None:
        return None if value is None else dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")

    for key, meta in expected.items():
        assert dims[key] == (meta["title"], "live_commerce", meta["campaignStatus"], ts(meta["campaignStartedAt"]),
                             ts(meta["campaignEndedAt"]), ts(meta["scheduledStartAt"]))
    raw = query(warehouse, "select payload ->> '$.averageLikes' from raw.shoplive_campaign_stats limit 1")[0][0]
    assert isinstance(raw, str), "raw keeps the API's own values"


def test_fact_equals_ground_truth_with_faults(configure, run_cli, warehouse: Path) -> None:
    sim = sim_with(faults=Faults(share_5xx=0.2, burst_429=3, share_429=0.1, retry_after=0.05, share_drop=0.1,
                                 seed=5))
    configure(sim, SOURCES__SHOPLIVE__MAX_ATTEMPTS="10", SOURCES__SHOPLIVE__WINDOW_DAYS="1", start_days=12)
    assert run_cli("run", "--warehouse", warehouse) == 0
    assert_matches(fact(warehouse, "shoplive", with_period=True), sim.truth_fact_rows())
    assert len(sim.requested_windows()) >= 12, "daily windows"
    (requests, retries, throttled), = query(warehouse, "select requests, retries, throttled from analytics.load_runs")
    assert retries > 0 and throttled > 0 and requests > retries
    assert {0, 429, 503} <= {s for *_, s in sim.log}


def test_configured_keys_are_batched_and_an_unknown_key_is_reported(configure, run_cli,
                                                                     warehouse: Path) -> None:
    sim = sim_with(campaigns=30, days=20)
    keys = [*sorted(sim.campaigns)[:24], "nosuchkey1"]
    configure(sim, SOURCES__SHOPLIVE__CAMPAIGN_KEYS=",".join(keys), start_days=20)
    assert run_cli("run", "--warehouse", warehouse) == 3
    truth = sim.truth_fact_rows()
    assert_matches(fact(warehouse, "shoplive", with_period=True), truth)
    assert {k[1] for k in truth} == set(keys[:24]), "listed keys get rows, zeros included"
    assert any(v == 0 for k, v in truth.items() if k[4] == "total_viewers")
    errors = query(warehouse, "select campaign_id, endpoint, http_status from analytics.extraction_errors "
                              "where provider = 'shoplive'")
    assert errors == [("nosuchkey1", "campaign_stats", 404)], "recorded once, then left out"
    keyed = [c for c in sim.stats_calls if c.status == 200]
    assert max(len(c.keys or ()) for c in keyed) == 20
    assert {r[0] for r in query(warehouse, "select campaign_id from analytics.dim_campaign")} == set(keys[:24])


def test_lookback_repull_replaces_windows(configure, run_cli, warehouse: Path) -> None:
    sim = sim_with(campaigns=12)
    configure(sim, SOURCES__SHOPLIVE__LOOKBACK_DAYS="6", SOURCES__SHOPLIVE__WINDOW_DAYS="1", start_days=14)
    assert run_cli("run", "--warehouse", warehouse) == 0
    first = sim.truth_fact_rows()
    assert_matches(fact(warehouse, "shoplive", with_period=True), first)

    sim.grow(3)
    recent = [k for k in sim.active_keys() if sim.has_activity(sim.campaigns[k], NOW.subtract(days=1), NOW)]
    gone = recent[0]
    sim.delete_campaign(gone)
    mark = len(sim.stats_calls)
    assert run_cli("run", "--warehouse", warehouse) == 0
    repulled = sim.requested_windows(since=mark)
    assert 3 <= len(repulled) < len(sim.requested_windows())
    starts = {a.replace(tzinfo=None) for a, _, _ in repulled}
    expected = {k: v for k, v in first.items() if k[5] not in starts}
    expected.update(sim.truth_fact_rows(repulled))
    loaded = fact(warehouse, "shoplive", with_period=True)   # fails on a duplicate key
    assert_matches(loaded, expected)
    assert [k for k in expected if k in first and k[5] in starts and expected[k] != first[k]], "values grew"
    assert not [k for k in loaded if k[1] == gone and k[5] in starts], "a deleted campaign vanishes"
    assert overlapping_periods(warehouse) == []


def test_window_longer_than_a_week_is_a_config_error(configure, run_cli, warehouse: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    sim = sim_with(campaigns=2)
    configure(sim, SOURCES__SHOPLIVE__WINDOW_DAYS="14")
    assert run_cli("run", "--warehouse", warehouse) == 2
    assert "SOURCES__SHOPLIVE__WINDOW_DAYS" in capsys.readouterr().err
    assert sim.log == []


def test_token_for_another_access_key_is_refused_before_any_request(configure, run_cli,
                                                                    warehouse: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    sim = sim_with(campaigns=2)
    token = make_jwt("another-account", sim.secret_b64)
    configure(sim, SOURCES__SHOPLIVE__API_TOKEN=token)
    assert run_cli("run", "--warehouse", warehouse) == 1
    out = capsys.readouterr()
    assert "SOURCES__SHOPLIVE__API_TOKEN" in out.out + out.err and token not in out.out + out.err
    assert sim.log == []


def _viewers_by_campaign(warehouse: Path) -> tuple[dict[str, float], dt.datetime, dt.datetime]:
    rows = query(warehouse, """select campaign_id, sum(value), min(period_start), max(period_end)
                               from analytics.fact_campaign_metrics
                               where provider = 'shoplive' and metric = 'total_viewers' group by all""")
    lo = min(r[2] for r in rows).replace(tzinfo=dt.UTC)
    hi = max(r[3] for r in rows).replace(tzinfo=dt.UTC)
    return {r[0]: r[1] for r in rows}, lo, hi


def test_a_change_of_window_days_never_overlaps_or_double_counts(configure, run_cli, warehouse: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    sim = sim_with(days=28)
    configure(sim, start_days=25)
    assert run_cli("backfill", "--start", NOW.subtract(days=25).date(), "--end", NOW.date(),
                   "--warehouse", warehouse) == 0
    for window_days in ("1", "7"):
        monkeypatch.setenv("SOURCES__SHOPLIVE__WINDOW_DAYS", window_days)
        assert run_cli("run", "--warehouse", warehouse) == 0
        assert overlapping_periods(warehouse) == []
        summed, lo, hi = _viewers_by_campaign(warehouse)
        provider = {c.key: float(sim.stats_item(c, lo, hi)["totalViewers"]) for c in sim.campaigns.values()}
        assert summed == {k: v for k, v in provider.items() if k in summed}, (
            f"sums over periods equal the provider's numbers after window_days={window_days}")
        assert sum(summed.values()) == sum(provider.values())
        periods = query(warehouse, "select distinct period_end - period_start from analytics.fact_campaign_metrics "
                                   "where provider = 'shoplive' and period_end < (select max(period_end) "
                                   "from analytics.fact_campaign_metrics where provider = 'shoplive')")
        assert periods == [(dt.timedelta(days=int(window_days)),)], "the whole range is on the new grid"
