"""Relations over ``raw`` that the runner prepares for the models, as temp tables and views of the transaction.

* ``all_fetches`` / ``all_errors``: the union of every ``raw.<provider>_fetches`` / ``raw.<provider>_errors``
  table, with the columns a table lacks (an older one without ``error_code``, say) as typed NULLs.
* ``src_<raw table>``: one per raw table a model names as input (``-- inputs:``), the only relation a model reads
  raw rows from. It holds the rows the transform needs and two flags: ``is_current`` (the row belongs to a fetch
  the pass rebuilds from: the newest fetch of each dirty scope, or in the history pass the last fetch of a scope
  and day) and ``is_new`` (loaded since the last transform). The fact models read the current rows, the dim
  models the new ones. A raw table that does not exist yet is an empty relation with the lineage columns, so SQL
  never fails on a provider that has not loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import duckdb

LINEAGE_COLUMNS = (
    ("provider", "varchar"), ("account_id", "varchar"), ("campaign_id", "varchar"), ("endpoint", "varchar"),
    ("window_start", "timestamptz"), ("window_end", "timestamptz"), ("request_params", "json"),
    ("fetched_at", "timestamptz"), ("run_id", "varchar"), ("fetch_id", "varchar"), ("scope_key", "varchar"),
    ("payload", "json"), ("_dlt_load_id", "varchar"),
)
#: the columns of an error row besides those it shares with the lineage
ERROR_DETAIL_COLUMNS = (("http_status", "bigint"), ("error_code", "varchar"), ("reason", "varchar"),
                        ("observed_at", "timestamptz"))
FETCH_COLUMNS = ("provider", "account_id", "campaign_id", "endpoint", "window_start", "window_end", "scope_key",
                 "fetch_id", "fetched_at", "run_id", "records", "_dlt_load_id")
ERROR_COLUMNS = ("provider", "account_id", "campaign_id", "endpoint", "window_start", "window_end", "http_status",
                 "error_code", "reason", "run_id", "observed_at", "_dlt_load_id")

_TYPES = dict(LINEAGE_COLUMNS) | dict(ERROR_DETAIL_COLUMNS) | {"records": "bigint"}


@dataclass(frozen=True)
class Watermark:
    """Per provider, the newest dlt load id the last transform saw (``default`` for a provider without its own: the
    one watermark of warehouses transformed before providers had their own); ``full``: every row is new.

    Each provider loads into its own store, one load after another, so its load ids only grow; a transform reads
    every store with no load committing meanwhile (pipelines/stores.py). So a provider's rows loaded after its
    watermark are exactly its rows not yet transformed, whatever other providers loaded in between.
    """

    loads: Mapping[str, str] = field(default_factory=dict)
    default: str | None = None
    full: bool = False

    def of(self, provider: str) -> str | None:
        return None if self.full else self.loads.get(provider, self.default)

    def lower_bound(self, provider: str) -> str:
        """A string none of ``provider``'s new rows' load ids sorts below: lets DuckDB skip older row groups by
        their min/max."""
        load_id = self.of(provider)
        return "" if load_id is None else str(int(float(load_id)))

    def is_new(self, column: str = '"_dlt_load_id"', provider: str | None = None) -> str:
        """SQL: the row was loaded after its provider's watermark (``provider``'s, or per row by its ``provider``
        column when not given).

        The string comparison lets DuckDB skip old row groups by their min/max (dlt load ids are epoch seconds with
        the same number of integer digits, so they sort as strings); the numeric one is the exact test.
        """
        if provider is not None:
            return _loaded_after(self.of(provider), column)
        if self.full or (not self.loads and self.default is None):
            return "true"
        cases = " ".join(f"when '{_quoted(name)}' then {_loaded_after(load_id, column)}"
                         for name, load_id in sorted(self.loads.items()))
        otherwise = _loaded_after(self.default, column)
        return f"(case provider {cases} else {otherwise} end)" if cases else otherwise


def _loaded_after(load_id: str | None, column: str) -> str:
    if load_id is None:
        return "true"
    bound = str(int(float(load_id)))
    return f"({column} >= '{bound}' and try_cast({column} as double) > {float(load_id)})"


def _quoted(text: str) -> str:
    return text.replace("'", "''")


def provider_of(table: str) -> str:
    """The provider of a raw table (``<provider>_<endpoint>``)."""
    return table.split("_", 1)[0]


def raw_tables(con: duckdb.DuckDBPyConnection, suffix: str | None = None) -> list[str]:
    """The tables of catalog ``raw`` (every provider store's raw tables: pipelines/stores.py), sorted; only those
    ending in ``suffix`` when given."""
    rows = con.execute("select table_name from information_schema.tables where table_catalog = 'raw' "
                       "and table_name not like '\\_dlt%' escape '\\'").fetchall()
    names = sorted(r[0] for r in rows)
    return [n for n in names if suffix is None or n.endswith(suffix)]


def raw_columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute("select column_name from information_schema.columns where table_catalog = 'raw' "
                       "and table_name = ?", [table]).fetchall()
    return {r[0] for r in rows}


def _typed_null(column: str) -> str:
    return f"cast(null as {_TYPES.get(column, 'varchar')}) as \"{column}\""


def _select_list(have: set[str], wanted: tuple[str, ...]) -> str:
    return ", ".join(f'"{c}"' if c in have else _typed_null(c) for c in wanted)


def _empty(columns: tuple[str, ...]) -> str:
    return f"select {', '.join(_typed_null(c) for c in columns)} where false"


def union_sql(con: duckdb.DuckDBPyConnection, suffix: str, columns: tuple[str, ...]) -> str:
    """A select of ``columns`` over every raw table ending in ``suffix`` (an empty relation when there is none)."""
    tables = raw_tables(con, suffix)
    if not tables:
        return _empty(columns)
    return " union all ".join(f"select {_select_list(raw_columns(con, t), columns)} from raw.\"{t}\""
                              for t in tables)


def create_raw_unions(con: duckdb.DuckDBPyConnection) -> None:
    """Temp views ``all_fetches`` (the fetch log of every provider) and ``all_errors``."""
    con.execute(f"create or replace temp view all_fetches as {union_sql(con, '_fetches', FETCH_COLUMNS)}")
    con.execute(f"create or replace temp view all_errors as {union_sql(con, '_errors', ERROR_COLUMNS)}")


def input_sources(con: duckdb.DuckDBPyConnection, tables: list[str]) -> dict[str, str]:
    """For each model input, a select of its raw table: the lineage columns (an ``_errors`` table also its error
    columns), missing ones as typed NULLs, then any further columns of the table; empty if not loaded yet."""
    existing = set(raw_tables(con))
    sources: dict[str, str] = {}
    for table in tables:
        columns = LINEAGE_COLUMNS + (ERROR_DETAIL_COLUMNS if table.endswith("_errors") else ())
        wanted = tuple(c for c, _ in columns)
        if table not in existing:
            sources[table] = _empty(wanted)
            continue
        have = raw_columns(con, table)
        extra = "".join(f', "{c}"' for c in sorted(have - set(wanted)) if not c.startswith("_dlt"))
        sources[table] = f"select {_select_list(have, wanted)}{extra} from raw.\"{table}\""
    return sources


def create_inputs(con: duckdb.DuckDBPyConnection, sources: dict[str, str], fetches: str, watermark: Watermark, *,
                  with_new: bool) -> None:
    """``src_<input>``: the raw rows of the fetches listed in temp table ``fetches`` (``is_current``) and, with
    ``with_new``, every row loaded since ``watermark`` (``is_new``). ``no_fetches`` names an empty relation.

    Row groups loaded before the oldest of those fetches (and before the watermark) are skipped by a string bound
    on the load id (load ids sort as strings); the flags are the exact tests.
    """
    if fetches == "no_fetches":
        con.execute("create or replace temp table no_fetches as select * from all_fetches where false")
    row = con.execute(f"select coalesce(min(_dlt_load_id), '') from {fetches}").fetchone()
    oldest = str(row[0]) if row else ""
    if not oldest and not with_new:  # no fetch to read: empty relations, without scanning raw
        for table, source in sources.items():
            con.execute(f"""create or replace temp table "src_{table}" as
                select *, false as is_current, false as is_new from ({source}) where false""")
        return
    for table, source in sources.items():
        provider = provider_of(table)
        lower = watermark.lower_bound(provider)
        bound = (min(oldest, lower) if oldest else lower) if with_new else oldest
        is_new = watermark.is_new(provider=provider) if with_new else "false"
        con.execute(f"""create or replace temp table "src_{table}" as
            with flagged as (
                select *,
                    coalesce(fetch_id in (select fetch_id from {fetches}), false) as is_current,
                    coalesce({is_new}, false) as is_new
                from ({source})
                where "_dlt_load_id" >= ?
            )
            select * from flagged where is_current or is_new""", [bound])
