"""GreenArrow end to end: simulator over HTTP -> dlt -> raw -> transforms -> fact, checked against truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pendulum
import pytest
from helpers import fact, query

from simulators.base import Faults
from simulators.greenarrow import GreenArrowSim

NOW = pendulum.now("UTC")


@pytest.fixture
def sim() -> GreenArrowSim:
    return GreenArrowSim(now=NOW, lists=2, campaigns_per_list=6, days=60, max_links=650)


def full_fact(path: Path) -> list[tuple]:
    return sorted(query(path, """select provider, account_id, campaign_id, breakdown_type, breakdown_value,
        period_start, period_end, metric, value, unit, currency, conformed_metric
        from analytics.fact_campaign_metrics"""), key=repr)


def test_fact_equals_ground_truth(sim: GreenArrowSim, configure, run_cli, warehouse: Path) -> None:
    configure(sim)
    assert run_cli("run", "--warehouse", warehouse) == 0
    truth = sim.truth_fact_rows()
    loaded = fact(warehouse, "greenarrow")
    assert loaded == truth
    assert {k[2] for k in truth} >= {"total", "content", "link", "bounce_code"}
    units = dict(query(warehouse, "select metric, any_value(unit) from analytics.fact_campaign_metrics "
                                  "where provider = 'greenarrow' group by all"))
    assert units["open_rate"] == "ratio" and units["opens_unique"] == "count" and units["open_ratio"] == "multiple"
    nulls = query(warehouse, "select count(*) from analytics.fact_campaign_metrics "
                             "where period_start is not null or period_end is not null or observed_at is null")
    assert nulls == [(0,)], "lifetime totals have no period and always an observed time"
    conformed = dict(query(warehouse, "select metric, any_value(conformed_metric) from analytics.fact_campaign_metrics "
                                      "where provider = 'greenarrow' and breakdown_type = 'total' group by all"))
    assert conformed["messages_sent"] == "sent" and conformed["opens_unique"] == "opens_unique"
    assert conformed["total_messages"] is None
    dims = query(warehouse, "select campaign_id, campaign_name, status, started_at is not null "
                            "from analytics.dim_campaign where provider = 'greenarrow'")
    started = {str(c.campaign_id): c for c in sim.campaigns.values() if c.started_at is not None}
    assert {d[0] for d in dims} == set(started)
    for cid, name, status, has_start in dims:
        assert name == started[cid].name and status == started[cid].state and has_start


def test_fact_equals_ground_truth_with_faults(sim: GreenArrowSim, configure, run_cli,
                                              warehouse: Path) -> None:
    sim.set_faults(Faults(share_5xx=0.15, share_429=0.1, retry_after=0.05, share_drop=0.05, share_slow=0.05,
                          slow_seconds=0.2, seed=11))
    configure(sim, SOURCES__GREENARROW__MAX_ATTEMPTS="8")
    assert run_cli("run", "--warehouse", warehouse) == 0
    assert fact(warehouse, "greenarrow") == sim.truth_fact_rows()
    (requests, retries, throttled), = query(warehouse, "select requests, retries, throttled from analytics.load_runs")
    assert retries > 0 and throttled > 0 and requests > retries


def test_rerun_without_change_leaves_the_fact_identical(sim: GreenArrowSim, configure, run_cli,
                                                        warehouse: Path) -> None:
    configure(sim)
    assert run_cli("run", "--warehouse", warehouse) == 0
    first = full_fact(warehouse)
    assert run_cli("run", "--warehouse", warehouse) == 0
    assert full_fact(warehouse) == first
    raw_fetches = query(warehouse, "select count(distinct fetch_id) from raw.greenarrow_fetches")[0][0]
    assert raw_fetches > len({r[2] for r in first}), "the re-run really pulled again (append-only raw)"


def test_rerun_after_counts_grew_shows_new_numbers_and_no_duplicates(sim: GreenArrowSim, configure,
                                                                     run_cli, warehouse: Path) -> None:
    # the nightly re-pulls every campaign: growth reaches even the oldest a little (asymptotic curves), so with the
    # default 30 days the truth would depend on where the week grid puts "now"
    configure(sim, SOURCES__GREENARROW__LOOKBACK_DAYS="70")
    assert run_cli("run", "--warehouse", warehouse) == 0
    before = fact(warehouse, "greenarrow")
    sim.grow(2)
    assert run_cli("run", "--warehouse", warehouse) == 0
    after = fact(warehouse, "greenarrow")   # fails on any duplicate key
    assert after == sim.truth_fact_rows()
    assert after != before
    grew = [k for k in after if k[4] == "opens_unique" and after[k] > before.get(k, 0)]
    assert grew, "opens kept arriving after the send"


def test_sending_campaign_outside_lookback_is_still_refreshed(configure, run_cli, warehouse: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    sim = GreenArrowSim(now=NOW, lists=1, campaigns_per_list=8, days=60)
    sending = sorted(sim.campaigns.values(), key=lambda c: c.started_at or NOW)[2]
    sending.state, sending.finished_at = "sending", None
    configure(sim, SOURCES__GREENARROW__LOOKBACK_DAYS="0")
    assert run_cli("run", "--warehouse", warehouse) == 0
    sim.grow()
    assert run_cli("run", "--warehouse", warehouse) == 0
    loaded = fact(warehouse, "greenarrow")
    key = ("1", str(sending.campaign_id), "total", "total", "messages_sent")
    assert loaded[key] == sim.truth_fact_rows()[key]


def test_deleted_campaign_is_reported_and_its_rows_vanish(sim: GreenArrowSim, configure, run_cli,
                                                          warehouse: Path) -> None:
    configure(sim)
    assert run_cli("run", "--warehouse", warehouse) == 0
    victim = next(c for c in sim.campaigns.values() if c.started_at is not None and c.links)
    sim.delete_campaign(victim.campaign_id)
    assert run_cli("run", "--warehouse", warehouse) == 3
    errors = query(warehouse, "select campaign_id, endpoint, http_status, reason from analytics.extraction_errors")
    assert errors == [(str(victim.campaign_id), "campaign", 404, "not_found: campaign "
                       f"{victim.campaign_id} not found")]
    loaded = fact(warehouse, "greenarrow")
    assert not [k for k in loaded if k[1] == str(victim.campaign_id)]
    assert loaded == sim.truth_fact_rows()
    outcome = query(warehouse, "select outcome, error_count from analytics.load_runs order by finished_at desc limit 1")
    assert outcome == [("partial", 1)]


def test_bad_credentials_stop_the_provider_with_one_sentence(sim: GreenArrowSim, configure, run_cli,
                                                             warehouse: Path, capsys) -> None:
    configure(sim, SOURCES__GREENARROW__API_KEY="1:not-the-key-987")
    assert run_cli("run", "--warehouse", warehouse) == 1
    captured = capsys.readouterr()
    assert "SOURCES__GREENARROW__API_KEY" in captured.out + captured.err
    assert "not-the-key-987" not in captured.out + captured.err
    assert "Traceback" not in captured.err
    assert query(warehouse, "select provider, outcome from analytics.load_runs") == [("greenarrow", "failed")]
    assert "not-the-key-987" not in str(query(warehouse, "select * from analytics.load_runs"))


def test_transform_rebuilds_identical_analytics_from_raw_alone(sim: GreenArrowSim, configure, run_cli,
                                                               warehouse: Path) -> None:
    server = configure(sim)
    assert run_cli("run", "--warehouse", warehouse) == 0
    sim.grow()
    assert run_cli("run", "--warehouse", warehouse) == 0
    fact_before = full_fact(warehouse)
    dim_before = query(warehouse, "select * from analytics.dim_campaign order by all")
    server.stop()
    assert run_cli("transform", "--warehouse", warehouse) == 0, "no provider is needed to rebuild analytics"
    assert full_fact(warehouse) == fact_before
    assert query(warehouse, "select * from analytics.dim_campaign order by all") == dim_before


def test_backfill_covers_its_range_and_leaves_the_nightly_cursor(sim: GreenArrowSim, configure, run_cli,
                                                                 warehouse: Path) -> None:
    configure(sim)
    start, end = NOW.subtract(days=40).date(), NOW.subtract(days=20).date()
    assert run_cli("backfill", "--start", start, "--end", end, "--warehouse", warehouse) == 0
    assert query(warehouse, "select count(*) from etl.cursors") == [(0,)]
    loaded = fact(warehouse, "greenarrow")
    in_range = {str(c.campaign_id) for c in sim.campaigns.values()
                if c.started_at is not None and start <= c.started_at.date() <= end}
    assert {k[1] for k in loaded} >= in_range
    lo = pendulum.datetime(start.year, start.month, start.day, tz="UTC").start_of("week")
    assert all(c.started_at is not None and c.started_at >= lo for c in sim.campaigns.values()
               if str(c.campaign_id) in {k[1] for k in loaded})
    modes = query(warehouse, "select mode, range_start, range_end from analytics.load_runs")
    assert modes[0][0] == "backfill"
    assert run_cli("run", "--warehouse", warehouse) == 0
    assert query(warehouse, "select count(*) from etl.cursors") == [(1,)]


def test_a_run_that_fails_midway_is_resumed_by_the_next(sim: GreenArrowSim, configure, run_cli,
                                                        warehouse: Path) -> None:
    configure(sim, SOURCES__GREENARROW__MAX_ATTEMPTS="2", SOURCES__GREENARROW__LOOKBACK_DAYS="0")
    sim.set_faults(Faults(share_5xx=0.5, seed=3))
    code = run_cli("run", "--warehouse", warehouse)
    assert code in (1, 3)
    pending = query(warehouse, "select count(*) from etl.window_ledger where account_id = '*' and status <> 'done'")
    assert pending[0][0] > 0
    sim.set_faults(Faults())
    assert run_cli("run", "--warehouse", warehouse) == 0
    assert query(warehouse, "select count(*) from etl.window_ledger where account_id = '*' "
                            "and status <> 'done'") == [(0,)]
    assert fact(warehouse, "greenarrow") == sim.truth_fact_rows()


def test_a_failed_backfill_window_is_left_to_its_backfill_not_retried_by_every_nightly(
        sim: GreenArrowSim, configure, run_cli, warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configure(sim, SOURCES__GREENARROW__MAX_ATTEMPTS="1", SOURCES__GREENARROW__LOOKBACK_DAYS="3")
    assert run_cli("run", "--warehouse", warehouse) == 0
    sim.set_faults(Faults(share_5xx=1.0))
    start, end = NOW.subtract(days=60).date(), NOW.subtract(days=50).date()
    assert run_cli("backfill", "--start", start, "--end", end, "--warehouse", warehouse) == 1
    left = query(warehouse, "select count(*) from etl.window_ledger where account_id = '*' and status <> 'done'")
    assert left[0][0] > 0
    sim.set_faults(Faults())
    assert run_cli("run", "--warehouse", warehouse) == 0
    (cursor,), = query(warehouse, "select cursor_at from etl.cursors where provider = 'greenarrow'")
    assert cursor >= NOW.naive() - dt.timedelta(minutes=5), "the cursor is the end of this nightly run"
    assert query(warehouse, "select count(*) from etl.window_ledger where account_id = '*' "
                            "and status <> 'done'") == left, "the nightly keeps to its own range"
    capsys.readouterr()
    assert run_cli("status", "--warehouse", warehouse) == 0
    out = capsys.readouterr().out
    assert f"greenarrow backfill {start}..{end}: {left[0][0]} window(s)" in out
    assert f"campaign-etl backfill --start {start} --end {end} --provider greenarrow" in out
    assert run_cli("backfill", "--start", start, "--end", end, "--warehouse", warehouse) == 0
    assert query(warehouse, "select count(*) from etl.window_ledger where account_id = '*' "
                            "and status <> 'done'") == [(0,)], "re-running the backfill finished it"
    assert fact(warehouse, "greenarrow") == sim.truth_fact_rows()


def test_a_nightly_leaves_out_settled_campaigns_of_a_window_still_due(sim: GreenArrowSim, configure, run_cli,
                                                                    warehouse: Path) -> None:
    # one 28-day window holds the whole lookback and never settles (it ends in the future); a campaign of it that
    # finished a day before two pulls that agree is left out from the third nightly on, until --recheck
    configure(sim, SOURCES__GREENARROW__LOOKBACK_DAYS="28", SOURCES__GREENARROW__WINDOW_DAYS="28",
              SOURCES__GREENARROW__SETTLE_DAYS="1")
    for _ in range(2):
        assert run_cli("run", "--warehouse", warehouse) == 0
    truth = sim.truth_fact_rows()
    mark = len(sim.log)
    assert run_cli("run", "--warehouse", warehouse) == 0
    pulled = {p.rsplit("/", 1)[-1] for _, _, p, _ in sim.log[mark:] if "/campaigns/" in p
              and not p.endswith("/link_stats") and "/mailing_lists/" not in p}
    listed = {p for _, _, p, _ in sim.log[mark:] if p.startswith("/ga/api/v2/mailing_lists/")}
    (current,), = query(warehouse, "select max(window_start) from etl.window_ledger where provider = 'greenarrow'")
    start = pendulum.instance(current, tz="UTC")    # the cell that ends in the future: never settles as a window
    settled = {str(c.campaign_id) for c in sim.campaigns.values() if c.state == "finished" and c.finished_at
               and c.started_at and c.started_at >= start and c.finished_at < NOW.subtract(days=1)}
    assert settled and listed, "the window was listed again, and holds campaigns that settled"
    assert not settled & pulled
    assert fact(warehouse, "greenarrow") == truth
    statuses = query(warehouse, "select campaigns from etl.settled where provider = 'greenarrow'")
    assert statuses and statuses[0][0] >= len(settled)

    mark = len(sim.log)
    assert run_cli("run", "--recheck", "--warehouse", warehouse) == 0
    repulled = {p.rsplit("/", 1)[-1] for _, _, p, _ in sim.log[mark:] if p.startswith("/ga/api/v2/campaigns/")
                and not p.endswith("/link_stats")}
    assert settled <= repulled
    assert fact(warehouse, "greenarrow") == truth
