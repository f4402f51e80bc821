"""The SQL transform runner: raw -> staging -> analytics, incremental by replacement scope.

Files under ``transforms/sql`` run in path order; their first line says how (see docs/architecture.md):
``macro``, ``view``, ``table`` files are executed as written; ``fact``, ``dim`` and ``quarantine`` files are
``select`` statements over ``cur_<raw table>`` / ``new_<raw table>`` relations that this runner prepares.

Incremental rule: a transform looks at the fetch log rows loaded since the last transform (the watermark is the
newest dlt load id seen), takes their scopes as *dirty*, and rebuilds exactly those scopes from the newest fetch
of each: delete the scope's rows, insert the new ones, in one transaction. A full rebuild marks every scope
dirty and empties the derived tables first; both paths run the same SQL, so they give the same result.
"""

from __future__ import annotations

import csv
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from core.errors import CampaignEtlError, first_line

log = logging.getLogger("campaign_etl.transforms")

SQL_DIR = Path(__file__).parent / "sql"
SEEDS_DIR = Path(__file__).parent / "seeds"

LINEAGE_COLUMNS = (
    ("provider", "varchar"), ("account_id", "varchar"), ("campaign_id", "varchar"), ("endpoint", "varchar"),
    ("window_start", "timestamptz"), ("window_end", "timestamptz"), ("request_params", "json"),
    ("fetched_at", "timestamptz"), ("run_id", "varchar"), ("fetch_id", "varchar"), ("scope_key", "varchar"),
    ("payload", "json"), ("_dlt_load_id", "varchar"),
)
FETCH_COLUMNS = ("provider", "account_id", "campaign_id", "endpoint", "window_start", "window_end", "scope_key",
                 "fetch_id", "fetched_at", "run_id", "records", "_dlt_load_id")
ERROR_COLUMNS = ("provider", "account_id", "campaign_id", "endpoint", "window_start", "window_end", "http_status",
                 "reason", "run_id", "observed_at", "_dlt_load_id")
FACT_COLUMNS = ("provider", "account_id", "campaign_id", "breakdown_type", "breakdown_value", "period_start",
                "period_end", "metric", "value", "unit", "currency", "observed_at", "scope_key")
DIM_COLUMNS = ("provider", "account_id", "campaign_id", "campaign_name", "channel", "status", "started_at",
               "finished_at", "scheduled_at", "details", "observed_at")
QUARANTINE_COLUMNS = ("provider", "account_id", "campaign_id", "endpoint", "field", "raw_value", "reason",
                      "observed_at", "scope_key")

_HEADER_RE = re.compile(r"^--\s*materialize:\s*(\w+)", re.MULTILINE)
_INPUTS_RE = re.compile(r"^--\s*inputs:\s*(.+)$", re.MULTILINE)

BASE_DDL = """
create schema if not exists raw;
create schema if not exists staging;
create schema if not exists analytics;
create table if not exists staging.transform_state (name varchar primary key, value varchar);
create table if not exists staging.fact_rows (
    provider varchar, account_id varchar, campaign_id varchar, breakdown_type varchar, breakdown_value varchar,
    period_start timestamp, period_end timestamp, metric varchar, value double, unit varchar, currency varchar,
    observed_at timestamp, scope_key varchar, load_id varchar
);
create table if not exists staging.fact_history_rows (
    provider varchar, account_id varchar, campaign_id varchar, breakdown_type varchar, breakdown_value varchar,
    period_start timestamp, period_end timestamp, metric varchar, value double, unit varchar, currency varchar,
    observed_at timestamp, scope_key varchar, load_id varchar, observed_date date
);
create table if not exists analytics.dim_campaign (
    provider varchar, account_id varchar, campaign_id varchar, campaign_name varchar, channel varchar,
    status varchar, started_at timestamp, finished_at timestamp, scheduled_at timestamp, details json,
    first_seen_at timestamp, last_seen_at timestamp
);
create table if not exists analytics.extraction_errors (
    provider varchar, account_id varchar, campaign_id varchar, endpoint varchar, http_status integer,
    reason varchar, run_id varchar, observed_at timestamp, window_start timestamp, window_end timestamp,
    load_id varchar
);
create table if not exists analytics.quarantined_values (
    provider varchar, account_id varchar, campaign_id varchar, endpoint varchar, field varchar,
    raw_value varchar, reason varchar, observed_at timestamp, scope_key varchar
);
"""


@dataclass
class SqlModel:
    path: Path
    name: str
    kind: str
    inputs: list[str]
    sql: str


@dataclass
class CheckResult:
    check_name: str
    provider: str
    severity: str
    status: str            # pass, warn, fail, error
    failing_rows: int
    detail: str | None


@dataclass
class TransformResult:
    full: bool
    dirty_scopes: int
    fact_rows_deleted: int
    fact_rows_inserted: int
    seconds: float
    per_provider_changed: dict[str, int] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)


def load_models(sql_dir: Path = SQL_DIR) -> list[SqlModel]:
    models = []
    for path in sorted(sql_dir.rglob("*.sql")):
        text = path.read_text()
        header = _HEADER_RE.search(text.split("\n", 1)[0])
        if not header:
            raise ValueError(f"{path.name}: the first line must be '-- materialize: <kind>'")
        inputs_match = _INPUTS_RE.search(text)
        inputs = [i.strip() for i in inputs_match.group(1).split(",") if i.strip()] if inputs_match else []
        models.append(SqlModel(path, path.stem, header.group(1), inputs, text))
    return models


def _raw_tables(con: duckdb.DuckDBPyConnection, suffix: str | None = None) -> list[str]:
    rows = con.execute("select table_name from information_schema.tables where table_schema = 'raw' "
                       "and table_name not like '\\_dlt%' escape '\\'").fetchall()
    names = sorted(r[0] for r in rows)
    return [n for n in names if suffix is None or n.endswith(suffix)]


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute("select column_name from information_schema.columns where table_schema = 'raw' "
                       "and table_name = ?", [table]).fetchall()
    return {r[0] for r in rows}


def _select_list(con: duckdb.DuckDBPyConnection, table: str, wanted: tuple[str, ...],
                 types: dict[str, str]) -> str:
    have = _columns(con, table)
    parts = []
    for column in wanted:
        if column in have:
            parts.append(f'"{column}"')
        else:
            parts.append(f"cast(null as {types.get(column, 'varchar')}) as \"{column}\"")
    return ", ".join(parts)


_TYPES = dict(LINEAGE_COLUMNS) | {"records": "bigint", "http_status": "bigint", "reason": "varchar",
                                  "observed_at": "timestamptz"}


def _union(con: duckdb.DuckDBPyConnection, suffix: str, columns: tuple[str, ...]) -> str:
    tables = _raw_tables(con, suffix)
    if not tables:
        cols = ", ".join(f"cast(null as {_TYPES.get(c, 'varchar')}) as \"{c}\"" for c in columns)
        return f"select {cols} where false"
    return " union all ".join(f"select {_select_list(con, t, columns, _TYPES)} from raw.\"{t}\"" for t in tables)


def run_transforms(con: duckdb.DuckDBPyConnection, *, full: bool = False, sql_dir: Path = SQL_DIR,
                   seeds_dir: Path = SEEDS_DIR) -> TransformResult:
    """Bring ``staging`` and ``analytics`` up to date with ``raw``; one transaction, all or nothing."""
    started = time.monotonic()
    models = load_models(sql_dir)
    con.execute("set TimeZone = 'UTC'")
    con.execute(BASE_DDL)
    con.execute("begin transaction")
    try:
        result = _run(con, models, full=full, seeds_dir=seeds_dir)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    result.seconds = time.monotonic() - started
    return result


def _run(con: duckdb.DuckDBPyConnection, models: list[SqlModel], *, full: bool, seeds_dir: Path) -> TransformResult:
    row = con.execute("select value from staging.transform_state where name = 'last_load_id'").fetchone()
    watermark = None if (full or row is None) else row[0]
    # The string comparison lets DuckDB skip old row groups by their min/max (dlt load ids are epoch seconds with the
    # same number of integer digits, so they sort as strings); the numeric one is the exact test.
    load_filter = "true" if watermark is None else (
        f"_dlt_load_id >= '{int(float(watermark))}' and try_cast(_dlt_load_id as double) > {float(watermark)}")
    full = watermark is None

    _load_seeds(con, seeds_dir)
    con.execute(f"create or replace temp view all_fetches as {_union(con, '_fetches', FETCH_COLUMNS)}")
    con.execute(f"create or replace temp view all_errors as {_union(con, '_errors', ERROR_COLUMNS)}")
    _superseded(con, load_filter)
    con.execute(f"""create or replace temp table dirty_scopes as
        select distinct scope_key from all_fetches where {load_filter}
        union select scope_key from superseded""")
    con.execute("""create or replace temp table cur_fetches as
        select * from all_fetches
        where scope_key in (select scope_key from dirty_scopes)
          and scope_key not in (select scope_key from superseded)
        qualify row_number() over (partition by scope_key order by fetched_at desc, fetch_id desc) = 1""")
    dirty = con.execute("select count(*) from dirty_scopes").fetchone()[0]

    needed = sorted({i for m in models for i in m.inputs})
    sources = _input_sources(con, needed)
    _rows_of_fetches(con, sources, "cur_fetches")
    for table, source in sources.items():
        con.execute(f"""create or replace temp table "new_{table}" as
            select * from ({source}) where {load_filter.replace('_dlt_load_id', '"_dlt_load_id"')}""")

    key = "provider, account_id, campaign_id, breakdown_type, breakdown_value, period_start, metric"
    con.execute(f"""create or replace temp table old_rows as select {key}, value, unit, currency
        from staging.fact_rows where scope_key in (select scope_key from dirty_scopes)""")
    if full:
        con.execute("delete from staging.fact_rows")
        con.execute("delete from analytics.dim_campaign")
        con.execute("delete from analytics.extraction_errors")
        con.execute("delete from analytics.quarantined_values")
        deleted = con.execute("select count(*) from old_rows").fetchone()[0]
    else:
        deleted = con.execute("""select count(*) from staging.fact_rows
                                 where scope_key in (select scope_key from dirty_scopes)""").fetchone()[0]
        con.execute("delete from staging.fact_rows where scope_key in (select scope_key from dirty_scopes)")
        con.execute("delete from analytics.quarantined_values where scope_key in (select scope_key from dirty_scopes)")

    load_id = con.execute("select max(_dlt_load_id) from all_fetches").fetchone()[0]
    inserted = 0
    dim_parts: list[str] = []
    for model in sorted(models, key=_run_order):
        try:
            inserted += _apply(con, model, load_id, dim_parts, "staging.fact_rows")
        except duckdb.Error as exc:
            raise TransformError(f"transform {model.path.parent.name}/{model.path.name} failed: "
                                 f"{first_line(exc)}") from exc
    if dim_parts:
        try:
            _merge_dim(con, " union all ".join(dim_parts))
        except duckdb.Error as exc:
            raise TransformError(f"transform of dim_campaign failed: {first_line(exc)}") from exc
    con.execute(f"""insert into analytics.extraction_errors
        select provider, account_id, campaign_id, endpoint, cast(http_status as integer), reason, run_id,
               cast(observed_at as timestamp), cast(window_start as timestamp), cast(window_end as timestamp),
               _dlt_load_id
        from all_errors where {load_filter}""")
    newest = con.execute("""select max(try_cast(_dlt_load_id as double)) from (
        select _dlt_load_id from all_fetches union all select _dlt_load_id from all_errors)""").fetchone()[0]
    if newest is not None:
        con.execute("insert or replace into staging.transform_state values ('last_load_id', ?)", [repr(newest)])
    join_on = " and ".join(f"n.{c.strip()} is not distinct from o.{c.strip()}" for c in key.split(","))
    changed = dict(con.execute(f"""
        with new_rows as (select {key}, value, unit, currency from staging.fact_rows
                          where scope_key in (select scope_key from dirty_scopes))
        select coalesce(n.provider, o.provider) as provider, count(*)
        from new_rows n full outer join old_rows o on {join_on}
        where n.provider is null or o.provider is null or n.value is distinct from o.value
           or n.unit is distinct from o.unit or n.currency is distinct from o.currency
        group by all""").fetchall())
    _history(con, models, sources, load_filter=load_filter, full=full, load_id=load_id)
    return TransformResult(full=full, dirty_scopes=dirty, fact_rows_deleted=deleted, fact_rows_inserted=inserted,
                           seconds=0.0, per_provider_changed=changed)


def _superseded(con: duckdb.DuckDBPyConnection, load_filter: str) -> None:
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
            from all_fetches where window_start is not null and {load_filter}
        )
        select distinct o.scope_key
        from latest as o
        join newer as n
          on n.provider = o.provider and n.account_id = o.account_id and n.endpoint = o.endpoint
         and n.scope_key <> o.scope_key and n.fetched_at > o.fetched_at
         and n.window_start < o.window_end and o.window_start < n.window_end""")


def _input_sources(con: duckdb.DuckDBPyConnection, needed: list[str]) -> dict[str, str]:
    """For each model input, a select of its raw table with the lineage columns (empty if not loaded yet)."""
    existing = set(_raw_tables(con))
    lineage = tuple(c for c, _ in LINEAGE_COLUMNS)
    sources: dict[str, str] = {}
    for table in needed:
        if table in existing:
            cols = _select_list(con, table, lineage, _TYPES)
            extra = _columns(con, table) - set(lineage)
            extra_sql = "".join(f', "{c}"' for c in sorted(extra) if not c.startswith("_dlt"))
            sources[table] = f"select {cols}{extra_sql} from raw.\"{table}\""
        else:
            cols = ", ".join(f"cast(null as {t}) as \"{c}\"" for c, t in LINEAGE_COLUMNS)
            sources[table] = f"select {cols} where false"
    return sources


def _rows_of_fetches(con: duckdb.DuckDBPyConnection, sources: dict[str, str], fetches: str) -> None:
    """``cur_<input>``: the raw rows of the fetches listed in temp table ``fetches``. Row groups loaded before the
    oldest of those fetches are skipped by the string bound (load ids sort as strings); the join is the exact test."""
    oldest = con.execute(f"select coalesce(min(_dlt_load_id), '') from {fetches}").fetchone()[0]
    for table, source in sources.items():
        con.execute(f"""create or replace temp table "cur_{table}" as
            select * from ({source})
            where "_dlt_load_id" >= ? and fetch_id in (select fetch_id from {fetches})""", [oldest])


def _history(con: duckdb.DuckDBPyConnection, models: list[SqlModel], sources: dict[str, str], *,
             load_filter: str, full: bool, load_id: str | None) -> None:
    """One row per fact key per observed UTC day: the fact models re-run over the last fetch of each
    (scope, day) that new loads touched, replacing those (scope, day) pairs in ``staging.fact_history_rows``."""
    con.execute(f"""create or replace temp table hist_pairs as
        select distinct scope_key, cast(fetched_at as date) as observed_date from all_fetches where {load_filter}""")
    con.execute("""create or replace temp table hist_fetches as
        select f.* from all_fetches f
        join hist_pairs p on p.scope_key = f.scope_key and p.observed_date = cast(f.fetched_at as date)
        qualify row_number() over (partition by f.scope_key, cast(f.fetched_at as date)
                                   order by f.fetched_at desc, f.fetch_id desc) = 1""")
    _rows_of_fetches(con, sources, "hist_fetches")
    if full:
        con.execute("delete from staging.fact_history_rows")
    else:
        con.execute("""delete from staging.fact_history_rows h using hist_pairs p
                       where h.scope_key = p.scope_key and h.observed_date = p.observed_date""")
    for model in models:
        if model.kind != "fact":
            continue
        try:
            _apply(con, model, load_id, [], "staging.fact_history_rows")
        except duckdb.Error as exc:
            raise TransformError(f"history of {model.path.parent.name}/{model.path.name} failed: "
                                 f"{first_line(exc)}") from exc


DQ_DDL = """
create table if not exists analytics.data_quality (
    check_name varchar, provider varchar, severity varchar, status varchar, failing_rows bigint,
    detail varchar, run_id varchar, checked_at timestamp
)
"""
_SEVERITY_RE = re.compile(r"^--\s*severity:\s*(fail|warn)", re.MULTILINE)


def run_checks(con: duckdb.DuckDBPyConnection, *, run_id: str | None = None, freshness_hours: float = 26.0,
               sql_dir: Path = SQL_DIR) -> list[CheckResult]:
    """Run every ``check`` model; results replace ``analytics.data_quality``. A check never raises: a check
    that cannot run is reported with status ``error``. One row per check and provider with facts or runs."""
    con.execute(DQ_DDL)
    con.execute(f"set variable freshness_hours = {float(freshness_hours)}")
    providers = [r[0] for r in con.execute("""
        select provider from staging.fact_rows union select provider from analytics.load_runs
        order by 1""").fetchall()]
    results: list[CheckResult] = []
    for model in load_models(sql_dir):
        if model.kind != "check":
            continue
        severity_match = _SEVERITY_RE.search(model.sql)
        severity = severity_match.group(1) if severity_match else "fail"
        try:
            rows = con.execute(f"select provider, detail from ({_strip_comments(model.sql)})").fetchall()
        except duckdb.Error as exc:
            results.append(CheckResult(model.name, "*", severity, "error", 0,
                                       first_line(exc)[:500]))
            continue
        failing: dict[str, list[str]] = {}
        for provider, detail in rows:
            failing.setdefault(str(provider), []).append(str(detail))
        for provider in sorted(set(providers) | set(failing)):
            details = failing.get(provider, [])
            status = "pass" if not details else severity
            sample = "; ".join(details[:3]) + (f" (+{len(details) - 3} more)" if len(details) > 3 else "")
            results.append(CheckResult(model.name, provider, severity, status, len(details), sample or None))
    con.execute("delete from analytics.data_quality")
    if results:
        con.executemany("insert into analytics.data_quality values (?, ?, ?, ?, ?, ?, ?, "
                        "cast(now() at time zone 'UTC' as timestamp))",
                        [(r.check_name, r.provider, r.severity, r.status, r.failing_rows, r.detail, run_id)
                         for r in results])
    return results


class TransformError(CampaignEtlError):
    """A SQL model failed; the message names the file. The transaction is rolled back."""


# Macros first, then the intermediate relations the other models select from; the rest in path order.
_KIND_ORDER = {"macro": 0, "intermediate": 1}


def _run_order(model: SqlModel) -> tuple[int, str]:
    return _KIND_ORDER.get(model.kind, 2), str(model.path)


def _apply(con: duckdb.DuckDBPyConnection, model: SqlModel, load_id: str | None, dim_parts: list[str],
           fact_target: str) -> int:
    """Apply one model; returns the fact rows it inserted."""
    if model.kind in ("macro", "view", "table"):
        con.execute(model.sql)
    elif model.kind == "intermediate":
        # a temp view over the cur_/new_ relations: re-bound on every query, so the history pass, which
        # replaces cur_* with the rows of other fetches, reads it afresh
        con.execute(f'create or replace temp view "{model.name}" as {_strip_comments(model.sql)}')
    elif model.kind == "fact":
        cols = ", ".join(FACT_COLUMNS)
        extra = ", observed_date" if fact_target.endswith("history_rows") else ""
        value = ", cast(observed_at as date)" if extra else ""
        count = con.execute(f"""insert into {fact_target} ({cols}, load_id{extra})
            select {cols}, ?{value} from ({_strip_comments(model.sql)})""", [load_id]).fetchone()
        return count[0] if count else 0
    elif model.kind == "quarantine":
        cols = ", ".join(QUARANTINE_COLUMNS)
        con.execute(f"insert into analytics.quarantined_values ({cols}) "
                    f"select {cols} from ({_strip_comments(model.sql)})")
    elif model.kind == "check":
        pass  # run by run_checks, after the run log is written
    elif model.kind == "dim":
        dim_parts.append(f"select {', '.join(DIM_COLUMNS)} from ({_strip_comments(model.sql)})")
    else:
        raise TransformError(f"{model.path.name}: unknown materialization '{model.kind}'")
    return 0


def _merge_dim(con: duckdb.DuckDBPyConnection, observations_sql: str) -> None:
    """Merge campaign observations: newest non-null attribute wins, first/last seen widen."""
    con.execute(f"""create or replace temp table dim_obs as
        select provider, account_id, campaign_id,
            arg_max(campaign_name, observed_at) filter (where campaign_name is not null) as campaign_name,
            arg_max(channel, observed_at) filter (where channel is not null) as channel,
            -- status and finished_at describe one execution and move together, from the newest observation
            -- that has a status: a new run's NULL finished_at must not keep the previous run's end
            arg_max(status, observed_at) filter (where status is not null) as status,
            coalesce(arg_max(started_at, observed_at) filter (where status is not null),
                     arg_max(started_at, observed_at) filter (where started_at is not null)) as started_at,
            arg_max(finished_at, observed_at) filter (where status is not null) as finished_at,
            arg_max(scheduled_at, observed_at) filter (where scheduled_at is not null) as scheduled_at,
            arg_max(details, observed_at) filter (where details is not null) as details,
            min(observed_at) as first_seen_at, max(observed_at) as last_seen_at
        from ({observations_sql})
        where campaign_id is not null
        group by provider, account_id, campaign_id""")
    con.execute("""create or replace temp table dim_merged as
        select n.provider, n.account_id, n.campaign_id,
            case when o.last_seen_at > n.last_seen_at then coalesce(o.campaign_name, n.campaign_name)
                 else coalesce(n.campaign_name, o.campaign_name) end as campaign_name,
            case when o.last_seen_at > n.last_seen_at then coalesce(o.channel, n.channel)
                 else coalesce(n.channel, o.channel) end as channel,
            case when o.last_seen_at > n.last_seen_at then coalesce(o.status, n.status)
                 else coalesce(n.status, o.status) end as status,
            case when o.last_seen_at > n.last_seen_at then coalesce(o.started_at, n.started_at)
                 else coalesce(n.started_at, o.started_at) end as started_at,
            case when o.last_seen_at > n.last_seen_at or n.status is null then o.finished_at
                 else n.finished_at end as finished_at,
            case when o.last_seen_at > n.last_seen_at then coalesce(o.scheduled_at, n.scheduled_at)
                 else coalesce(n.scheduled_at, o.scheduled_at) end as scheduled_at,
            case when o.last_seen_at > n.last_seen_at then coalesce(o.details, n.details)
                 else coalesce(n.details, o.details) end as details,
            least(o.first_seen_at, n.first_seen_at) as first_seen_at,
            greatest(o.last_seen_at, n.last_seen_at) as last_seen_at
        from dim_obs n
        left join analytics.dim_campaign o
          on o.provider = n.provider and o.account_id = n.account_id and o.campaign_id = n.campaign_id""")
    con.execute("""delete from analytics.dim_campaign d using dim_merged m
        where d.provider = m.provider and d.account_id = m.account_id and d.campaign_id = m.campaign_id""")
    con.execute("insert into analytics.dim_campaign select * from dim_merged")


SEED_COLUMNS = ("provider", "metric", "conformed_metric", "aggregation", "unit", "source_field", "meaning")
AGGREGATIONS = frozenset({"sum", "unique", "rate", "peak", "snapshot", "average"})


def read_seeds(seeds_dir: Path = SEEDS_DIR) -> list[dict[str, str | None]]:
    """The metric dictionary: ``conformed_metrics.csv`` and ``conformed_metrics/*.csv``, one row per
    (provider, metric). ``conformed_metric`` empty = provider-only metric. ``aggregation`` says how a metric
    combines across date windows: ``sum`` (additive count), ``unique`` / ``rate`` / ``peak`` / ``average`` /
    ``snapshot`` (never summed)."""
    rows: dict[tuple[str, str], dict[str, str | None]] = {}
    files = [seeds_dir / "conformed_metrics.csv", *sorted((seeds_dir / "conformed_metrics").glob("*.csv"))]
    for path in files:
        if not path.exists():
            continue
        with path.open(newline="") as handle:
            for record in csv.DictReader(handle):
                row = {c: ((record.get(c) or "").strip() or None) for c in SEED_COLUMNS}
                if not row["provider"] or not row["metric"]:
                    continue
                if row["aggregation"] is not None and row["aggregation"] not in AGGREGATIONS:
                    raise TransformError(f"seed {path.name}: {row['provider']}.{row['metric']} has unknown "
                                         f"aggregation '{row['aggregation']}'")
                key = (row["provider"], row["metric"])  # type: ignore[assignment]
                if key in rows:
                    raise TransformError(f"seed {path.name}: {key[0]}.{key[1]} is listed twice")
                rows[key] = row
    conformed: dict[tuple[str, str], str] = {}
    for (provider, metric), row in rows.items():
        if row["conformed_metric"]:
            other = conformed.setdefault((provider, row["conformed_metric"]), metric)
            if other != metric:
                raise TransformError(f"metric dictionary: {provider} maps both {other} and {metric} to "
                                     f"{row['conformed_metric']}; one conformed name per provider")
    return [rows[k] for k in sorted(rows)]


def _load_seeds(con: duckdb.DuckDBPyConnection, seeds_dir: Path) -> None:
    """The metric dictionary -> ``staging.conformed_metrics``."""
    columns = ", ".join(f"{c} varchar" for c in SEED_COLUMNS)
    con.execute(f"create or replace table staging.conformed_metrics ({columns}, primary key (provider, metric))")
    rows = read_seeds(seeds_dir)
    if rows:
        con.executemany(f"insert into staging.conformed_metrics values ({', '.join('?' for _ in SEED_COLUMNS)})",
                        [tuple(r[c] for c in SEED_COLUMNS) for r in rows])


def _strip_comments(sql: str) -> str:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return "\n".join(lines).strip().rstrip(";")
