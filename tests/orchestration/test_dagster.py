"""The Dagster definitions, through Dagster's own APIs: they validate, every asset materializes in-process against
the simulators into a temporary warehouse equal to their truth, a partition range is a backfill that leaves the
nightly cursor alone, the provider assets run in parallel processes under the multiprocess executor, and
refused credentials are not retried."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pendulum
import pytest
from helpers import fact, query

from orchestration import definitions
from orchestration.definitions import MODE_TAG, PROVIDER_ASSETS, CampaignEtl, analytics
from simulators.experiture import ExperitureSim
from simulators.greenarrow import GreenArrowSim
from simulators.insider import InsiderSim

NOW = pendulum.now("UTC")
TODAY = NOW.to_date_string()


@pytest.fixture
def sims(configure) -> dict[str, object]:
    out = {
        "greenarrow": GreenArrowSim(now=NOW, lists=1, campaigns_per_list=4, days=20, max_links=600),
        "insider": InsiderSim(now=NOW, rate_period=1.0, campaigns=6, days=30),
        "experiture": ExperitureSim(now=NOW, campaigns=8, days=20, journeys=False),
    }
    for sim in out.values():
        configure(sim, start_days=35)
    return out


def materialize(warehouse: Path, **kwargs: object) -> dg.ExecuteInProcessResult:
    resources = {"campaign_etl": CampaignEtl(warehouse=str(warehouse))}
    return dg.materialize([*PROVIDER_ASSETS, analytics], resources=resources, raise_on_error=False, **kwargs)


def test_the_definitions_validate(tmp_path: Path) -> None:
    done = subprocess.run([str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-m",
                           "orchestration.definitions"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DAGSTER_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Validation successful" in done.stderr + done.stdout


def test_every_asset_materializes_in_process_as_the_nightly(sims, warehouse: Path) -> None:
    result = materialize(warehouse, partition_key=TODAY, tags={MODE_TAG: "nightly"})
    assert result.success
    assert fact(warehouse, "greenarrow") == sims["greenarrow"].truth_fact_rows()  # type: ignore[attr-defined]
    assert fact(warehouse, "experiture") == sims["experiture"].truth_fact_rows()  # type: ignore[attr-defined]
    assert fact(warehouse, "insider", with_period=True) == sims["insider"].truth_fact_rows()  # type: ignore
    meta = {m.asset_key.to_user_string(): m.metadata for m in result.asset_materializations_for_node("raw_greenarrow")}
    assert meta["raw_greenarrow"]["outcome"].value == "ok" and meta["raw_greenarrow"]["requests"].value > 0
    skipped = result.asset_materializations_for_node("raw_shoplive")[0].metadata
    assert skipped["outcome"].value == "not configured"
    checks = result.get_asset_check_evaluations()
    assert {c.check_name for c in checks} == set(definitions.CHECKS) and all(c.passed for c in checks)
    assert query(warehouse, "select count(*) from etl.cursors") == [(3,)], "a nightly moves each cursor"
    secrets = [os.environ["SOURCES__GREENARROW__API_KEY"].split(":", 1)[1], os.environ["SOURCES__INSIDER__API_KEY"],
               os.environ["SOURCES__EXPERITURE__ACCESS_TOKEN"]]
    logged = " ".join(str(e) for e in result.all_events) + str([e.event_specific_data for e in result.all_events])
    assert secrets and not [s for s in secrets if s in logged], "no secret in Dagster's event log or metadata"


def test_a_partition_range_is_a_backfill_that_leaves_the_cursor(sims, warehouse: Path) -> None:
    start, end = NOW.subtract(days=20).to_date_string(), NOW.subtract(days=5).to_date_string()
    result = materialize(warehouse, tags={"dagster/asset_partition_range_start": start,
                                          "dagster/asset_partition_range_end": end})
    assert result.success
    assert query(warehouse, "select count(*) from etl.cursors") == [(0,)], "a backfill never moves the cursor"
    keys = {k for (k,) in query(warehouse, "select distinct request_key from etl.window_ledger")}
    assert f"backfill:{start}:{end}" in keys
    landed = fact(warehouse, "insider", with_period=True)
    assert landed and all(pendulum.parse(start).naive() - pendulum.duration(days=7) <= key[-1]
                          <= pendulum.parse(end).naive() for key in landed)
    truth = sims["insider"].truth_fact_rows()  # type: ignore[attr-defined]
    assert {k: v for k, v in landed.items()} == {k: truth[k] for k in landed}


def test_provider_assets_run_in_parallel_processes(sims, warehouse: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMPAIGN_ETL_WAREHOUSE", str(warehouse))
    home = tmp_path / "dagster"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        result = dg.execute_job(dg.reconstructable(definitions.nightly_job_def), instance=instance,
                                tags={MODE_TAG: "nightly", "dagster/partition": TODAY})
        assert result.success
        done = [e.step_materialization_data.materialization for e in result.get_asset_materialization_events()]
        pids = {m.asset_key.to_user_string(): m.metadata["pid"].value for m in done if "pid" in m.metadata}
    assert set(pids) == {"raw_greenarrow", "raw_insider", "raw_experiture"}
    assert len(set(pids.values())) == 3 and os.getpid() not in pids.values(), "a process per provider step"
    assert fact(warehouse, "greenarrow") == sims["greenarrow"].truth_fact_rows()  # type: ignore[attr-defined]
    assert fact(warehouse, "insider", with_period=True) == sims["insider"].truth_fact_rows()  # type: ignore


def test_refused_credentials_fail_once_without_retries(configure, warehouse: Path) -> None:
    sim = GreenArrowSim(now=NOW, lists=1, campaigns_per_list=2, days=10, max_links=600)
    configure(sim, start_days=15, SOURCES__GREENARROW__API_KEY="1:not-the-key-9f1b")
    result = dg.materialize([PROVIDER_ASSETS[0]], resources={"campaign_etl": CampaignEtl(warehouse=str(warehouse))},
                            partition_key=TODAY, tags={MODE_TAG: "nightly"}, raise_on_error=False)
    assert not result.success
    restarts = [e for e in result.all_events if e.event_type_value in ("STEP_UP_FOR_RETRY", "STEP_RESTARTED")]
    assert restarts == [], "refused credentials are not retried"
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert "not-the-key" not in str(failure)


def test_checks_block_only_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    def blocking() -> set[bool]:
        specs = definitions.analytics.check_specs
        return {spec.blocking for spec in specs}

    assert blocking() == {False}, "by default a failing check never blocks the load"
    monkeypatch.setenv("CAMPAIGN_ETL_BLOCKING_CHECKS", "1")
    try:
        assert {spec.blocking for spec in importlib.reload(definitions).analytics.check_specs} == {True}
    finally:
        monkeypatch.delenv("CAMPAIGN_ETL_BLOCKING_CHECKS")
        importlib.reload(definitions)


def test_a_transient_failure_is_retried(sims, warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from pipelines import runner

    monkeypatch.setenv("CAMPAIGN_ETL_RETRY_DELAY_SECONDS", "0.1")
    retrying = importlib.reload(definitions)
    real = runner.land
    calls: list[str] = []

    def fails_first(**kwargs: object) -> runner.RunResult:
        calls.append(str(kwargs["providers"]))
        result = real(**kwargs)  # type: ignore[arg-type]
        if len(calls) == 1:   # as if every attempt of a request had failed: the provider's run failed
            result.outcomes[0].outcome, result.outcomes[0].message = "failed", "retries exhausted (stand-in)"
        return result

    monkeypatch.setattr(retrying, "land", fails_first)
    try:
        result = dg.materialize([retrying.PROVIDER_ASSETS[0]],
                                resources={"campaign_etl": CampaignEtl(warehouse=str(warehouse))},
                                partition_key=TODAY, tags={MODE_TAG: "nightly"}, raise_on_error=False)
    finally:
        monkeypatch.delenv("CAMPAIGN_ETL_RETRY_DELAY_SECONDS")
        importlib.reload(definitions)
    assert result.success, "the retry succeeded"
    assert len(calls) == 2 and [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]


def test_the_nightly_schedule_asks_for_the_nightly_of_its_day() -> None:
    at = pendulum.datetime(2026, 12, 2, 2, 15, tz="UTC")
    request = definitions.nightly_schedule(dg.build_schedule_context(scheduled_execution_time=at))
    assert request.partition_key == "2026-12-02" and request.tags[MODE_TAG] == "nightly"
    assert definitions.nightly_schedule.cron_schedule == "15 2 * * *"
