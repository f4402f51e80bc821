"""Experiture end to end: simulator over HTTP -> dlt -> raw -> transforms -> fact and dim, checked against truth."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pendulum
from helpers import campaigns_requested, fact, query, three_runs

from core import clock
from simulators.base import Faults
from simulators.experiture import DEFAULT_TOKEN, ExperitureSim

NOW = pendulum.now("UTC")


def errors(path: Path) -> list[tuple]:
    return query(path, "select campaign_id, endpoint, http_status, reason from analytics.extraction_errors "
                       "where provider = 'experiture' order by campaign_id")


def test_fact_and_dim_equal_ground_truth(configure, run_cli, warehouse: Path) -> None:
    sim = ExperitureSim(now=NOW, campaigns=24, days=60)
    configure(sim)
    assert run_cli("run", "--warehouse", warehouse) == 3          # journeys are skipped and reported
    truth = sim.truth_fact_rows()
    assert fact(warehouse, "experiture") == truth
    assert {k[4] for k in truth} == {"scheduled", "hydrated", "composed", "injected", "sent", "failed"}
    rows = query(warehouse, """select distinct unit, period_start, period_end, breakdown_type, breakdown_value,
        observed_at is null from analytics.fact_campaign_metrics where provider = 'experiture'""")
    assert rows == [("count", None, None, "total", "total", False)]
    conformed = dict(query(warehouse, "select metric, any_value(conformed_metric) from "
                                      "analytics.fact_campaign_metrics where provider = 'experiture' group by all"))
    assert conformed == {"injected": "sent", "sent": "delivered", "failed": "failed", "scheduled": None,
                         "hydrated": None, "composed": None}
    # never-executed campaigns (drafts, scheduled) have a dim row but no fact rows
    dims = {r[0]: r[1:] for r in query(warehouse, """select campaign_id, campaign_name, channel, status, started_at,
        finished_at, scheduled_at, details from analytics.dim_campaign where provider = 'experiture'""")}
    expected = sim.truth_dim()
    for cid, want in expected.items():
        name, channel, status, started, finished, scheduled, details = dims[cid]
        assert (name, channel, status, started, finished, scheduled) == (
            want["campaign_name"], want["channel"], want["status"], want["started_at"], want["finished_at"],
            want["scheduled_at"]), cid
        details = json.loads(details)
        campaign = sim.campaigns[cid]
        assert details["campaign_type"] == "broadcast" and details["audience"]["estimatedReach"] == campaign.reach
        if campaign.executions:
            assert details["last_execution"]["counts"] == campaign.executions[-1].counts(sim.generation)
    assert {d[2] for d in dims.values()} >= {"completed", "failed", "running", "scheduled", "not_scheduled",
                                              "pending_or_overdue"}
    never_executed = {c.campaign_id for c in sim.loadable() if not c.executions}
    assert never_executed and never_executed <= set(dims)
    assert not never_executed & {k[1] for k in fact(warehouse, "experiture")}
    journeys = sorted(c.campaign_id for c in sim.journeys())
    assert [(e[0], e[1], e[2]) for e in errors(warehouse)] == [(j, "status", 409) for j in journeys]
    assert all("campaignType journey" in e[3] for e in errors(warehouse))
    journey_dims = query(warehouse, "select details ->> '$.campaign_type' from analytics.dim_campaign "
                                    "where campaign_id in (select unnest(?))", [journeys])
    assert journey_dims == [("journey",)] * len(journeys)


def test_a_changing_list_with_faults_loses_and_duplicates_nothing(configure, run_cli,
                                                                  warehouse: Path) -> None:
    sim = ExperitureSim(now=NOW, campaigns=18, days=60, journeys=False, max_page_limit=4)
    order = sorted(sim.loadable(), key=lambda c: (c.created_at, c.campaign_id))
    executed = [c for c in order if c.executions]
    gone = executed[0]
    created: list[str] = []

    def change(app: ExperitureSim) -> None:      # after page 1: one deleted before the offset, one created
        app.delete_campaign(gone.campaign_id)
        created.append(app.create_campaign(channel="sms").campaign_id)

    sim.after_list_request(1, change)
    # with transient faults too: retried pages and calls must not lose or double anything either
    sim.set_faults(Faults(share_5xx=0.15, share_429=0.1, retry_after=0.05, share_drop=0.05, seed=3))
    configure(sim, SOURCES__EXPERITURE__MAX_ATTEMPTS="8")
    assert run_cli("run", "--warehouse", warehouse) == 0
    loaded = fact(warehouse, "experiture")                     # fails on any duplicate key
    assert loaded == sim.truth_fact_rows()
    (retries, throttled), = query(warehouse, "select retries, throttled from analytics.load_runs")
    assert retries > 0 and throttled > 0
    assert {k[1] for k in loaded} == {c.campaign_id for c in sim.loadable() if c.executions}
    assert created[0] in {k[1] for k in loaded} and gone.campaign_id not in {k[1] for k in loaded}
    (readings, stable), = query(warehouse, """select request_params ->> '$.readings', request_params ->> '$.stable'
        from raw.experiture_fetches where endpoint = 'campaigns'""")
    assert int(readings) >= 3 and stable == "true"


def test_nightly_rerun_repulls_what_can_change_and_drops_deleted_campaigns(configure, run_cli,
                                                                            warehouse: Path) -> None:
    sim = ExperitureSim(now=NOW, campaigns=20, days=20, journeys=False)
    configure(sim, SOURCES__EXPERITURE__LOOKBACK_DAYS="1", SOURCES__EXPERITURE__WINDOW_DAYS="1",
              SOURCES__EXPERITURE__START_DATE=NOW.subtract(days=25).to_date_string())
    assert run_cli("run", "--warehouse", warehouse) == 0
    first_run = {p.split("/")[-2] for _, _, p, _ in sim.log if p.endswith("/metrics")}
    assert first_run == {c.campaign_id for c in sim.loadable()}   # the first run covers start_date..now

    sim.grow()                                                    # running executions progress
    executed = sorted((c for c in sim.loadable() if c.executions and c.state == "completed"),
                      key=lambda c: c.created_at)
    unlisted, listed = executed[0], executed[1]                   # the two oldest: outside the nightly windows
    sim.delete_campaign(unlisted.campaign_id)                     # gone from the list too
    sim.delete_campaign(listed.campaign_id, keep_listed=True)     # the list still shows it
    mark = len(sim.log)
    assert run_cli("run", "--warehouse", warehouse) == 3
    loaded = fact(warehouse, "experiture")
    # grown values in, the unlisted deleted campaign out; the listed one ended before the windows and was pulled
    # a moment ago, so the nightly did not probe it (dormant): it stays until its re-check
    assert {k: v for k, v in loaded.items() if k[1] != listed.campaign_id} == sim.truth_fact_rows()
    assert listed.campaign_id in {k[1] for k in loaded} and unlisted.campaign_id not in {k[1] for k in loaded}
    probed = {p.split("/")[-2] for _, _, p, _ in sim.log[mark:] if p.endswith("/status")}
    assert listed.campaign_id not in probed and unlisted.campaign_id in probed

    # only campaigns that can still change (or were active in the last day's windows) were pulled again
    pulled = {p.split("/")[-2] for _, _, p, _ in sim.log[mark:] if p.endswith("/metrics")}
    moving = {c.campaign_id for c in sim.loadable() if c.state in ("scheduled", "pending_or_overdue", "running")}
    recent = {c.campaign_id for c in sim.loadable()
              if max([c.updated_at, *(e.started_at for e in c.executions)]) > NOW.subtract(days=3)}
    assert moving and moving <= pulled <= moving | recent
    assert len(pulled) < len(first_run)
    dormant = {c.campaign_id for c in sim.loadable() if c.state in ("completed", "failed")} - probed
    assert dormant, "campaigns that ended before the windows were left unprobed"
    drafts = {c.campaign_id for c in sim.campaigns.values() if c.authoring_status == "draft" and c.listed}
    assert drafts and not drafts & probed, "drafts untouched inside the windows are left unprobed"

    # recheck_days (7) after their pull the dormant ones are pulled whole: the listed deletion shows and goes
    mark = len(sim.log)
    with clock.offset(dt.timedelta(days=8)):
        assert run_cli("run", "--warehouse", warehouse) == 3
    loaded = fact(warehouse, "experiture")
    assert loaded == sim.truth_fact_rows()
    assert not {unlisted.campaign_id, listed.campaign_id} & {k[1] for k in loaded}
    rechecked = {p.split("/")[-2] for _, _, p, _ in sim.log[mark:] if p.endswith("/metrics")}
    assert dormant - {listed.campaign_id} <= rechecked
    # --recheck probes every listed campaign, drafts included
    mark = len(sim.log)
    assert run_cli("run", "--recheck", "--warehouse", warehouse) == 3
    assert drafts <= {p.split("/")[-2] for _, _, p, _ in sim.log[mark:] if p.endswith("/status")}
    assert fact(warehouse, "experiture") == loaded

    # the deletions are reported, and the dim says so
    assert {(e[0], e[2]) for e in errors(warehouse)} == {(unlisted.campaign_id, 404), (listed.campaign_id, 404)}
    statuses = dict(query(warehouse, "select campaign_id, status from analytics.dim_campaign "
                                     "where campaign_id in (?, ?)", [unlisted.campaign_id, listed.campaign_id]))
    assert statuses == {unlisted.campaign_id: "deleted", listed.campaign_id: "deleted"}
    # neither has figures left, so later runs do not probe the unlisted one again
    refresh = {cid for (cid,) in query(warehouse, "select campaign_id from staging.refresh_candidates "
                                                  "where provider = 'experiture'")}
    assert refresh == {k[1] for k in loaded}
    # a full rebuild from raw alone gives the same answer (the empty pulls are the newest of their scopes)
    assert run_cli("transform", "--warehouse", warehouse) == 0
    assert fact(warehouse, "experiture") == loaded


def test_missing_analytics_scope_fails_the_run_naming_the_scope(configure, run_cli,
                                                                warehouse: Path) -> None:
    sim = ExperitureSim(now=NOW, campaigns=6, journeys=False, scopes={"campaigns:read"})
    configure(sim)
    assert run_cli("run", "--warehouse", warehouse) == 1
    (outcome, message), = query(warehouse, "select outcome, message from analytics.load_runs")
    assert outcome == "failed"
    assert "analytics:read" in message and "SOURCES__EXPERITURE__ACCESS_TOKEN" in message
    assert DEFAULT_TOKEN not in message
    assert fact(warehouse, "experiture") == {}


def test_settled_campaigns_are_not_probed_until_a_recheck(configure, run_cli, warehouse: Path) -> None:
    """A campaign whose execution ended a week before two pulls that agree is left out of later nightlies (no
    /status probe); a running one is still pulled, the fact still equals the truth, and ``--recheck`` probes all."""
    sim = ExperitureSim(now=NOW, campaigns=20, days=40, journeys=False)
    configure(sim)

    second, third = three_runs(run_cli, warehouse, sim, "status")
    old = {c.campaign_id for c in sim.loadable() if c.state in ("completed", "failed") and c.executions
           and NOW.subtract(days=29) < max(e.completed_at or NOW for e in c.executions) < NOW.subtract(days=8)}
    # (inside the nightly's 30-day lookback: an older one's first pull, the backfill's, also held rows of windows
    # the nightly no longer asks for, so its first two pulls differ and it settles one nightly later)
    running = {c.campaign_id for c in sim.loadable() if c.state == "running"}
    assert old and old <= second and not old & third, "settled campaigns are not probed"
    assert running <= third
    assert fact(warehouse, "experiture") == sim.truth_fact_rows()

    gone = sorted(old)[0]
    sim.delete_campaign(gone, keep_listed=True)
    mark = len(sim.log)
    assert run_cli("run", "--recheck", "--warehouse", warehouse) == 3
    assert gone in campaigns_requested(sim.log[mark:], "status")
    assert gone not in {k[1] for k in fact(warehouse, "experiture")}
