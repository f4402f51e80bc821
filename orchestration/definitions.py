"""Dagster definitions of the loader: an asset per provider, the analytics asset downstream, the data quality
checks as asset checks, a nightly schedule, and backfills as partition backfills.

    pip install -e ".[dagster]"
    dagster dev -m orchestration.definitions

* ``raw_<provider>`` (group ``raw``): pulls and lands that provider into its raw store (``pipelines.runner.land``)
  and logs its run. A run of the nightly schedule (tag ``campaign_etl/mode=nightly``) is the CLI's ``run``: from
  the provider's cursor, minus the lookback. Any other materialization is a backfill of its partitions' dates
  (daily partitions, UTC, one run for a whole range), which never moves the nightly cursor. A transient failure
  (retries exhausted, a provider answer it cannot go on from) is retried by Dagster; refused credentials are not.
* ``analytics`` (group ``analytics``): transforms what the providers landed and publishes the warehouse (and the
  PostgreSQL target when configured); the checks of ``analytics.data_quality`` are its asset checks, one per
  check over every provider. A failing check is a failed check in Dagster, never a failed materialization
  (unless ``CAMPAIGN_ETL_BLOCKING_CHECKS=1``: then a failing check of severity critical blocks the run).
* Each provider writes its own store, so the provider assets run in separate processes under Dagster's
  multiprocess executor (the default here) without DuckDB lock errors; two runs of one provider take turns.
* Configuration is the CLI's: dlt's config and secrets (environment, ``.dlt/`` of the project folder), plus the
  ``campaign_etl`` resource's ``warehouse`` and ``project_dir``. Metadata holds counts and outcomes, never a
  secret (every message passes ``core.redact``).
"""

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pendulum
from dagster import AssetExecutionContext

from core.redact import redact
from pipelines.config import resolve, use_project_dir, warehouse_path
from pipelines.progress import Progress
from pipelines.runner import land, transform_only
from sources import registry
from transforms.models import SQL_DIR

MODE_TAG = "campaign_etl/mode"
START = "2020-01-06"      # the first partition: a Monday, so weekly windows start on partition boundaries
PARTITIONS = dg.DailyPartitionsDefinition(start_date=START, timezone="UTC", end_offset=1)
CHECKS = sorted(path.stem for path in (SQL_DIR / "60_quality").glob("*.sql"))
# CAMPAIGN_ETL_BLOCKING_CHECKS=1 makes a failing check (severity critical) fail the analytics step and its run
BLOCKING_CHECKS = os.environ.get("CAMPAIGN_ETL_BLOCKING_CHECKS") == "1"
# a transient failure is retried twice, from CAMPAIGN_ETL_RETRY_DELAY_SECONDS (default 30) with backoff
RETRY = dg.RetryPolicy(max_retries=2, delay=float(os.environ.get("CAMPAIGN_ETL_RETRY_DELAY_SECONDS", "30")),
                       backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


class CampaignEtl(dg.ConfigurableResource):
    """Where the loader works: the DuckDB warehouse (default as the CLI's) and the folder of ``.dlt/``."""

    warehouse: str = ""
    project_dir: str = ""

    def path(self) -> Path:
        use_project_dir(self.project_dir)
        return warehouse_path(self.warehouse or None)


class _Log:
    """Progress lines into Dagster's log (already redacted)."""

    def __init__(self, context: AssetExecutionContext) -> None:
        self.context = context

    def __call__(self, message: str) -> None:
        self.context.log.info(redact(message))


def _range(context: AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """The dates of the run's partitions: the first day and the last (inclusive)."""
    window = context.partition_time_window
    return window.start.date(), (window.end - dt.timedelta(days=1)).date()


def _provider_asset(name: str) -> dg.AssetsDefinition:
    @dg.asset(name=f"raw_{name}", group_name="raw", partitions_def=PARTITIONS,
              backfill_policy=dg.BackfillPolicy.single_run(), retry_policy=RETRY,
              description=f"{name}: pulled from the provider and landed in its raw store "
                          f"(.etl/stores/{name}.duckdb).")
    def provider_asset(context: AssetExecutionContext, campaign_etl: CampaignEtl) -> dg.MaterializeResult:
        warehouse = campaign_etl.path()
        progress = Progress.to(_Log(context))
        if resolve(registry.available()[name], now=pendulum.now("UTC"), required=False) is None:
            context.log.info(f"{name} is not configured (no credentials): nothing to load")
            return dg.MaterializeResult(metadata={"outcome": "not configured"})
        if context.run.tags.get(MODE_TAG) == "nightly":
            result = land(warehouse=warehouse, mode="nightly", providers=[name], progress=progress)
        else:
            start, end = _range(context)
            result = land(warehouse=warehouse, mode="backfill", providers=[name], start=start, end=end,
                          progress=progress)
        (outcome,) = result.outcomes
        metadata: dict[str, Any] = {
            "outcome": outcome.outcome, "mode": outcome.mode, "run_id": result.run_id,
            "requests": int(outcome.stats.get("requests", 0)), "retries": int(outcome.stats.get("retries", 0)),
            "throttled": int(outcome.stats.get("throttled", 0)), "records": outcome.records,
            "skipped_entities": outcome.skipped, "windows_done": outcome.windows_done,
            "windows_failed": outcome.windows_failed, "windows_settled": outcome.windows_settled,
            "pid": os.getpid(),
        }
        if outcome.outcome == "failed":
            raise dg.Failure(description=redact(outcome.message or f"{name} failed"), metadata=metadata,
                             allow_retries=outcome.retryable)
        return dg.MaterializeResult(metadata=metadata)

    return provider_asset


PROVIDER_ASSETS = [_provider_asset(name) for name in registry.PROVIDER_NAMES]


@dg.asset(group_name="analytics", partitions_def=PARTITIONS, backfill_policy=dg.BackfillPolicy.single_run(),
          deps=PROVIDER_ASSETS, retry_policy=RETRY,
          check_specs=[dg.AssetCheckSpec(name=check, asset="analytics", blocking=BLOCKING_CHECKS)
                       for check in CHECKS],
          description="The analytics layer, transformed from the raw stores and published (DuckDB file, and the "
                      "PostgreSQL target when destination.postgres.credentials is set).")
def analytics(context: AssetExecutionContext, campaign_etl: CampaignEtl) -> Iterator[Any]:
    result = transform_only(warehouse=campaign_etl.path(), progress=Progress.to(_Log(context)), full=False)
    yield dg.MaterializeResult(metadata={
        "dirty_scopes": result.dirty_scopes, "fact_rows_inserted": result.fact_rows_inserted,
        "fact_rows_deleted": result.fact_rows_deleted, "seconds": round(result.seconds, 3),
        **{f"fact_rows_changed/{p}": n for p, n in sorted(result.per_provider_changed.items())}})
    by_check: dict[str, list[Any]] = {}
    for check in result.checks:
        by_check.setdefault(check.check_name, []).append(check)
    for name in CHECKS:
        rows = by_check.get(name, [])
        bad = [c for c in rows if c.status != "pass"]
        severity = dg.AssetCheckSeverity.ERROR if any(c.severity == "critical" for c in bad) else \
            dg.AssetCheckSeverity.WARN
        yield dg.AssetCheckResult(
            check_name=name, passed=not bad, severity=severity,
            metadata={"providers": len(rows), "failing": ", ".join(f"{c.provider}: {c.failing_rows} row(s)"
                                                                     for c in bad) or "none"})


nightly_job = dg.define_asset_job("nightly", selection=dg.AssetSelection.all(), tags={MODE_TAG: "nightly"},
                                  partitions_def=PARTITIONS)


@dg.schedule(job=nightly_job, cron_schedule="15 2 * * *", execution_timezone="UTC")
def nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Every night at 02:15 UTC: the nightly load of every provider (today's partition; the cursor decides the
    range), then the analytics."""
    day = context.scheduled_execution_time.astimezone(dt.UTC).date()
    return dg.RunRequest(partition_key=day.isoformat(), tags={MODE_TAG: "nightly"})


defs = dg.Definitions(
    assets=[*PROVIDER_ASSETS, analytics],
    jobs=[nightly_job],
    schedules=[nightly_schedule],
    resources={"campaign_etl": CampaignEtl(warehouse=os.environ.get("CAMPAIGN_ETL_WAREHOUSE", ""),
                                           project_dir=os.environ.get("CAMPAIGN_ETL_PROJECT_DIR", ""))},
    executor=dg.multiprocess_executor,
)


def nightly_job_def() -> dg.JobDefinition:
    """The nightly job, for ``dagster.reconstructable`` (runs in other processes rebuild it from here)."""
    return defs.resolve_job_def("nightly")
