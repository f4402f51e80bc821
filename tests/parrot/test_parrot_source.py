"""Parrot end to end: simulator over HTTP -> dlt -> raw -> transforms -> fact and dim, checked against truth."""

from __future__ import annotations

import json
from pathlib import Path

import pendulum
import pytest
from helpers import campaigns_requested, fact, query, three_runs

from simulators.base import Faults
from simulators.experiture import demo as experiture_demo
from simulators.parrot import DEFAULT_ACCOUNT, ParrotSim, demo

NOW = pendulum.now("UTC")


def details(path: Path) -> dict[str, dict]:
    rows = query(path, "select campaign_id, details from analytics.dim_campaign where provider = 'parrot'")
    return {cid: json.loads(d) if d else {} for cid, d in rows}


def test_fact_and_dim_equal_ground_truth(configure, run_cli, warehouse: Path) -> None:
    sim = ParrotSim(now=NOW, campaigns=18, refresh_delay=0.15)     # cold, stale and fresh campaigns
    configure(sim)
    truth = sim.truth_fact_rows()
    assert run_cli("run", "--warehouse", warehouse) == 0
    assert fact(warehouse, "parrot") == truth
    assert {k[4] for k in truth} == {"recipients", "sent", "delivered", "failed", "clicks", "opt_outs"}
    assert {k[0] for k in truth} == {"me"}
    rows = query(warehouse, """select distinct unit, period_start, period_end, breakdown_type, breakdown_value
        from analytics.fact_campaign_metrics where provider = 'parrot'""")
    assert rows == [("count", None, None, "total", "total")]
    conformed = dict(query(warehouse, "select metric, any_value(conformed_metric) from "
                                      "analytics.fact_campaign_metrics where provider = 'parrot' group by all"))
    assert conformed == {"sent": "sent", "delivered": "delivered", "opt_outs": "unsubscribes", "failed": "failed",
                         "recipients": None, "clicks": "clicks_total"}
    dims = {r[0]: r[1:] for r in query(warehouse, """select campaign_id, campaign_name, channel, status, started_at
        from analytics.dim_campaign where provider = 'parrot'""")}
    assert set(dims) == set(sim.campaigns)
    for cid, c in sim.campaigns.items():
        published = None if c.published_at is None else c.published_at.replace(tzinfo=None)
        assert dims[cid] == (c.name, "sms", c.status, published)
    fresh = details(warehouse)
    for c in sim.published():
        d = fresh[c.campaign_id]
        assert d["metrics_status"] == "ready" and d["metrics_stale"] is False
        as_of = c.snapshot_at.strftime("%Y-%m-%dT%H:%M:%S")  # type: ignore[union-attr]
        assert d["metrics_updated_at"].startswith(as_of)
    # cold campaigns answered `starting` first: that answer is in no raw row and no fact row
    polls = dict(query(warehouse, "select campaign_id, payload ->> '$.statuses' from raw.parrot_polls"))
    assert any(json.loads(p)[0] == "starting" for p in polls.values())
    assert query(warehouse, "select count(*) from raw.parrot_metrics "
                            "where payload ->> '$.data.status' <> 'ready'") == [(0,)]


def test_placeholders_never_reach_the_fact_and_stale_values_are_flagged(configure, run_cli,
                                                                        warehouse: Path) -> None:
    sim = ParrotSim(now=NOW, campaigns=12, drafts=False, refresh_delay=0.15)
    cold = next(c for c in sim.published() if c.snapshot is None)
    stale = next(c for c in sim.published() if c.snapshot is not None
                 and (sim.clock() - c.snapshot_at).total_seconds() > sim.stale_after)  # type: ignore[operator]
    sim.hold(cold.campaign_id)
    sim.hold(stale.campaign_id)
    configure(sim, SOURCES__PARROT__LOOKBACK_DAYS="70")         # every campaign is re-pulled every run
    truth = sim.truth_fact_rows()
    assert sim.truth_not_ready() == {cold.campaign_id} and sim.truth_stale() == {stale.campaign_id}
    assert run_cli("run", "--warehouse", warehouse) == 3
    loaded = fact(warehouse, "parrot")
    assert loaded == truth
    assert cold.campaign_id not in {k[1] for k in loaded}
    assert {k[4]: v for k, v in loaded.items() if k[1] == stale.campaign_id} == stale.snapshot
    assert query(warehouse, "select count(*) from analytics.fact_campaign_metrics "
                            "where provider = 'parrot' and value = 0") == [(0,)]
    (error,) = query(warehouse, "select campaign_id, endpoint, reason from analytics.extraction_errors")
    assert error[0] == cold.campaign_id and error[1] == "metrics" and error[2].startswith("metrics_not_ready")
    d = details(warehouse)[stale.campaign_id]
    assert d["metrics_stale"] is True and d["metrics_status"] == "updating" and d["metrics_polls"] == 4
    as_of = stale.snapshot_at.strftime("%Y-%m-%dT%H:%M:%S")  # type: ignore[union-attr]
    assert d["metrics_updated_at"].startswith(as_of)
    (raw_stale,) = query(warehouse, "select payload ->> '$._poll.stale' from raw.parrot_metrics "
                                    "where campaign_id = ?", [stale.campaign_id])
    assert raw_stale == ("true",)

    # next run: released, both load current values and the flag clears
    sim.hold(cold.campaign_id, False)
    sim.hold(stale.campaign_id, False)
    assert run_cli("run", "--warehouse", warehouse) == 0
    loaded = fact(warehouse, "parrot")
    assert {k[4]: v for k, v in loaded.items() if k[1] == cold.campaign_id} == sim.values(cold)
    assert {k[4]: v for k, v in loaded.items() if k[1] == stale.campaign_id} == sim.values(stale)
    assert details(warehouse)[stale.campaign_id]["metrics_stale"] is False

    # a worker restart: the campaign answers `starting` with zeros again; the loaded values must survive
    before = fact(warehouse, "parrot")
    with sim._lock:
        cold.snapshot, cold.snapshot_at = None, None
    sim.hold(cold.campaign_id)
    assert run_cli("run", "--warehouse", warehouse) == 3
    assert fact(warehouse, "parrot") == before
    assert query(warehouse, "select count(*) from analytics.extraction_errors where campaign_id = ?",
                 [cold.campaign_id]) == [(2,)]
    assert run_cli("transform", "--warehouse", warehouse) == 0     # a full rebuild from raw agrees
    assert fact(warehouse, "parrot") == before


def test_forty_updating_campaigns_load_in_about_one_poll_cycle(configure, run_cli,
                                                               warehouse: Path) -> None:
    interval = 1.0
    sim = ParrotSim(now=NOW, campaigns=40, warmth="stale", drafts=False, refresh_delay=0.5)
    configure(sim, SOURCES__PARROT__POLL_INTERVAL_SECONDS=str(interval), SOURCES__PARROT__MAX_CONCURRENCY="8")
    truth = sim.truth_fact_rows()
    assert run_cli("run", "--warehouse", warehouse) == 0
    assert fact(warehouse, "parrot") == truth
    times: dict[str, list[float]] = {}
    for at, _, path, _ in sim.log:
        if path.endswith("/metrics"):
            times.setdefault(path.split("/")[-2], []).append(at)
    assert len(times) == 40 and all(len(t) == 2 for t in times.values())
    first = min(t[0] for t in times.values())
    last = max(t[1] for t in times.values())
    # every campaign answers `updating` first and `ready` one interval later: the polling span is about one
    # cycle (plus two rounds of requests), where waiting per campaign in series would take 40 cycles
    assert last - first < 3 * interval, last - first
    # and no campaign is asked again sooner than the interval
    assert all(t[1] - t[0] >= interval - 0.01 for t in times.values())
    statuses = query(warehouse, "select distinct payload ->> '$.statuses' from raw.parrot_polls")
    assert statuses == [('["updating","ready"]',)]


def test_account_id_faults_and_deleted_campaigns(configure, run_cli,
                                                                 warehouse: Path) -> None:
    sim = ParrotSim(now=NOW, campaigns=14, drafts=True, days=20, refresh_delay=0.1)
    # with transient faults too: retried pages and polls must not lose or double anything
    sim.set_faults(Faults(share_5xx=0.15, share_429=0.1, retry_after=0.05, share_drop=0.05, seed=5))
    configure(sim, SOURCES__PARROT__ACCOUNT_ID=DEFAULT_ACCOUNT, SOURCES__PARROT__MAX_ATTEMPTS="8",
              SOURCES__PARROT__PAGE_SIZE="4")
    truth = sim.truth_fact_rows(DEFAULT_ACCOUNT)
    assert run_cli("run", "--warehouse", warehouse) == 0
    assert fact(warehouse, "parrot") == truth
    (retries, throttled), = query(warehouse, "select retries, throttled from analytics.load_runs")
    assert retries > 0 and throttled > 0
    sim.set_faults(Faults())
    gone = sim.published()[0]
    sim.delete_campaign(gone.campaign_id, keep_listed=True)
    assert run_cli("run", "--warehouse", warehouse) == 3
    loaded = fact(warehouse, "parrot")
    assert loaded == sim.truth_fact_rows(DEFAULT_ACCOUNT) and gone.campaign_id not in {k[1] for k in loaded}
    assert query(warehouse, "select account_id, campaign_id, http_status from analytics.extraction_errors") == [
        (DEFAULT_ACCOUNT, gone.campaign_id, 404)]
    assert query(warehouse, "select status from analytics.dim_campaign where campaign_id = ?",
                 [gone.campaign_id]) == [("not_found",)]


def test_settled_campaigns_are_not_pulled_until_changed_or_rechecked(configure, run_cli, warehouse: Path) -> None:
    """A campaign published a week before two ready pulls whose counters agree is left out of later nightlies; a
    recent one is still pulled, one the listing shows updated is pulled again, ``--recheck`` pulls all, and the
    fact equals the truth throughout."""
    sim = ParrotSim(now=NOW, campaigns=24, drafts=False, days=28, refresh_delay=0.1)
    configure(sim)

    second, third = three_runs(run_cli, warehouse, sim, "metrics")
    published = {c.campaign_id: c.published_at for c in sim.published()}
    old = {cid for cid, at in published.items() if at is not None and at < NOW.subtract(days=8)}
    recent = {cid for cid, at in published.items() if at is not None and at > NOW.subtract(days=6)}
    assert old and recent and old | recent <= second
    assert not old & third and recent <= third, "settled campaigns are left out, recent ones are not"
    assert fact(warehouse, "parrot") == sim.truth_fact_rows()

    touched = sorted(old)[0]
    sim.campaigns[touched].updated_at = sim.clock()      # edited upstream: the listing shows the change
    mark = len(sim.log)
    assert run_cli("run", "--warehouse", warehouse) == 0
    fourth = campaigns_requested(sim.log[mark:], "metrics")
    assert touched in fourth and not (old - {touched}) & fourth

    sim.grow()
    sim.expire()                                         # new clicks: every refresh shows them
    mark = len(sim.log)
    assert run_cli("run", "--recheck", "--warehouse", warehouse) == 0
    assert old <= campaigns_requested(sim.log[mark:], "metrics")
    assert fact(warehouse, "parrot") == sim.truth_fact_rows()


def test_demo_datasets_of_both_providers_load_cleanly(monkeypatch: pytest.MonkeyPatch, serve, run_cli,
                                                     warehouse: Path) -> None:
    apps = {}
    for name, make in (("parrot", demo), ("experiture", experiture_demo)):
        app, config = make(NOW)
        apps[name] = app
        for key, value in config(serve(app).url).items():
            monkeypatch.setenv(key, value)
    parrot_truth = apps["parrot"].truth_fact_rows()  # type: ignore[attr-defined]
    assert run_cli("run", "--warehouse", warehouse, "--provider", "parrot", "--provider", "experiture") == 0
    assert fact(warehouse, "parrot") == parrot_truth
    assert fact(warehouse, "experiture") == apps["experiture"].truth_fact_rows()  # type: ignore[attr-defined]
    flagged = {cid for cid, d in details(warehouse).items() if d.get("metrics_stale")}
    assert flagged == apps["parrot"].truth_stale() and len(flagged) == 1  # type: ignore[attr-defined]
