"""Insider end to end: simulator over HTTP -> dlt -> raw -> transforms -> fact, checked against truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pendulum
import pytest
from helpers import fact, query

from simulators.base import Faults
from simulators.insider import InsiderSim

NOW = pendulum.now("UTC")


def sim_with(**kwargs: Any) -> InsiderSim:
    return InsiderSim(now=NOW, rate_period=1.0, **{"campaigns": 10, "days": 35, **kwargs})


def assert_matches(loaded: dict, truth: dict) -> None:
    assert loaded.keys() == truth.keys()
    wrong = {k: (loaded[k], v) for k, v in truth.items() if loaded[k] != pytest.approx(v, rel=1e-12, abs=1e-12)}
    assert not wrong


def overlapping_periods(warehouse: Path) -> list[tuple]:
    return query(warehouse, """
        select a.campaign_id, a.breakdown_type, a.breakdown_value, a.metric, a.period_start, b.period_start
        from analytics.fact_campaign_metrics as a
        join analytics.fact_campaign_metrics as b
          on a.provider = b.provider and a.account_id = b.account_id and a.campaign_id = b.campaign_id
         and a.breakdown_type = b.breakdown_type and a.breakdown_value = b.breakdown_value and a.metric = b.metric
         and a.period_start < b.period_end and b.period_start < a.period_end
         and a.period_start <> b.period_start
        where a.provider = 'insider'""")


def test_fact_equals_ground_truth(configure, run_cli, warehouse: Path) -> None:
    sim = sim_with()
    sim.extra_fields = True
    configure(sim)
    started = pendulum.now("UTC").naive()
    assert run_cli("run", "--warehouse", warehouse) == 0
    finished = pendulum.now("UTC").naive()
    truth = sim.truth_fact_rows()
    assert_matches(fact(warehouse, "insider", with_period=True), truth)
    assert {k[2] for k in truth} == {"total", "device", "drop_reason", "undelivered_reason"}
    metrics = {k[4] for k in truth}
    assert {"unique_clicks", "impressions", "reach"} <= metrics, "unknown numeric fields become metrics"
    assert not metrics & {"channel_name", "platform", "segment_name", "status", "working_status", "id"}

    units = dict(query(warehouse, "select metric, any_value(unit) from analytics.fact_campaign_metrics "
                                  "where provider = 'insider' group by all"))
    assert units == {m: u for m, u in sim.truth_units().items() if m in units}
    assert set(units) == metrics
    currencies = query(warehouse, "select distinct currency from analytics.fact_campaign_metrics "
                                  "where provider = 'insider' and metric = 'revenue'")
    assert currencies == [("TRY",)]
    windows = sim.requested_windows()
    periods = set(query(warehouse, "select distinct period_start, period_end from analytics.fact_campaign_metrics "
                                   "where provider = 'insider'"))
    expected_periods = {(dt.datetime.combine(a, dt.time()), dt.datetime.combine(b, dt.time()) + dt.timedelta(days=1))
                        for a, b in windows[:-1]}
    assert expected_periods <= periods, "an inclusive end date D is stored as D+1 00:00"
    last_start = dt.datetime.combine(windows[-1][0], dt.time())
    (last_end,), = {(e,) for s, e in periods if s == last_start}
    assert started <= last_end <= finished, "the open window ends at the run's now"
    assert all((b - a).days == 6 and a.weekday() == 0 for a, b in windows[:-1]), "weekly windows on Mondays"
    assert overlapping_periods(warehouse) == []
    conformed = dict(query(warehouse, "select metric, any_value(conformed_metric) from "
                                      "analytics.fact_campaign_metrics where provider = 'insider' group by all"))
    assert conformed["sent"] == "sent" and conformed["clicks"] == "clicks_total" and conformed["targeted"] is None

    dims = {r[0]: r[1:] for r in query(warehouse, "select campaign_id, campaign_name, channel, status, started_at "
                                                  "from analytics.dim_campaign where provider = 'insider'")}
    listed = {str(c.builder_id): c for c in sim.campaigns.values()
              if any(sim.window_figures(c, a, b).days_active for a, b in windows)}
    assert set(dims) == set(listed)
    for cid, (name, channel, _, started) in dims.items():
        c = listed[cid]
        assert (name, channel, started) == (c.name, "web_push", c.created_at.replace(tzinfo=None))
    raw = query(warehouse, "select payload from raw.insider_campaign_metrics limit 1")[0][0]
    assert '"overview"' in raw and "%" in raw, "raw keeps the API's display strings"


def test_424_campaign_is_reported_and_the_rest_loaded(configure, run_cli, warehouse: Path) -> None:
    sim = sim_with()
    failing = sorted(sim.campaigns)[3]
    sim.fail_campaign(failing)
    garbled = sorted(sim.campaigns)[5]
    sim.garble_campaign(garbled)
    configure(sim)
    assert run_cli("run", "--warehouse", warehouse) == 3
    truth = sim.truth_fact_rows()
    assert_matches(fact(warehouse, "insider", with_period=True), truth)
    assert {k[2] for k in truth if k[1] == str(failing)} == {"total"}, "its totals still come from overall-metrics"
    errors = query(warehouse, "select campaign_id, endpoint, http_status, reason, run_id from "
                              "analytics.extraction_errors where provider = 'insider'")
    windows_with_it = [w for w in sim.requested_windows() if sim.window_figures(sim.campaigns[failing], *w).days_active]
    assert len(errors) == len(windows_with_it) >= 1
    assert {(e[0], e[1], e[2]) for e in errors} == {(str(failing), "campaign_metrics", 424)}
    assert all("Campaign not found" in e[3] and sim.api_key not in e[3] and e[4] for e in errors)
    attempts = [c for c in sim.calls if c.endpoint == "campaign" and c.body["campaign_id"] == str(failing)]
    assert len(attempts) == 2 * len(windows_with_it), "one retry per window, then skipped"

    quarantined = query(warehouse, "select campaign_id, endpoint, field, raw_value, reason "
                                   "from analytics.quarantined_values where provider = 'insider'")
    windows_garbled = [w for w in sim.requested_windows()
                       if sim.window_figures(sim.campaigns[garbled], *w).days_active]
    assert len(quarantined) == len(windows_garbled) >= 1
    assert {q[:4] for q in quarantined} == {(str(garbled), "campaign_metrics", "deviceMetrics[Desktop].clicks",
                                             '"12,34x"')}
    assert all("not a count" in q[4] for q in quarantined)
    (outcome,), = query(warehouse, "select outcome from analytics.load_runs where provider = 'insider'")
    assert outcome == "partial"


def test_fact_equals_ground_truth_with_faults(configure, run_cli, warehouse: Path) -> None:
    sim = sim_with(campaigns=8, faults=Faults(share_5xx=0.15, burst_429=3, share_429=0.08, retry_after=0.05,
                                              share_drop=0.05, seed=3))
    sim.stale_start_dates = True     # and the 400 / clip path on top
    configure(sim, SOURCES__INSIDER__MAX_ATTEMPTS="8")
    assert run_cli("run", "--warehouse", warehouse) == 0
    assert_matches(fact(warehouse, "insider", with_period=True), sim.truth_fact_rows())
    (requests, retries, throttled), = query(warehouse, "select requests, retries, throttled from analytics.load_runs")
    assert retries > 0 and throttled > 0 and requests > retries
    statuses = {c.status for c in sim.calls}
    assert 400 in statuses and 503 in {s for *_, s in sim.log} and 0 in {s for *_, s in sim.log}


def test_lookback_repull_replaces_windows(configure, run_cli, warehouse: Path) -> None:
    sim = sim_with()
    configure(sim, SOURCES__INSIDER__LOOKBACK_DAYS="8")
    assert run_cli("run", "--warehouse", warehouse) == 0
    first = sim.truth_fact_rows()
    assert_matches(fact(warehouse, "insider", with_period=True), first)

    sim.grow(2)
    recent = [c for c in sim.listed(NOW.date() - dt.timedelta(days=3), NOW.date())]
    gone = recent[0].builder_id
    sim.delete_campaign(gone)
    mark = len(sim.calls)
    assert run_cli("run", "--warehouse", warehouse) == 0
    repulled = sim.requested_windows(since=mark)
    assert 2 <= len(repulled) < len(sim.requested_windows()), "only the lookback is pulled again"
    starts = {dt.datetime.combine(a, dt.time()) for a, _ in repulled}
    expected = {k: v for k, v in first.items() if k[5] not in starts}
    expected.update(sim.truth_fact_rows(repulled))
    loaded = fact(warehouse, "insider", with_period=True)   # fails on a duplicate key
    assert_matches(loaded, expected)
    changed = [k for k in expected if k in first and k[5] in starts and first[k] != expected[k]]
    assert changed, "grown counts replaced the old values"
    assert not [k for k in loaded if k[1] == str(gone) and k[5] in starts], "a vanished campaign vanishes"
    assert overlapping_periods(warehouse) == []


def test_limiter_uses_the_full_rate_without_429(configure, run_cli, warehouse: Path) -> None:
    # The real limit, 30 requests, on a 2-second "minute": the limiter's 2% margin (40 ms) then covers the few
    # milliseconds between a request leaving the client and reaching the simulator's limit check.
    limit, period = 30, 2.0
    sim = InsiderSim(now=NOW, campaigns=40, days=16, rate_limit=limit, rate_period=period)
    configure(sim, start_days=13, SOURCES__INSIDER__MAX_CONCURRENCY="4")
    assert run_cli("run", "--warehouse", warehouse) == 0
    assert [s for *_, s in sim.log if s != 200] == [], "no 429: the limit is never provoked"
    arrivals = sorted(t for t, admitted in sim.arrivals)
    n = len(arrivals)
    assert n == len(sim.log)
    required = ((n - 1) // limit) * period   # the last request cannot start earlier than this
    assert required >= 2 * period, f"only {n} requests: not a meaningful check"
    busiest = max(sum(1 for u in arrivals[i:] if u - t < period) for i, t in enumerate(arrivals))
    assert busiest <= limit, "every rolling (scaled) minute stays within the limit"
    span = arrivals[-1] - arrivals[0]
    assert required <= span <= 1.15 * required, f"{n} requests took {span:.2f}s; the limit needs {required:.2f}s"
    assert busiest == limit, "the budget is used at full rate"


def test_refused_key_fails_with_one_sentence(configure, run_cli, warehouse: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    sim = sim_with(campaigns=2)
    configure(sim, SOURCES__INSIDER__API_KEY="not-the-key-0000")
    assert run_cli("run", "--warehouse", warehouse) == 1
    err = capsys.readouterr()
    text = err.out + err.err
    assert "SOURCES__INSIDER__API_KEY" in text and "not-the-key-0000" not in text and "Traceback" not in text


def test_windows_older_than_a_year_are_recorded_not_fatal(configure, run_cli, warehouse: Path) -> None:
    sim = sim_with(campaigns=3)
    configure(sim)
    # 15 days inside the year: at least one weekly window starts inside it, whatever the weekday
    start, end = NOW.subtract(days=372).date(), NOW.subtract(days=350).date()
    assert run_cli("backfill", "--start", start, "--end", end, "--warehouse", warehouse) == 3
    errors = query(warehouse, "select endpoint, http_status, reason from analytics.extraction_errors")
    refused = [c for c in sim.calls if c.status == 406]
    assert len(errors) == len(refused) >= 1 and {e[:2] for e in errors} == {("overall_metrics", 406)}
    assert all("last year" in e[2] for e in errors)
    assert len(sim.requested_windows()) >= 1, "the windows inside the year are still pulled"


def test_wrong_partner_id_fails_naming_the_key(configure, run_cli, warehouse: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    sim = sim_with(campaigns=2)
    configure(sim, SOURCES__INSIDER__PARTNER_ID="999")
    assert run_cli("run", "--warehouse", warehouse) == 1
    out = capsys.readouterr()
    assert "SOURCES__INSIDER__PARTNER_ID" in out.out + out.err and "Traceback" not in out.out + out.err


def test_nightlies_skip_settled_windows_until_a_recheck(configure, run_cli, warehouse: Path, capsys) -> None:
    """The settle policy (pipelines/ledger.py): a window that ended a week before two pulls that agree is skipped
    by later nightlies; ``--recheck`` pulls it again, and the fact stays equal to the simulator's truth."""
    sim = sim_with(campaigns=12)
    configure(sim)
    assert run_cli("run", "--warehouse", warehouse) == 0
    first = sim.requested_windows()
    mark = len(sim.calls)
    assert run_cli("run", "--warehouse", warehouse) == 0           # the lookback again: nothing has settled yet
    lookback_calls = len(sim.calls) - mark
    assert_matches(fact(warehouse, "insider", with_period=True), sim.truth_fact_rows(first))

    mark = len(sim.calls)
    assert run_cli("run", "--warehouse", warehouse) == 0
    settled_calls = len(sim.calls) - mark
    again = sim.requested_windows(since=mark)
    assert settled_calls <= lookback_calls / 2, (lookback_calls, settled_calls)
    cutoff = NOW.date() - dt.timedelta(days=7)
    assert again and all(end >= cutoff for _, end in again), "only windows that have not settled are pulled"
    assert_matches(fact(warehouse, "insider", with_period=True), sim.truth_fact_rows(first))
    capsys.readouterr()
    assert run_cli("status", "--warehouse", warehouse) == 0
    assert "settled windows the last nightly skipped" in capsys.readouterr().out

    sim.grow(1)
    mark = len(sim.calls)
    assert run_cli("run", "--recheck", "--warehouse", warehouse) == 0
    rechecked = sim.requested_windows(since=mark)
    assert len(rechecked) > len(again), "a re-check pulls the settled windows too"
    expected = sim.truth_fact_rows(first)
    expected.update(sim.truth_fact_rows(rechecked))
    assert_matches(fact(warehouse, "insider", with_period=True), expected)
