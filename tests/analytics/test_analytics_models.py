"""History, data quality, campaign_performance and the run log, on GreenArrow loads from the simulator."""

from __future__ import annotations

import itertools
from pathlib import Path

import pendulum
import pytest
from helpers import fact, query

from simulators.greenarrow import DEFAULT_CREDENTIALS, GreenArrowSim

NOW = pendulum.now("UTC")


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch, serve) -> GreenArrowSim:
    app = GreenArrowSim(now=NOW, lists=1, campaigns_per_list=6, days=30, max_links=560)
    server = serve(app)
    for key, value in {"SOURCES__GREENARROW__BASE_URL": server.url,
                       "SOURCES__GREENARROW__API_KEY": DEFAULT_CREDENTIALS,
                       "SOURCES__GREENARROW__START_DATE": NOW.subtract(days=35).to_date_string()}.items():
        monkeypatch.setenv(key, value)
    return app


def frozen_clock(monkeypatch: pytest.MonkeyPatch, day: pendulum.DateTime) -> None:
    ticks = itertools.count()
    monkeypatch.setattr("sources.common.raw.now_utc", lambda: day.add(microseconds=next(ticks)))


def test_history_keeps_the_last_value_of_each_day(sim: GreenArrowSim, run_cli, warehouse: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    day1, day2 = NOW.subtract(days=2).start_of("day").add(hours=3), NOW.subtract(days=1).start_of("day").add(hours=3)
    frozen_clock(monkeypatch, day1)
    assert run_cli("run", "--warehouse", warehouse) == 0
    sim.grow()
    assert run_cli("run", "--warehouse", warehouse) == 0        # same day: replaces day 1's value
    truth_day1 = sim.truth_fact_rows()
    sim.grow()
    frozen_clock(monkeypatch, day2)
    assert run_cli("run", "--warehouse", warehouse) == 0
    truth_day2 = sim.truth_fact_rows()
    rows = query(warehouse, """select account_id, campaign_id, breakdown_type, breakdown_value, metric,
                                      observed_date, value from analytics.fact_campaign_metrics_history""")
    history: dict[tuple, float] = {}
    for *key, day, value in rows:
        assert (*key, day) not in history, "one row per fact key per day"
        history[(*key, day)] = value
    assert {k[:5]: v for k, v in history.items() if k[5] == day1.date()} == truth_day1
    assert {k[:5]: v for k, v in history.items() if k[5] == day2.date()} == truth_day2
    assert fact(warehouse, "greenarrow") == truth_day2
    opens = [history[k] for k in sorted(history) if k[4] == "opens_unique" and k[2] == "total"]
    assert opens, "opens are charted per day"
    # the history is rebuilt from raw like everything in analytics
    before = sorted(rows)
    assert run_cli("transform", "--warehouse", warehouse) == 0
    assert sorted(query(warehouse, """select account_id, campaign_id, breakdown_type, breakdown_value, metric,
                                             observed_date, value from analytics.fact_campaign_metrics_history""")) \
        == before


def test_quality_checks_report_but_never_block(sim: GreenArrowSim, run_cli, warehouse: Path,
                                               monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    victim = next(c for c in sim.campaigns.values() if c.started_at is not None)
    original = sim.stat_summary

    def corrupt(c, share=1.0, *, slice_id=None):
        summary = original(c, share, slice_id=slice_id)
        if summary and c is victim and slice_id is None:
            summary = {**summary, "open_rate": 1.5, "skips_error": -2, "opens_unique": summary["opens_total"] + 1}
        return summary

    monkeypatch.setattr(sim, "stat_summary", corrupt)
    assert run_cli("run", "--warehouse", warehouse) == 0, "a failing check never blocks the load"
    results = {(r[0], r[1]): r[2:] for r in query(warehouse, """select check_name, provider, status, failing_rows,
                                                                       detail from analytics.data_quality""")}
    assert results[("ratios_within_0_1", "greenarrow")][:2] == ("fail", 1)
    assert str(victim.campaign_id) in results[("ratios_within_0_1", "greenarrow")][2]
    assert results[("negative_counts", "greenarrow")][:2] == ("fail", 1)
    assert results[("unique_le_total", "greenarrow")][:2] == ("fail", 1)
    for check in ("delivered_le_sent", "freshness", "unmapped_metrics", "unmapped_statuses"):
        assert results[(check, "greenarrow")][0] == "pass", check
    # checks are listed for the providers they apply to: GreenArrow has lifetime totals only (no periods that
    # could overlap) and no Experiture funnel
    assert ("overlapping_periods", "greenarrow") not in results
    assert ("experiture_funnel", "greenarrow") not in results
    severities = dict(query(warehouse, "select check_name, any_value(severity) from analytics.data_quality "
                                       "group by all"))
    assert severities["ratios_within_0_1"] == "critical" and severities["unmapped_metrics"] == "warning"
    assert "FAIL ratios_within_0_1 [greenarrow]" in capsys.readouterr().out, "never silent"
    assert run_cli("status", "--warehouse", warehouse) == 0
    assert "FAIL ratios_within_0_1 [greenarrow]" in capsys.readouterr().out


def test_freshness_fails_when_the_last_good_load_is_too_old(sim: GreenArrowSim, run_cli,
                                                            warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_cli("run", "--warehouse", warehouse) == 0
    monkeypatch.setenv("FRESHNESS_HOURS", "0")
    assert run_cli("transform", "--warehouse", warehouse) == 0
    status = query(warehouse, "select status from analytics.data_quality where check_name = 'freshness' "
                              "and provider = 'greenarrow'")
    assert status == [("fail",)]


def test_campaign_performance_has_one_row_per_campaign_with_conformed_columns(sim: GreenArrowSim, run_cli,
                                                                              warehouse: Path) -> None:
    assert run_cli("run", "--warehouse", warehouse) == 0
    rows = query(warehouse, """select campaign_id, campaign_name, sent, delivered, opens_unique, clicks_unique,
                                      bounces, open_rate, click_to_open_rate, periods
                               from analytics.campaign_performance where provider = 'greenarrow'""")
    truth = sim.truth_fact_rows()
    started = {str(c.campaign_id): c for c in sim.campaigns.values() if c.started_at is not None}
    assert sorted(r[0] for r in rows) == sorted(started)
    for cid, name, sent, delivered, opens, clicks, bounces, open_rate, cto, periods in rows:
        t = {k[4]: v for k, v in truth.items() if k[1] == cid and k[2] == "total"}
        assert name == started[cid].name and periods == 1
        assert (sent, delivered, opens, clicks, bounces) == (t["messages_sent"], t["total_success"],
                                                             t["opens_unique"], t["clicks_unique"],
                                                             t["bounces_unique"])
        assert open_rate == pytest.approx(t["opens_unique"] / t["total_success"])
        assert cto == (pytest.approx(t["clicks_unique"] / t["opens_unique"]) if t["opens_unique"] else None)


def test_run_log_has_one_row_per_provider_per_run(sim: GreenArrowSim, run_cli, warehouse: Path) -> None:
    assert run_cli("run", "--warehouse", warehouse) == 0
    assert run_cli("run", "--warehouse", warehouse) == 0
    sim.grow()
    assert run_cli("backfill", "--start", NOW.subtract(days=10).to_date_string(), "--end",
                   NOW.to_date_string(), "--warehouse", warehouse) == 0
    runs = query(warehouse, """select mode, range_start is not null and range_end > range_start, requests > 0,
                                      records_landed > 0, fact_rows_changed, outcome, error_count,
                                      duration_seconds > 0, windows_done > 0
                               from analytics.load_runs order by started_at""")
    assert [r[0] for r in runs] == ["nightly", "nightly", "backfill"]
    assert all(r[1] and r[2] and r[3] and r[7] and r[8] and r[5] == "ok" and r[6] == 0 for r in runs)
    assert runs[0][4] > 0 and runs[1][4] == 0, "an unchanged re-pull changes no fact row"
    assert runs[2][4] > 0, "the counts that grew are counted as changed"
