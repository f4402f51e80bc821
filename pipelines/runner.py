"""Orchestration of ``run``, ``backfill`` and ``transform``: config, lock, windows, loads, transforms, publish.

A provider's failure (credentials refused, retries exhausted, an answer we cannot read) stops that provider
only: the others still load, the run exits 1 and the failure is in ``analytics.load_runs``. Entities skipped
along the way (404/409/424, metrics not ready) are rows of ``analytics.extraction_errors`` and make the exit 3.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import datetime as dt
import itertools
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pendulum
import pyarrow as pa
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.pipeline.exceptions import PipelineStepFailed

from core import clock, interrupt
from core.errors import (
    CampaignEtlError,
    ConfigError,
    DiskFull,
    ProviderAuthError,
    ProviderError,
    WarehouseBusy,
    first_line,
    with_provider,
)
from core.redact import redact
from pipelines import estimate, ledger, postgres, stores
from pipelines.config import freshness_hours, resolve
from pipelines.progress import Progress
from pipelines.stores import ProviderStore, StoreError
from pipelines.warehouse import WorkArea, WorkFileError, disk_error
from sources import registry
from sources.common.http import HttpClient
from sources.common.provider import ProviderSettings, ProviderSpec
from sources.common.raw import ExtractPlan, ExtractReport, Mode, RawWriter, arrow_chunks, raw_resource
from sources.common.source import Extraction, provider_rows
from sources.common.windows import Window, grid_floor, nightly_range, plan_windows, utc
from transforms import (
    CheckResult,
    TransformResult,
    dormant_campaigns,
    refresh_candidates,
    run_checks,
    run_transforms,
    settled_campaigns,
)

log = logging.getLogger("campaign_etl.runner")

STEPS = ("extract", "normalize", "load", "transform")


@dataclass
class ProviderOutcome:
    provider: str
    mode: Mode
    range_start: dt.datetime | None = None
    range_end: dt.datetime | None = None
    started_at: pendulum.DateTime = field(default_factory=clock.now)
    finished_at: pendulum.DateTime | None = None
    outcome: str = "ok"             # ok, partial (entities skipped or windows failed), failed
    message: str | None = None
    stats: dict[str, float] = field(default_factory=dict)
    records: int = 0
    skipped: int = 0
    windows_done: int = 0
    windows_failed: int = 0
    windows_settled: int = 0        # skipped by a nightly as settled (pipelines.ledger)
    retryable: bool = True          # False when the provider refused the credentials: trying again will not help
    settled_windows: list[Window] = field(default_factory=list)
    fact_rows_changed: int = 0
    fact_rows_total: int = 0
    # seconds per step, summed over the provider's loads (transform: the run's, shared by its providers)
    steps: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STEPS, 0.0))


@dataclass
class RunResult:
    run_id: str
    outcomes: list[ProviderOutcome]
    transform: TransformResult | None
    warehouse: Path

    @property
    def exit_code(self) -> int:
        if any(o.outcome == "failed" for o in self.outcomes):
            return 1
        if any(o.skipped or o.windows_failed for o in self.outcomes):
            return 3
        return 0


def select_specs(names: list[str] | None) -> list[ProviderSpec]:
    specs = registry.available()
    if names:
        unknown = [n for n in names if n.strip().lower() not in specs]
        if unknown:
            raise ConfigError(f"unknown provider '{unknown[0]}'; known providers: {', '.join(specs)}.")
        return [specs[n] for n in dict.fromkeys(n.strip().lower() for n in names)]   # names in any case
    return list(specs.values())


def configured(names: list[str] | None, now: pendulum.DateTime) -> list[tuple[ProviderSpec, ProviderSettings]]:
    """Specs and settings of the providers to run; every config problem surfaces here, before any request."""
    chosen = []
    for spec in select_specs(names):
        settings = resolve(spec, now=now, required=bool(names))
        if settings is not None:
            chosen.append((spec, settings))
    if not chosen:
        raise ConfigError("no provider is configured: set the credentials of at least one provider "
                          "(for example SOURCES__GREENARROW__API_KEY and SOURCES__GREENARROW__BASE_URL), "
                          "or try 'campaign-etl demo'.")
    return chosen


def load(*, warehouse: Path, mode: Mode, providers: list[str] | None = None, start: dt.date | None = None,
         end: dt.date | None = None, progress: Progress | None = None,
         now: pendulum.DateTime | None = None, recheck: bool = False, shared_target: bool = True) -> RunResult:
    """Load the chosen providers side by side (nightly from their cursor, or a backfill range), each into its own
    raw store, then transform and publish.

    A nightly skips the windows of its range that have settled (``pipelines.ledger``), unless ``recheck``. With
    ``shared_target`` the configured PostgreSQL warehouse is published to as well (``pipelines.postgres``).

    A stop request (SIGINT / SIGTERM) raises ``interrupt.Interrupted`` at the next step: the run log of the
    interrupted run is kept in the work file, nothing is transformed or published, and the next run resumes.
    """
    progress = progress or Progress()
    now = now or clock.now()
    chosen = configured(providers, now)
    side_by_side = providers_in_parallel()
    target = postgres.configured_target() if shared_target else None
    if target is not None:
        postgres.check_reachable(target)   # before any request: a run that could not publish does not start
    run_id = f"{now.format('YYYYMMDDTHHmmss')}-{uuid.uuid4().hex[:8]}"
    area = WorkArea(warehouse)
    outcomes = [ProviderOutcome(provider=spec.name, mode=mode) for spec, _ in chosen]
    with _disk_full_is_one_sentence(area):
        _land(area, chosen, outcomes, side_by_side, mode=mode, start=start, end=end, now=now, run_id=run_id,
              progress=progress, recheck=recheck)
        _return_freed_memory()
        with area.publishing(progress):
            try:
                transform = _transform_and_log(area, outcomes, run_id, progress, full=False)
                interrupt.check()
            except interrupt.Interrupted as stop:
                _log_stopped(area, run_id, outcomes, f"stopped by {interrupt.signal_name(stop.signum)}; "
                                                     f"not published")
                raise
            area.publish()
            if any(o.outcome != "failed" for o in outcomes):
                progress(f"published {warehouse}")
            else:
                progress(f"no provider loaded anything; {warehouse} keeps its analytics, with this run's log")
            if target is not None:
                postgres.publish(target, warehouse, area.postgres_state, progress, area.postgres_config)
    return RunResult(run_id, outcomes, transform, warehouse)


def land(*, warehouse: Path, mode: Mode, providers: list[str] | None = None, start: dt.date | None = None,
         end: dt.date | None = None, progress: Progress | None = None,
         now: pendulum.DateTime | None = None) -> RunResult:
    """Pull and land the chosen providers into their raw stores, and log their runs, without transforming: one
    orchestrator step per provider (``orchestration/``), the transform and publish being a step of their own
    (``transform_only(full=False)``). Nothing is published; the next transform picks the loads up."""
    progress = progress or Progress()
    now = now or clock.now()
    chosen = configured(providers, now)
    run_id = f"{now.format('YYYYMMDDTHHmmss')}-{uuid.uuid4().hex[:8]}"
    area = WorkArea(warehouse)
    outcomes = [ProviderOutcome(provider=spec.name, mode=mode) for spec, _ in chosen]
    with _disk_full_is_one_sentence(area):
        _land(area, chosen, outcomes, providers_in_parallel(), mode=mode, start=start, end=end, now=now,
              run_id=run_id, progress=progress, recheck=False)
        with area.publishing(progress), area.connect() as con:
            for outcome in outcomes:
                _log_run(con, run_id, outcome)
    return RunResult(run_id, outcomes, None, warehouse)


def _land(area: WorkArea, chosen: list[tuple[ProviderSpec, ProviderSettings]], outcomes: list[ProviderOutcome],
          side_by_side: int, *, run_id: str, progress: Progress, **run: Any) -> None:
    """Prepare the work area, then load the providers side by side; a stop request is logged and raised."""
    with area.publishing(progress):
        area.prepare(progress)
    past = estimate.history(area.published)  # once for the run, not per provider (an opening costs ~15 ms)
    try:
        _load_side_by_side(area, chosen, outcomes, side_by_side, run_id=run_id, progress=progress, past=past,
                           **run)
        interrupt.check()
    except interrupt.Interrupted as stop:
        with area.publishing(progress):
            _log_stopped(area, run_id, outcomes, f"stopped by {interrupt.signal_name(stop.signum)}; "
                                                 f"not published")
        raise


def providers_in_parallel() -> int:
    """How many providers a run loads at once (``providers_in_parallel``; default: all of them)."""
    value: Any = dlt.config.get("providers_in_parallel")
    if value is None:
        return len(registry.PROVIDER_NAMES)
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = 0
    if count < 1:
        raise ConfigError(f"PROVIDERS_IN_PARALLEL must be a whole number of at least 1, got '{value}'.")
    return count


def _load_side_by_side(area: WorkArea, chosen: list[tuple[ProviderSpec, ProviderSettings]],
                       outcomes: list[ProviderOutcome], workers: int, **run: Any) -> None:
    """Each provider's load in a thread of its own (at most ``workers`` at once), into its own store: one waits
    only for its own rate limits. A provider's failure is in its outcome; a full disk or a stop request is raised
    once every provider has stopped (each notices a stop at its next step)."""
    if workers == 1 or len(chosen) == 1:
        for (spec, settings), outcome in zip(chosen, outcomes, strict=True):
            interrupt.check()
            _load_provider(area, spec, settings, outcome, **run)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(workers, len(chosen)),
                                               thread_name_prefix="provider") as pool:
        futures = [pool.submit(_load_provider, area, spec, settings, outcome, **run)
                   for (spec, settings), outcome in zip(chosen, outcomes, strict=True)]
        concurrent.futures.wait(futures)
    errors = [f.exception() for f in futures if f.exception() is not None]
    for error in errors:  # a stop first, then a full disk, then anything else
        if isinstance(error, interrupt.Interrupted):
            raise error
    for error in errors:
        if isinstance(error, DiskFull):
            raise error
    if errors:
        raise errors[0]  # type: ignore[misc]


def _load_provider(area: WorkArea, spec: ProviderSpec, settings: ProviderSettings, outcome: ProviderOutcome,
                   **run: Any) -> None:
    """One provider's load, holding its store's load lock (another run of the same provider goes first)."""
    store = area.store(spec.name)
    progress: Progress = run["progress"]
    try:
        with store.loading(progress):
            outcome.started_at = clock.now()
            store.prepare(progress)
            _run_provider(area, store, spec, settings, outcome, **run)
    except (StoreError, WorkFileError, WarehouseBusy) as exc:
        outcome.outcome, outcome.message = "failed", str(exc)
        outcome.finished_at = clock.now()
        progress(with_provider(spec.name, str(exc)))


@contextlib.contextmanager
def _disk_full_is_one_sentence(area: WorkArea) -> Iterator[None]:
    """Whatever step runs out of disk (dlt's files, DuckDB's writes, the transforms), say it as ``DiskFull``."""
    try:
        yield
    except DiskFull:
        raise
    except Exception as exc:  # any error may be the disk's: dlt's, DuckDB's, the filesystem's
        full = disk_error(exc, area.dir)
        if full is not None:
            raise full from None
        raise


def _return_freed_memory() -> None:
    """Give the heap the extraction freed back to the system before DuckDB's transform takes its share: the
    worker threads' malloc arenas otherwise keep it, and the peak would grow with the size of the loads."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _log_stopped(area: WorkArea, run_id: str, outcomes: list[ProviderOutcome], message: str) -> None:
    """Keep the interrupted run in the work file's run log (published by the next run), best effort."""
    try:
        with area.connect() as con:
            logged = {r[0] for r in con.execute("select provider from analytics.load_runs where run_id = ?",
                                                [run_id]).fetchall()}
            for o in outcomes:
                if o.provider not in logged:
                    o.outcome, o.message = "interrupted", message
                    o.finished_at = o.finished_at or clock.now()
                    _log_run(con, run_id, o)
    except CampaignEtlError:
        pass


def transform_only(*, warehouse: Path, progress: Progress | None = None, full: bool = True) -> TransformResult:
    """Rebuild staging and analytics from the raw stores alone (no request to any provider), then publish; with
    ``full=False`` only what was loaded since the last transform (an orchestrator's step after ``land``)."""
    progress = progress or Progress()
    area = WorkArea(warehouse)
    if not area.work_db.exists() and not warehouse.exists():
        raise ConfigError(f"there is no warehouse at {warehouse} to transform; run 'campaign-etl run' first.")
    target = postgres.configured_target()
    if target is not None:
        postgres.check_reachable(target)
    with area.publishing(progress), _disk_full_is_one_sentence(area):
        area.prepare(progress)
        with area.connect() as con:
            with stores.reading(con, area.stores()) as attached:
                stores.copy_ledgers(con, attached)
                result = _interruptible_transform(con, full=full)
            result.checks = _checks(con, None, progress)
        interrupt.check()
        area.publish()
        progress(f"transform {'rebuilt' if full else 'wrote'} {result.fact_rows_inserted} fact rows from raw in "
                 f"{result.seconds:.2f}s; published {warehouse}")
        if target is not None:
            postgres.publish(target, warehouse, area.postgres_state, progress, area.postgres_config)
    return result


def _interruptible_transform(con: duckdb.DuckDBPyConnection, *, full: bool) -> TransformResult:
    """The transforms, cut short by a stop request (DuckDB interrupts the running statement; the transaction
    rolls back), which is then raised as the stop it is, not as a failed transform."""
    try:
        with interrupt.on_stop(con.interrupt):
            return run_transforms(con, full=full)
    except (CampaignEtlError, duckdb.Error):
        interrupt.check()
        raise


def _transform_and_log(area: WorkArea, outcomes: list[ProviderOutcome], run_id: str, progress: Progress,
                       *, full: bool) -> TransformResult:
    """The transforms over every store, the run log and the checks, in the work file (under the publishing lock)."""
    with area.connect() as con:
        progress("transforming raw -> analytics")
        try:
            with stores.reading(con, area.stores()) as attached:
                stores.copy_ledgers(con, attached)
                result = _interruptible_transform(con, full=full)
        except CampaignEtlError as exc:
            # the transform rolled back and nothing is published; the loads and this failure stay in the run log
            # of the work file, which the next successful run publishes
            for o in outcomes:
                if o.outcome != "failed":
                    o.outcome, o.message = "failed", f"loaded, but not published: {exc}"
                _log_run(con, run_id, o)
            raise
        totals = dict(con.execute("select provider, count(*) from staging.fact_rows group by all").fetchall())
        for o in outcomes:
            o.fact_rows_changed = result.per_provider_changed.get(o.provider, 0)
            o.fact_rows_total = totals.get(o.provider, 0)
            o.steps["transform"] = result.seconds
            _log_run(con, run_id, o)
        result.checks = _checks(con, run_id, progress)
    progress(f"transform: {result.dirty_scopes} scopes rebuilt, {result.fact_rows_inserted} fact rows written "
             f"in {result.seconds:.2f}s")
    return result


def _checks(con: Any, run_id: str | None, progress: Progress) -> list[CheckResult]:
    """Data quality checks: never block the load, never silent (a line per failing check)."""
    results = run_checks(con, run_id=run_id, freshness_hours=freshness_hours())
    bad = [r for r in results if r.status != "pass"]
    progress(f"data quality: {len(results) - len(bad)} passed, {len(bad)} not passed (analytics.data_quality)")
    for r in bad:
        progress(f"  {r.status.upper()} {r.check_name} [{r.provider}]: {r.failing_rows} row(s); {r.detail or ''}")
    return results


def _log_run(con: Any, run_id: str, o: ProviderOutcome) -> None:
    finished = o.finished_at or clock.now()
    row = {
        "run_id": run_id, "provider": o.provider, "mode": o.mode,
        "range_start": utc(o.range_start).naive() if o.range_start else None,
        "range_end": utc(o.range_end).naive() if o.range_end else None,
        "started_at": o.started_at.naive(), "finished_at": finished.naive(),
        "duration_seconds": round((finished - o.started_at).total_seconds(), 3),
        "outcome": o.outcome, "message": o.message, "requests": int(o.stats.get("requests", 0)),
        "retries": int(o.stats.get("retries", 0)), "throttled": int(o.stats.get("throttled", 0)),
        "bytes_received": int(o.stats.get("bytes_received", 0)), "records_landed": o.records,
        "windows_done": o.windows_done, "windows_failed": o.windows_failed, "error_count": o.skipped,
        "fact_rows_changed": o.fact_rows_changed, "fact_rows_total": o.fact_rows_total,
        **{f"{step}_seconds": round(seconds, 3) for step, seconds in o.steps.items()},
    }
    con.execute(f"insert into analytics.load_runs ({', '.join(row)}) values ({', '.join('?' for _ in row)})",
                list(row.values()))


def _plan(con: duckdb.DuckDBPyConnection, spec: ProviderSpec, settings: ProviderSettings, *, mode: Mode,
          start: dt.date | None,
          end: dt.date | None, now: pendulum.DateTime, run_id: str, outcome: ProviderOutcome,
          recheck: bool = False) -> tuple[list[Window], str]:
    """The windows this run pulls, recorded as pending in the ledger, and the request key.

    A nightly pulls its own range (``lookback_days`` before the cursor to now); the cursor never passes a window
    that is not done, so a failed nightly window stays inside the next nightly's range. A backfill pulls its
    range, or only what an earlier run of the same backfill left unfinished. Either way the range is widened to
    whole cells of windows loaded earlier on another grid (``window_days`` changed), so the new cells replace the
    old ones entirely and no two periods overlap. A nightly then leaves out the windows that have settled, unless
    ``recheck`` (``pipelines.ledger``, settle policy).
    """
    name = spec.name
    if mode == "backfill":
        assert start is not None and end is not None
        lo = utc(start)
        hi = utc(end).add(days=1)
        request_key = f"backfill:{start.isoformat()}:{end.isoformat()}"
        resumable = ledger.unfinished(con, name, now, request_key) if ledger.has_request(
            con, name, request_key) else []
        if resumable:
            cells = [w for left in resumable
                     for w in _covering(con, name, left.start, left.grid_end, settings, now)]
            windows = sorted({w.start: w for w in cells}.values())
        else:
            windows = _covering(con, name, lo, hi, settings, now)
    else:
        cursor = ledger.get_cursor(con, name)
        lo, hi = nightly_range(cursor, start_date=settings.start_date, lookback_days=settings.lookback_days,
                               now=now)
        request_key = "nightly"
        windows = _covering(con, name, lo, hi, settings, now)
        skipped = [] if recheck or not spec.settle_windows else ledger.settled(
            con, name, windows, now, settle_days=settings.settle_days, recheck_days=settings.recheck_days)
        left_out = set(skipped)
        windows = [w for w in windows if w not in left_out]
        outcome.windows_settled = len(skipped)
        outcome.settled_windows = skipped
    outcome.range_start, outcome.range_end = lo, min(hi, now)
    ledger.plan(con, name, windows, request_key, run_id)
    return windows, request_key


def span_of(windows: list[Window]) -> str:
    """``2026-06-01..2026-07-05``: the first and the last day the windows cover (both inclusive)."""
    if not windows:
        return "(none)"
    last = utc(windows[-1].end).subtract(microseconds=1)
    return f"{windows[0].start.to_date_string()}..{last.to_date_string()}"


def widening(windows: list[Window], *, mode: Mode, start: dt.date | None, end: dt.date | None,
             window_days: int) -> str | None:
    """What a backfill pulls beyond its range, in words, or None: windows are whole cells of the provider's grid
    (``window_days``), so a range that does not start and end on the grid is widened to the cells it touches."""
    if mode != "backfill" or not windows or start is None or end is None:
        return None
    first = windows[0].start.date()
    last = utc(windows[-1].end).subtract(microseconds=1).date()
    if first >= start and last <= end:
        return None
    return (f"the range {start}..{end} is widened to whole {window_days}-day windows: {span_of(windows)} "
            f"(the extra days are loaded too)")


@dataclass
class PlannedProvider:
    """What a run would do for one provider (``--dry-run``)."""

    provider: str
    windows: list[Window]
    widened: str | None
    settled_windows: int
    policy: Any
    estimate: estimate.Estimate


def plan_only(*, warehouse: Path, mode: Mode, providers: list[str] | None = None, start: dt.date | None = None,
              end: dt.date | None = None, now: pendulum.DateTime | None = None,
              recheck: bool = False) -> list[PlannedProvider]:
    """The windows each provider would pull and the estimated requests and time, with no request sent and
    nothing written: the plan is made on a scratch copy of each store's ledger."""
    now = now or clock.now()
    area = WorkArea(warehouse)
    past = estimate.history(warehouse)
    planned = []
    for spec, settings in configured(providers, now):
        outcome = ProviderOutcome(provider=spec.name, mode=mode)
        with _scratch_ledger(area.store(spec.name)) as con:
            windows, _ = _plan(con, spec, settings, mode=mode, start=start, end=end, now=now, run_id="dry-run",
                               outcome=outcome, recheck=recheck)
        planned.append(PlannedProvider(
            spec.name, windows, widening(windows, mode=mode, start=start, end=end, window_days=settings.window_days),
            outcome.windows_settled, settings.policy,
            estimate.estimate(len(windows), settings.policy, past.get(spec.name))))
    return planned


@contextlib.contextmanager
def _scratch_ledger(store: ProviderStore) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory copy of the store's ledger (empty when the provider has no store yet)."""
    con = duckdb.connect(":memory:")
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute(stores.LEDGER_DDL)
        if store.exists:
            with store.access():
                try:
                    con.execute(f"attach '{store.path}' as store (read_only)")
                except duckdb.Error as exc:
                    raise StoreError(f"cannot read the raw store {store.path} ({first_line(exc)}).") from None
                have = {t for (t,) in con.execute("select table_name from information_schema.tables "
                                                  "where table_catalog = 'store' and table_schema = 'etl'").fetchall()}
                for table in stores.LEDGER_TABLES:
                    if table in have:
                        con.execute(f"insert into etl.{table} by name select * from store.etl.{table}")
                con.execute("detach store")
        yield con
    finally:
        con.close()


def _covering(con: Any, provider: str, lo: dt.datetime, hi: dt.datetime, settings: ProviderSettings,
              now: pendulum.DateTime) -> list[Window]:
    """Grid windows over ``[lo, hi)``, widened until they cover every earlier ledger cell they overlap."""
    lo, hi = utc(lo), utc(hi)
    while True:
        windows = plan_windows(lo, hi, window_days=settings.window_days, now=now)
        if not windows:
            return []
        cells = ledger.cells_overlapping(con, provider, windows[0].start, windows[-1].grid_end)
        wider_lo = min([lo, *(s for s, _ in cells)])
        wider_hi = max([hi, *(e for _, e in cells)])
        if (wider_lo, wider_hi) == (lo, hi):
            return windows
        lo, hi = wider_lo, wider_hi


@dataclass
class _CampaignIds:
    """What the transforms say about one provider's campaigns before its pull (``ExtractPlan`` fields)."""

    refresh: dict[str, list[str]]
    settled: dict[str, list[str]]
    dormant: dict[str, dict[str, dt.datetime]]
    dormant_due: dict[str, dict[str, dt.datetime]]


def _campaign_ids(area: WorkArea, store: ProviderStore, spec: ProviderSpec, settings: ProviderSettings, *,
                  settle: bool, now: pendulum.DateTime, windows: list[Window], progress: Progress) -> _CampaignIds:
    """Campaigns to pull again whatever their window (still sending, not final), and, when ``settle``, the settled
    and dormant ones a source that probes every campaign may leave out: the transforms decide them all, from the
    work file and the provider's raw store."""
    rule = spec.settling if settle else None
    dormant: dict[str, dict[str, dt.datetime]] = {}
    with area.publishing(progress), area.connect() as con, stores.reading(con, [store]):
        refresh = refresh_candidates(con, spec.name)
        settled = settled_campaigns(con, spec.name, states=rule.states, since=rule.since, endpoint=rule.endpoint,
                                    figures=rule.figures, tables=rule.tables, now=now.naive(),
                                    settle_days=settings.settle_days,
                                    recheck_days=settings.recheck_days) if rule is not None else {}
        if rule is not None and rule.probes_all and windows:
            dormant = dormant_campaigns(con, spec.name, states=rule.states, since=rule.since, endpoint=rule.endpoint,
                                        static_states=rule.static_states, before=utc(windows[0].start).naive(),
                                        settle_days=settings.settle_days)
    due_before = now.naive() - dt.timedelta(days=settings.recheck_days)
    recent = {a: {c: t for c, t in ids.items() if t > due_before} for a, ids in dormant.items()}
    due = {a: {c: t for c, t in ids.items() if t <= due_before} for a, ids in dormant.items()}
    return _CampaignIds(refresh, settled, {a: c for a, c in recent.items() if c}, {a: c for a, c in due.items() if c})


def _run_provider(area: WorkArea, store: ProviderStore, spec: ProviderSpec, settings: ProviderSettings,
                  outcome: ProviderOutcome, *, mode: Mode, start: dt.date | None, end: dt.date | None,
                  now: pendulum.DateTime, run_id: str, progress: Progress, past: dict[str, estimate.History],
                  recheck: bool = False) -> None:
    """Pull, land and record one provider's windows into ``outcome``; a failure stops this provider only.
    ``past`` is what the published warehouse says of each provider's last runs (for the progress estimate)."""
    name = spec.name
    try:
        with store.connect() as con:
            windows, _ = _plan(con, spec, settings, mode=mode, start=start, end=end, now=now, run_id=run_id,
                               outcome=outcome, recheck=recheck)
    except CampaignEtlError as exc:
        outcome.outcome, outcome.message = "failed", str(exc)
        outcome.finished_at = clock.now()
        progress(with_provider(name, str(exc)))
        return
    settle = mode == "nightly" and not recheck and settings.settle_days > 0
    ids = _campaign_ids(area, store, spec, settings, settle=settle, now=now, windows=windows, progress=progress)
    settled = f" ({outcome.windows_settled} settled window(s) skipped)" if outcome.windows_settled else ""
    if ids.settled:
        settled += f" ({sum(map(len, ids.settled.values()))} settled campaign(s) not probed unless listed as changed)"
    if ids.dormant:
        settled += (f" ({sum(map(len, ids.dormant.values()))} campaign(s) that ended before the windows, or drafts, "
                    "not probed unless listed as changed)")
    progress(f"{name}: {mode} {len(windows)} window(s) {span_of(windows)}{settled}")
    widened = widening(windows, mode=mode, start=start, end=end, window_days=settings.window_days)
    if widened:
        progress(f"{name}: {widened}")
    report = ExtractReport()
    plan = ExtractPlan(run_id=run_id, mode=mode, windows=windows, now=now, lookback_days=settings.lookback_days,
                       refresh=ids.refresh, settled=ids.settled,
                       settled_since=now.subtract(days=settings.settle_days) if ids.settled else None,
                       settle=settle, dormant=ids.dormant, dormant_due=ids.dormant_due)
    cuts: list[_Cut] = []
    http: HttpClient | None = None
    try:
        http = HttpClient(name, settings.values["base_url"], headers=spec.auth_headers(settings.secret, settings),
                          secrets=[settings.secret], policy=settings.policy,
                          auth=spec.authenticator(settings) if spec.authenticator is not None else None,
                          **spec.http_options)
        if http.limiter is not None:  # what the provider's previous run sent still counts against its limit
            http.limiter.seed(store.sent_at())
        progress.provider_started(name, http.stats, settings.policy, windows=len(windows),
                                  estimate=estimate.estimate(len(windows), settings.policy,
                                                             past.get(name)))
        run = Extraction(http, plan, report, RawWriter(name, plan, report))
        pipeline = _recovered_pipeline(area, store, progress)
        loads = arrow_chunks(provider_rows(spec, settings, run), settings.max_records_per_load,
                             on_cut=lambda last: cuts.append(_Cut.of(report, last)))
        recorded = 0
        for index in itertools.count(1):
            with _timed(outcome.steps, "extract"):  # pulling the next cut's rows from the provider
                tables = next(loads, None)
            if tables is None:
                break
            cut = cuts[-1]
            interrupt.check()
            failure = _load_tables(pipeline, store, tables, outcome.steps) if tables else None
            interrupt.check()
            # the windows closed before this load was cut have all their rows in it or in earlier loads; once
            # the stream has ended, every window is closed, reported or not
            closing = list(dict.fromkeys(report.closed[recorded:cut.closed]))
            if cut.last:
                closing += [w for w in windows if w not in set(report.closed)]
            with store.connect() as con:
                done, failed = ledger.record(con, name, closing, report, run_id, load_failed=failure)
            recorded = cut.closed
            outcome.windows_done += done
            outcome.windows_failed += failed
            outcome.records, outcome.skipped = cut.records, cut.skipped
            progress.windows_done(name, outcome.windows_done + outcome.windows_failed)
            rows = sum(table.num_rows for _, table in tables)
            progress(f"{name}: load {index} ({rows} rows): {cut.records} records, {cut.skipped} skipped, "
                     f"{http.stats.as_dict()['requests']} requests so far, {done} window(s) done"
                     + (f" - FAILED: {failure}" if failure else ""))
            if failure:
                raise ProviderError(name, f"{name}: {failure}")
    except DiskFull:
        raise  # the whole run stops: every provider writes to the same disk
    except CampaignEtlError as exc:
        outcome.outcome = "failed"
        outcome.message = redact(str(exc))
        outcome.retryable = not isinstance(exc, ProviderAuthError)
        progress(with_provider(name, outcome.message))
    else:
        if mode == "nightly":
            with store.connect() as con:
                ledger.note_settled(con, name, outcome.settled_windows, campaigns=report.settled,
                                    recheck_days=settings.recheck_days)
                since = grid_floor(utc(outcome.range_start or now), settings.window_days)
                earliest = ledger.earliest_unfinished(con, name, since)
                ledger.set_cursor(con, name, min(earliest, now) if earliest else now, run_id)
        if outcome.skipped or outcome.windows_failed:
            outcome.outcome = "partial"
    finally:
        progress.provider_finished(name, outcome.outcome)
        if http is not None:
            outcome.stats = http.stats.as_dict()
            if http.limiter is not None:
                store.note_sent(http.limiter.recent())
            http.close()
        outcome.finished_at = clock.now()


@dataclass(frozen=True)
class _Cut:
    """What the source had reported when a load was cut: windows closed, records and skips so far."""

    closed: int
    records: int
    skipped: int
    last: bool

    @staticmethod
    def of(report: ExtractReport, last: bool) -> _Cut:
        return _Cut(len(report.closed), report.records, report.skipped, last)


def _pipeline(area: WorkArea, store: ProviderStore) -> dlt.Pipeline:
    # the transforms find a load's rows by _dlt_load_id, which dlt adds to Arrow rows only when asked
    os.environ["NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID"] = "true"
    credentials = DuckDbCredentials(str(store.path), global_config=store.duckdb_config)
    return dlt.pipeline(pipeline_name=f"campaign_etl_{store.provider}",
                        destination=dlt.destinations.duckdb(credentials), dataset_name="raw",
                        pipelines_dir=str(area.dlt_dir))


def _load_tables(pipeline: dlt.Pipeline, store: ProviderStore, tables: list[tuple[str, pa.Table]],
                 steps: dict[str, float]) -> str | None:
    """Extract, normalize and load one cut of the stream (Arrow tables, written as parquet) as one dlt package;
    None when it is durably in the provider's store, else the reason it is not (its windows are then failed in
    the ledger and pulled again). ``steps`` adds up the seconds of each step.

    The three steps run one by one rather than through ``pipeline.run``, which, finding a package left by an
    earlier process, would load that one instead and silently skip the extraction of this load. Only the load
    opens the store (under its access lock).
    """
    provider = store.provider
    resource = raw_resource(f"{provider}_extract", [dlt.mark.with_table_name(table, name) for name, table in tables])
    try:
        with _timed(steps, "extract"):
            pipeline.extract(_raw_source(provider, resource), loader_file_format="parquet")
        interrupt.check()
        with _timed(steps, "normalize"):
            pipeline.normalize()
        interrupt.check()
        with _timed(steps, "load"), store.access():
            info = pipeline.load()
    except PipelineStepFailed as exc:
        cause = _root_cause(exc)
        if isinstance(cause, CampaignEtlError):
            raise cause from None  # the source could not go on (credentials refused, an error it does not handle)
        full = disk_error(exc, Path(pipeline.pipelines_dir))
        if full is not None:
            raise full from None
        return f"storing the load failed: {redact(first_line(cause))}"
    if info is not None and info.has_failed_jobs:
        return "a load job into the warehouse failed"
    if pipeline.has_pending_data:
        return "dlt left the package of this load pending"
    return None


def _raw_source(provider: str, resource: Any) -> Any:
    """``resource`` in a dlt source named after the provider: the schema (and its history in the warehouse) keeps
    the provider's name."""

    @dlt.source(name=provider, max_table_nesting=0)
    def raw() -> Any:
        return resource

    return raw()


@contextlib.contextmanager
def _timed(steps: dict[str, float], step: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        steps[step] = steps.get(step, 0.0) + time.monotonic() - started


def _recovered_pipeline(area: WorkArea, store: ProviderStore, progress: Progress) -> dlt.Pipeline:
    """The provider's dlt pipeline, with whatever a killed run left in it settled first.

    * an extraction that never completed (a package under ``normalize/<instance>/``) is deleted: its windows
      are still pending in the ledger and are pulled again;
    * a package dlt was moving to ``load/normalized`` when it was killed (its extracted copy is still there) is
      normalized again from that copy (else re-normalizing it fails with "Directory not empty" forever);
    * a complete package still waiting to be normalized or loaded is finished now, before this run extracts
      anything (its rows are complete pulls, so they count; its windows are pulled again all the same);
    * if that fails, every pending package is discarded and the windows are pulled again.
    Each repair is said in one line.
    """
    name = store.provider
    pipeline = _pipeline(area, store)
    root = Path(pipeline.working_dir)
    normalize_dir = root / "normalize"
    notes: list[str] = []
    if normalize_dir.is_dir():
        unfinished = [p for p in normalize_dir.iterdir() if p.is_dir() and p.name != "extracted"
                      and any(p.iterdir())]
        for folder in normalize_dir.iterdir():
            if folder.is_dir() and folder.name != "extracted":
                shutil.rmtree(folder, ignore_errors=True)
        if unfinished:
            notes.append("deleted an extraction it had not finished")
    loaded = set(pipeline.list_completed_load_packages())
    for load_id in pipeline.list_extracted_load_packages():
        if load_id in loaded:
            shutil.rmtree(normalize_dir / "extracted" / load_id, ignore_errors=True)
            continue
        # dlt deletes the extracted copy only once its normalized package is wholly in load/normalized: while the
        # copy exists, any normalized version of it may be half-moved, so it is normalized again from the copy
        halves = [path for path in (root / "load" / "new" / load_id, root / "load" / "normalized" / load_id)
                  if path.exists()]
        for half in halves:
            shutil.rmtree(half, ignore_errors=True)
        if halves:
            notes.append(f"set aside package {load_id}, which dlt had not finished moving")
    if pipeline.has_pending_data:
        pending = len(pipeline.list_extracted_load_packages()) + len(pipeline.list_normalized_load_packages())
        try:
            pipeline.normalize()
            with store.access():
                pipeline.load()
            if pipeline.has_pending_data:
                raise RuntimeError("packages are still pending after loading them")
            notes.append(f"finished loading {pending} package(s) it left")
        except (PipelineStepFailed, RuntimeError, OSError) as exc:
            full = disk_error(exc, root)
            if full is not None:
                raise full from None
            shutil.rmtree(root, ignore_errors=True)
            pipeline = _pipeline(area, store)
            notes.append(f"discarded {pending} package(s) it left ({redact(first_line(_root_cause(exc)))})")
    if notes:
        progress(f"{name}: repaired what an interrupted run left: {'; '.join(notes)}; "
                 f"its unfinished windows are pulled again")
    return pipeline


def _root_cause(exc: BaseException) -> BaseException:
    seen = set()
    current: BaseException = exc
    while id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, CampaignEtlError):
            return current
        nxt = getattr(current, "exception", None) or current.__cause__ or current.__context__
        if nxt is None:
            break
        current = nxt
    return current

