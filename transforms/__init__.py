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

from sources.common.errors import CampaignEtlError

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
class TransformResult:
    full: bool
    dirty_scopes: int
    fact_rows_deleted: int
    fact_rows_inserted: int
    seconds: float
    per_provider_changed: dict[str, int] = field(default_factory=dict)


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
    load_filter = "true" if watermark is None else f"try_cast(_dlt_load_id as double) > {float(watermark)}"
    full = watermark is None

    _load_seeds(con, seeds_dir)
    con.execute(f"create or replace temp view all_fetches as {_union(con, '_fetches', FETCH_COLUMNS)}")
    con.execute(f"create or replace temp view all_errors as {_union(con, '_errors', ERROR_COLUMNS)}")
    con.execute(f"""create or replace temp table dirty_scopes as
        select distinct scope_key from all_fetches where {load_filter}""")
    con.execute("""create or replace temp table cur_fetches as
        select * from all_fetches where scope_key in (select scope_key from dirty_scopes)
        qualify row_number() over (partition by scope_key order by fetched_at desc, fetch_id desc) = 1""")
    dirty = con.execute("select count(*) from dirty_scopes").fetchone()[0]

    needed = sorted({i for m in models for i in m.inputs})
    existing = set(_raw_tables(con))
    lineage = tuple(c for c, _ in LINEAGE_COLUMNS)
    for table in needed:
        if table in existing:
            cols = _select_list(con, table, lineage, _TYPES)
            extra = _columns(con, table) - set(lineage)
            extra_sql = "".join(f', "{c}"' for c in sorted(extra) if not c.startswith("_dlt"))
            source = f"select {cols}{extra_sql} from raw.\"{table}\""
        else:
            cols = ", ".join(f"cast(null as {t}) as \"{c}\"" for c, t in LINEAGE_COLUMNS)
            source = f"select {cols} where false"
        con.execute(f"""create or replace temp table "cur_{table}" as
            select * from ({source}) where fetch_id in (select fetch_id from cur_fetches)""")
        con.execute(f"""create or replace temp table "new_{table}" as
            select * from ({source}) where {load_filter.replace('_dlt_load_id', '"_dlt_load_id"')}""")

    before = dict(con.execute("select provider, count(*) from staging.fact_rows group by all").fetchall())
    if full:
        con.execute("delete from staging.fact_rows")
        con.execute("delete from analytics.dim_campaign")
        con.execute("delete from analytics.extraction_errors")
        con.execute("delete from analytics.quarantined_values")
        deleted = sum(before.values())
    else:
        deleted = con.execute("""select count(*) from staging.fact_rows
                                 where scope_key in (select scope_key from dirty_scopes)""").fetchone()[0]
        con.execute("delete from staging.fact_rows where scope_key in (select scope_key from dirty_scopes)")
        con.execute("delete from analytics.quarantined_values where scope_key in (select scope_key from dirty_scopes)")

    load_id = con.execute("select max(_dlt_load_id) from all_fetches").fetchone()[0]
    inserted = 0
    dim_parts: list[str] = []
    for model in models:
        try:
            inserted += _apply(con, model, load_id, dim_parts)
        except duckdb.Error as exc:
            raise TransformError(f"transform {model.path.parent.name}/{model.path.name} failed: "
                                 f"{str(exc).strip().splitlines()[0]}") from exc
    if dim_parts:
        try:
            _merge_dim(con, " union all ".join(dim_parts))
        except duckdb.Error as exc:
            raise TransformError(f"transform of dim_campaign failed: {str(exc).strip().splitlines()[0]}") from exc
    con.execute(f"""insert into analytics.extraction_errors
        select provider, account_id, campaign_id, endpoint, cast(http_status as integer), reason, run_id,
               cast(observed_at as timestamp), cast(window_start as timestamp), cast(window_end as timestamp),
               _dlt_load_id
        from all_errors where {load_filter}""")
    newest = con.execute("""select max(try_cast(_dlt_load_id as double)) from (
        select _dlt_load_id from all_fetches union all select _dlt_load_id from all_errors)""").fetchone()[0]
    if newest is not None:
        con.execute("insert or replace into staging.transform_state values ('last_load_id', ?)", [repr(newest)])
    after = dict(con.execute("select provider, count(*) from staging.fact_rows group by all").fetchall())
    changed = {p: after.get(p, 0) - before.get(p, 0) for p in set(before) | set(after)}
    return TransformResult(full=full, dirty_scopes=dirty, fact_rows_deleted=deleted, fact_rows_inserted=inserted,
                           seconds=0.0, per_provider_changed=changed)


class TransformError(CampaignEtlError):
    """A SQL model failed; the message names the file. The transaction is rolled back."""


def _apply(con: duckdb.DuckDBPyConnection, model: SqlModel, load_id: str | None, dim_parts: list[str]) -> int:
    """Apply one model; returns the fact rows it inserted."""
    if model.kind in ("macro", "view", "table"):
        con.execute(model.sql)
    elif model.kind == "fact":
        cols = ", ".join(FACT_COLUMNS)
        count = con.execute(f"""insert into staging.fact_rows ({cols}, load_id)
            select {cols}, ? from ({_strip_comments(model.sql)})""", [load_id]).fetchone()
        return count[0] if count else 0
    elif model.kind == "quarantine":
        cols = ", ".join(QUARANTINE_COLUMNS)
        con.execute(f"insert into analytics.quarantined_values ({cols}) "
                    f"select {cols} from ({_strip_comments(model.sql)})")
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
            arg_max(status, observed_at) filter (where status is not null) as status,
            arg_max(started_at, observed_at) filter (where started_at is not null) as started_at,
            arg_max(finished_at, observed_at) filter (where finished_at is not null) as finished_at,
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
            case when o.last_seen_at > n.last_seen_at then coalesce(o.finished_at, n.finished_at)
                 else coalesce(n.finished_at, o.finished_at) end as finished_at,
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


def _load_seeds(con: duckdb.DuckDBPyConnection, seeds_dir: Path) -> None:
    """``conformed_metrics.csv`` plus ``conformed_metrics/*.csv`` -> ``staging.conformed_metrics``."""
    rows: dict[tuple[str, str], str] = {}
    files = sorted([seeds_dir / "conformed_metrics.csv", *sorted((seeds_dir / "conformed_metrics").glob("*.csv"))])
    for path in files:
        if not path.exists():
            continue
        with path.open(newline="") as handle:
            for record in csv.DictReader(handle):
                provider = (record.get("provider") or "").strip()
                metric = (record.get("metric") or "").strip()
                conformed = (record.get("conformed_metric") or "").strip()
                if not provider or not metric:
                    continue
                key = (provider, metric)
                if key in rows and rows[key] != conformed:
                    raise ValueError(f"seed {path.name}: {provider}.{metric} is mapped twice")
                rows[key] = conformed
    con.execute("create or replace table staging.conformed_metrics "
                "(provider varchar, metric varchar, conformed_metric varchar, primary key (provider, metric))")
    if rows:
        con.executemany("insert into staging.conformed_metrics values (?, ?, ?)",
                        [(p, m, c or None) for (p, m), c in sorted(rows.items())])


def _strip_comments(sql: str) -> str:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return "\n".join(lines).strip().rstrip(";")
