"""The incremental transform runner: raw -> staging -> intermediate -> marts -> analytics, by replacement scope.

A transform looks at the fetch log rows loaded since the last transform (the watermark is the newest dlt load id
seen), takes their scopes as *dirty*, and rebuilds exactly those scopes from the newest fetch of each: delete the
scope's rows, insert the new ones, a batch of scopes per transaction. A full rebuild marks every scope dirty and
empties the derived tables first; both paths run the same SQL, so they give the same result. ``run_transforms``
runs the steps below in order; each is one small function.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import duckdb

from core.errors import first_line
from transforms.checks import CheckResult
from transforms.dimension import merge_dim_campaign
from transforms.models import (
    SQL_DIR,
    STATEMENT_KINDS,
    VIEW_KINDS,
    SqlModel,
    TransformError,
    load_models,
    needed_inputs,
    run_order,
    runner_sql,
)
from transforms.relations import Watermark, create_inputs, create_raw_unions, input_sources
from transforms.seeds import SEEDS_DIR, load_seeds

# Bumped when the models need every scope rebuilt from raw (a new derived table, for one): the first transform
# of a warehouse whose staging.transform_state says another version ignores the watermark: a full rebuild.
LAYOUT_VERSION = "2"

FACT_COLUMNS = ("provider", "account_id", "campaign_id", "breakdown_type", "breakdown_value", "period_start",
                "period_end", "metric", "value", "unit", "currency", "observed_at", "scope_key")
QUARANTINE_COLUMNS = ("provider", "account_id", "campaign_id", "endpoint", "field", "raw_value", "reason",
                      "observed_at", "scope_key")
# one fact row per key; what a transform changed is counted by comparing the rows of these keys before and after
FACT_KEY = ("provider", "account_id", "campaign_id", "breakdown_type", "breakdown_value", "period_start", "metric")
FACT_TARGET = "staging.fact_rows"
HISTORY_TARGET = "staging.fact_history_rows"
# kinds defined once per transform (views re-bound to each batch's src_* relations), and kinds applied per batch
# of scopes (they read the current rows)
DEFINITION_KINDS = frozenset({"macro", "staging", "intermediate"})
SCOPE_KINDS = frozenset({"batch_table", "fact", "quarantine", "table"})
# staging.transform_state names of the watermarks: one per provider
_WATERMARK_KEY = "last_load_id:"
# raw rows per batch of scopes rebuilt together: a backfill of any size transforms in bounded memory
BATCH_ROWS = 20_000
# the tables a full rebuild empties before it inserts (staging.fact_history_rows is emptied by the history step)
_DERIVED_TABLES = (FACT_TARGET, "analytics.dim_campaign", "analytics.extraction_errors",
                   "analytics.quarantined_values")


@dataclass
class TransformResult:
    full: bool
    dirty_scopes: int
    fact_rows_deleted: int
    fact_rows_inserted: int
    seconds: float
    per_provider_changed: dict[str, int] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)


def run_transforms(con: duckdb.DuckDBPyConnection, *, full: bool = False, sql_dir: Path = SQL_DIR,
                   seeds_dir: Path = SEEDS_DIR) -> TransformResult:
    """Bring ``staging`` and ``analytics`` up to date with ``raw``.

    Each step (and each batch of scopes) is its own transaction, so the memory a transform holds is bounded by a
    batch, not by the backfill. Every step is a replacement (delete a scope's rows, insert them again), and the
    watermark moves only in the last one: a transform cut short anywhere is redone in full by the next, and a full
    rebuild cut short leaves the layout unmarked, so the next transform is a full rebuild again. Nothing reads
    the work file in between: it is published only after a transform completed.
    """
    started = time.monotonic()
    models = load_models(sql_dir)
    con.execute("set TimeZone = 'UTC'")
    con.execute(runner_sql("tables"))
    con.execute(runner_sql("data_quality"))   # read by analytics.provider_freshness before the first checks
    with _transaction(con):
        watermark = read_watermark(con, full=full)
        load_seeds(con, seeds_dir)
        create_raw_unions(con)
        mark_superseded_scopes(con, watermark)
        dirty = mark_dirty_scopes(con, watermark)
        choose_current_fetches(con)
        sources = input_sources(con, needed_inputs(models))
        load_id = newest_fetch_load_id(con)
        if watermark.full:
            clear_derived_tables(con)
        create_inputs(con, sources, "no_fetches", watermark, with_new=False)
        apply_models(con, models, load_id, kinds=DEFINITION_KINDS)

    def current_batch() -> tuple[int, int, dict[str, int]]:
        create_inputs(con, sources, "current_batch", watermark, with_new=False)
        narrow_provider_models(con, models, "current_batch")
        removed = delete_batch_rows(con, "current_batch", full=watermark.full)
        added = apply_models(con, models, load_id, kinds=SCOPE_KINDS)
        return removed, added, changed_fact_rows(con, "current_batch")

    inserted = deleted = 0
    changed: Counter[str] = Counter()
    for removed, added, per_provider in in_batches(con, "current_fetches", "current_batch", current_batch):
        deleted += removed
        inserted += added
        changed.update(per_provider)
    with _transaction(con):
        deleted += delete_unfetched_dirty_rows(con, changed)
        create_inputs(con, dim_sources(models, sources), "no_fetches", watermark, with_new=True)
        apply_models(con, models, load_id, kinds={"dim"})
        merge_dim_campaign(con, [m for m in models if m.kind == "dim"])
        apply_models(con, models, load_id, kinds={"view"})
        comment_analytics(con)
    rebuild_history(con, models, sources, watermark, load_id)
    with _transaction(con):
        insert_errors(con, watermark)
        advance_watermark(con)
    return TransformResult(full=watermark.full, dirty_scopes=dirty, fact_rows_deleted=deleted,
                           fact_rows_inserted=inserted, seconds=time.monotonic() - started,
                           per_provider_changed=dict(changed))


def comment_analytics(con: duckdb.DuckDBPyConnection) -> None:
    """The analytics catalog's comments on every relation and column (recreated views lose theirs)."""
    from transforms.catalog import apply_comments  # here: `python -m transforms.catalog` imports this package

    apply_comments(con)


@contextlib.contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.execute("begin transaction")
    try:
        yield
        con.execute("commit")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")
        raise


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def read_watermark(con: duckdb.DuckDBPyConnection, *, full: bool) -> Watermark:
    """Per provider, the newest load id the last transform saw; a full rebuild when asked, on the first transform,
    or when the warehouse was last transformed by models of another LAYOUT_VERSION."""
    state = dict(con.execute("select name, value from staging.transform_state").fetchall())
    if full or state.get("layout_version") != LAYOUT_VERSION:
        return Watermark(full=True)
    loads = {name.removeprefix(_WATERMARK_KEY): value for name, value in state.items()
             if name.startswith(_WATERMARK_KEY)}
    return Watermark(loads=loads, default=state.get("last_load_id"))


def mark_superseded_scopes(con: duckdb.DuckDBPyConnection, watermark: Watermark) -> None:
    """Temp table ``superseded``: window scopes replaced by a newer pull of an overlapping window of another scope.

    Scopes of one grid never overlap, so this only happens after ``window_days`` changed: the planner then pulls
    whole new cells over the old ones, and an old cell's scope (say the week of Monday) must stop counting once
    a newer pull of the same provider, account and endpoint covers part of it (the days of that week), or the
    period sums would count those days twice. A superseded scope is rebuilt as empty.
    """
    con.execute(f"""create or replace temp table superseded as
        with latest as (
            select provider, account_id, endpoint, scope_key, window_start, window_end, fetched_at
            from all_fetches where window_start is not null
            qualify row_number() over (partition by scope_key order by fetched_at desc, fetch_id desc) = 1
        ),
        newer as (
            select provider, account_id, endpoint, scope_key, window_start, window_end, fetched_at
            from all_fetches where window_start is not null and {watermark.is_new('_dlt_load_id')}
        )
        select distinct o.scope_key
        from latest as o
        join newer as n
          on n.provider = o.provider and n.account_id = o.account_id and n.endpoint = o.endpoint
         and n.scope_key <> o.scope_key and n.fetched_at > o.fetched_at
         and n.window_start < o.window_end and o.window_start < n.window_end""")


def mark_dirty_scopes(con: duckdb.DuckDBPyConnection, watermark: Watermark) -> int:
    """Temp table ``dirty_scopes``: the scopes of the fetches loaded since the watermark, and the superseded ones."""
    con.execute(f"""create or replace temp table dirty_scopes as
        select distinct scope_key from all_fetches where {watermark.is_new('_dlt_load_id')}
        union select scope_key from superseded""")
    return _count(con, "select count(*) from dirty_scopes")


def choose_current_fetches(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table ``current_fetches``: the newest fetch of every dirty scope that is not superseded."""
    con.execute("""create or replace temp table current_fetches as
        select * from all_fetches
        where scope_key in (select scope_key from dirty_scopes)
          and scope_key not in (select scope_key from superseded)
        qualify row_number() over (partition by scope_key order by fetched_at desc, fetch_id desc) = 1""")


def clear_derived_tables(con: duckdb.DuckDBPyConnection) -> None:
    """A full rebuild starts from empty derived tables (the history step empties its own), and unmarks the
    layout until it completes: a full rebuild cut short is followed by another."""
    for table in _DERIVED_TABLES:
        con.execute(f"delete from {table}")
    con.execute("delete from staging.transform_state where name = 'layout_version'")


T = TypeVar("T")


def in_batches(con: duckdb.DuckDBPyConnection, fetches: str, batch: str, step: Callable[[], T]) -> list[T]:
    """Run ``step`` once per batch of ``fetches`` (about ``BATCH_ROWS`` raw rows each, by their fetch logs'
    ``records``), each in its own transaction with temp table ``batch`` holding that batch's fetches: the scopes
    rebuilt together. A batch DuckDB cannot fit in its memory limit (rows far larger than usual) is rolled back
    and redone in halves, down to one fetch, so the memory limit bounds a transform without failing it. Returns
    the committed steps' results, in order; a step always runs at least once (on an empty batch when there
    is nothing to rebuild), so the per-batch table models create their tables."""
    con.execute(f"""create or replace temp table batched_fetches as
        select *,
            cast(floor(sum(coalesce(records, 0) + 1) over (order by scope_key, fetch_id rows unbounded preceding)
                       / ?) as bigint) as batch,
            row_number() over (order by scope_key, fetch_id) as batch_rank
        from {fetches}""", [BATCH_ROWS])
    spans = con.execute("select min(batch_rank), max(batch_rank) from batched_fetches group by batch "
                        "order by 1").fetchall() or [(0, -1)]
    results: list[T] = []
    pending = [(int(lo), int(hi)) for lo, hi in reversed(spans)]
    while pending:
        lo, hi = pending.pop()
        con.execute(f"create or replace temp table {batch} as select * exclude (batch, batch_rank) "
                    f"from batched_fetches where batch_rank between ? and ?", [lo, hi])
        try:
            with _transaction(con):
                result = step()
        except (duckdb.OutOfMemoryException, TransformError) as exc:
            out_of_memory = isinstance(exc, duckdb.OutOfMemoryException) or isinstance(
                exc.__cause__, duckdb.OutOfMemoryException)
            if not out_of_memory or hi <= lo:
                raise
            middle = (lo + hi) // 2
            pending += [(middle + 1, hi), (lo, middle)]   # the first half next, then the second
            continue
        results.append(result)
    return results


def delete_batch_rows(con: duckdb.DuckDBPyConnection, batch: str, *, full: bool) -> int:
    """Keep the batch's scopes' fact rows as temp table ``old_fact_rows``, then delete their fact and quarantine
    rows, which the models rebuild (nothing to delete on a full rebuild). Returns the fact rows deleted."""
    key = ", ".join(FACT_KEY)
    scopes = f"(select scope_key from {batch})"
    con.execute(f"""create or replace temp table old_fact_rows as select {key}, value, unit, currency
        from {FACT_TARGET} where scope_key in {scopes}""")
    if full:
        return 0
    con.execute(f"delete from {FACT_TARGET} where scope_key in {scopes}")
    con.execute(f"delete from analytics.quarantined_values where scope_key in {scopes}")
    return _count(con, "select count(*) from old_fact_rows")


def delete_unfetched_dirty_rows(con: duckdb.DuckDBPyConnection, changed: Counter[str]) -> int:
    """The rows of dirty scopes no current fetch rebuilds (superseded window scopes): removed, and counted as
    changed. Returns the fact rows deleted."""
    scopes = "(select scope_key from dirty_scopes where scope_key not in (select scope_key from current_fetches))"
    removed = con.execute(f"select provider, count(*) from {FACT_TARGET} where scope_key in {scopes} "
                          f"group by all").fetchall()
    con.execute(f"delete from {FACT_TARGET} where scope_key in {scopes}")
    con.execute(f"delete from analytics.quarantined_values where scope_key in {scopes}")
    changed.update({str(provider): int(count) for provider, count in removed})
    return sum(int(count) for _, count in removed)


def dim_sources(models: list[SqlModel], sources: dict[str, str]) -> dict[str, str]:
    """The raw tables the dimension models read (through their staging views, or as their own inputs): the only
    ones the dimension pass needs the new rows of."""
    staging = {m.name: m.inputs for m in models if m.kind == "staging"}
    dims = [m for m in models if m.kind == "dim"]
    read = {name for m in dims for name in staging if re.search(rf"\b{name}\b", m.body)}
    tables = {table for name in read for table in staging[name]} | {table for m in dims for table in m.inputs}
    return {table: source for table, source in sources.items() if table in tables}


def newest_fetch_load_id(con: duckdb.DuckDBPyConnection) -> str | None:
    """The newest load id of the fetch log, stamped on the fact rows this transform inserts."""
    row = con.execute("select max(_dlt_load_id) from all_fetches").fetchone()
    return None if row is None or row[0] is None else str(row[0])


def provider_of(model: SqlModel) -> str | None:
    """The provider of a per-provider model (``20_intermediate/by_provider/int_<provider>__<name>.sql``), else None."""
    if model.path.parent.name != "by_provider" or "__" not in model.name:
        return None
    return model.name.split("__", 1)[0].removeprefix("int_")


def narrow_provider_models(con: duckdb.DuckDBPyConnection, models: list[SqlModel], batch: str) -> None:
    """Re-create the per-provider views for ``batch``: a provider with no fetch in it gets its view with no rows
    (``where false``: the same columns, and DuckDB stops planning it early), so the metric-value model that
    unions every provider's fields costs a batch of one provider about half of what it costs all five. Planning
    that model is most of a small batch's time; the present providers' views are the models as written."""
    present = {str(p) for (p,) in con.execute(f"select distinct provider from {batch}").fetchall()}
    for model in models:
        provider = provider_of(model)
        if provider is None:
            continue
        if provider not in present:
            model = dataclasses.replace(model, sql=f"select * from (\n{model.body}\n) where false")
        apply_model(con, model, None)   # an intermediate model: its temp view, as any pass creates it


def apply_models(con: duckdb.DuckDBPyConnection, models: list[SqlModel], load_id: str | None, *,
                 kinds: frozenset[str] | set[str]) -> int:
    """Apply the models of ``kinds`` in run order; returns the fact rows inserted."""
    return sum(apply_model(con, model, load_id) for model in sorted(models, key=run_order) if model.kind in kinds)


def apply_model(con: duckdb.DuckDBPyConnection, model: SqlModel, load_id: str | None) -> int:
    """Apply one model (docs/architecture.md has the kinds); returns the fact rows it inserted."""
    try:
        if model.kind in STATEMENT_KINDS:
            con.execute(model.sql)
        elif model.kind == "batch_table":
            con.execute(f'create or replace temp table "{model.name}" as\n{model.body}')
        elif model.kind in VIEW_KINDS:
            # a temp view of the file's name, re-bound on every query: the history pass, which replaces the src_*
            # relations with the rows of other fetches, reads it afresh
            con.execute(f'create or replace temp view "{model.name}" as\n{model.body}')
            if model.kind == "fact":
                return insert_facts(con, model, FACT_TARGET, load_id)
            if model.kind == "quarantine":
                columns = ", ".join(QUARANTINE_COLUMNS)
                con.execute(f"insert into analytics.quarantined_values ({columns}) "
                            f'select {columns} from "{model.name}"')
        # a check runs in run_checks, after the run log is written; a dim view is read by merge_dim_campaign
    except duckdb.Error as exc:
        raise TransformError(f"transform {model.label} failed: {first_line(exc)}") from exc
    return 0


def insert_facts(con: duckdb.DuckDBPyConnection, model: SqlModel, target: str, load_id: str | None) -> int:
    """Insert the rows of fact model ``model`` (its temp view) into ``target``; returns the rows inserted."""
    columns = ", ".join(FACT_COLUMNS)
    history = target == HISTORY_TARGET
    extra, value = (", observed_date", ", cast(observed_at as date)") if history else ("", "")
    row = con.execute(f"""insert into {target} ({columns}, load_id{extra})
        select {columns}, ?{value} from "{model.name}" """, [load_id]).fetchone()
    return int(row[0]) if row else 0


def insert_errors(con: duckdb.DuckDBPyConnection, watermark: Watermark) -> None:
    """The error rows loaded since the watermark -> ``analytics.extraction_errors`` (each once)."""
    con.execute(f"""insert into analytics.extraction_errors (provider, account_id, campaign_id, endpoint, http_status,
            reason, run_id, observed_at, window_start, window_end, load_id, error_code)
        select provider, account_id, campaign_id, endpoint, cast(http_status as integer), reason, run_id,
               cast(observed_at as timestamp), cast(window_start as timestamp), cast(window_end as timestamp),
               _dlt_load_id, error_code
        from all_errors where {watermark.is_new('_dlt_load_id')}""")


def advance_watermark(con: duckdb.DuckDBPyConnection) -> None:
    """Save each provider's newest load id of its fetch log and error table, and the layout the rows were built
    by (the one watermark of older warehouses is replaced by one per provider)."""
    rows = con.execute("""select provider, max(try_cast(_dlt_load_id as double)) from (
        select provider, _dlt_load_id from all_fetches union all select provider, _dlt_load_id from all_errors)
        where provider is not null group by all""").fetchall()
    for provider, load_id in rows:
        if load_id is not None:
            con.execute("insert or replace into staging.transform_state values (?, ?)",
                        [f"{_WATERMARK_KEY}{provider}", repr(load_id)])
    if rows:
        con.execute("delete from staging.transform_state where name = 'last_load_id'")
    con.execute("insert or replace into staging.transform_state values ('layout_version', ?)", [LAYOUT_VERSION])


def changed_fact_rows(con: duckdb.DuckDBPyConnection, batch: str) -> dict[str, int]:
    """Per provider, the fact rows of the batch's scopes inserted, removed or changed (value, unit or currency)."""
    key = ", ".join(FACT_KEY)
    join_on = " and ".join(f"n.{c} is not distinct from o.{c}" for c in FACT_KEY)
    rows = con.execute(f"""
        with new_rows as (select {key}, value, unit, currency from {FACT_TARGET}
                          where scope_key in (select scope_key from {batch}))
        select coalesce(n.provider, o.provider) as provider, count(*)
        from new_rows n full outer join old_fact_rows o on {join_on}
        where n.provider is null or o.provider is null or n.value is distinct from o.value
           or n.unit is distinct from o.unit or n.currency is distinct from o.currency
        group by all""").fetchall()
    return {str(provider): int(count) for provider, count in rows}


def rebuild_history(con: duckdb.DuckDBPyConnection, models: list[SqlModel], sources: dict[str, str],
                    watermark: Watermark, load_id: str | None) -> None:
    """One row per fact key per observed UTC day: the fact models re-run over the last fetch of each
    (scope, day) that new loads touched, replacing those (scope, day) pairs in ``staging.fact_history_rows``."""
    with _transaction(con):
        con.execute(f"""create or replace temp table history_pairs as
            select distinct scope_key, cast(fetched_at as date) as observed_date from all_fetches
            where {watermark.is_new('_dlt_load_id')}""")
        con.execute("""create or replace temp table history_fetches as
            select f.* from all_fetches f
            join history_pairs p on p.scope_key = f.scope_key and p.observed_date = cast(f.fetched_at as date)
            qualify row_number() over (partition by f.scope_key, cast(f.fetched_at as date)
                                       order by f.fetched_at desc, f.fetch_id desc) = 1""")
        if watermark.full:
            con.execute(f"delete from {HISTORY_TARGET}")
        else:
            con.execute(f"""delete from {HISTORY_TARGET} h using history_pairs p
                            where h.scope_key = p.scope_key and h.observed_date = p.observed_date""")
        copy_current_history(con, load_id)

    def history_batch() -> None:
        create_inputs(con, sources, "history_batch", watermark, with_new=False)
        narrow_provider_models(con, models, "history_batch")
        apply_models(con, models, load_id, kinds={"batch_table"})
        for model in models:
            if model.kind != "fact":
                continue
            try:
                insert_facts(con, model, HISTORY_TARGET, load_id)
            except duckdb.Error as exc:
                raise TransformError(f"history of {model.label} failed: {first_line(exc)}") from exc

    # a nightly's or a backfill's history is usually all copied: then there is nothing to build (planning the
    # metric-value model alone takes a few tenths of a second, rows or not)
    if _count(con, "select count(*) from history_fetches"):
        in_batches(con, "history_fetches", "history_batch", history_batch)


def copy_current_history(con: duckdb.DuckDBPyConnection, load_id: str | None) -> None:
    """The history rows of every (scope, day) whose last fetch is the scope's current fetch, copied from the fact
    rows this transform just built from that same fetch (the fact models read nothing but the fetch's own rows,
    so running them again would give the same rows), and those fetches taken out of ``history_fetches``: only
    the older days of a scope are built again. A backfill's history is then a copy of its fact."""
    con.execute("""create or replace temp table history_copied as
        select h.scope_key, h.fetch_id from history_fetches h
        join current_fetches c on c.scope_key = h.scope_key and c.fetch_id = h.fetch_id""")
    columns = ", ".join(FACT_COLUMNS)
    con.execute(f"""insert into {HISTORY_TARGET} ({columns}, load_id, observed_date)
        select {columns}, ?, cast(observed_at as date) from {FACT_TARGET}
        where scope_key in (select scope_key from history_copied)""", [load_id])
    con.execute("""delete from history_fetches h using history_copied c
        where h.scope_key = c.scope_key and h.fetch_id = c.fetch_id""")
