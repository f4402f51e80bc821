"""The PostgreSQL target: the analytics layer published into a shared PostgreSQL database, in one transaction,
sending only what changed.

Configured the dlt way, as a secret: ``destination.postgres.credentials`` (``DESTINATION__POSTGRES__CREDENTIALS``,
a connection string ``postgresql://user:password@host:5432/database``, or its fields under
``[destination.postgres.credentials]`` in ``.dlt/secrets.toml``). When it is set, ``run``, ``backfill`` and
``transform`` publish to it after the DuckDB file, which stays the embedded engine of the transforms and the local
copy ``status`` reads.

**What.** Every table and view of schema ``analytics`` of the DuckDB file, as a table of the same name, columns and
values in schema ``analytics`` of the PostgreSQL database (views arrive materialized: BI reads the same rows).
Schema ``campaign_etl`` holds the publisher's own bookkeeping (``campaign_etl.published``).

**How it costs what changed.** For each relation the publisher keeps, beside the work file
(``.etl/postgres.duckdb``), a digest per key of what PostgreSQL holds: the key is the relation's grain (a fact
row's key, a campaign, a run and provider; for the error lists, the whole row), the digest a hash of the key's rows.
A publish computes the digests of the new analytics in DuckDB and, in one PostgreSQL transaction, deletes the rows
of every key whose digest changed or vanished and copies in the rows of every key whose digest changed or is new.
A nightly sends the scopes it rebuilt, not the history. A relation whose columns changed, or whose PostgreSQL
table is not the one the digests describe, is recreated and sent whole.

**Readers.** The transaction commits every relation at once: a BI connection (``READ COMMITTED``, PostgreSQL's
default) sees the old state until the commit and the new one from its next query, never a half-published one. A
publish cut short (a lost connection, a kill) rolls back: the previous state stays, and the next publish sends the
difference again. Were the process to die after the commit but before the digests are saved, the next publish
sends the same keys again: delete and insert by key are idempotent.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
import duckdb
from dlt.common.configuration.exceptions import ConfigurationException
from dlt.destinations.impl.postgres.configuration import PostgresCredentials

from core.errors import CampaignEtlError, ConfigError, first_line
from core.redact import redact, register_secret
from transforms.catalog import comment_statements

SCHEMA = "analytics"
META_SCHEMA = "campaign_etl"
# the grain of each relation: rows are sent and deleted per key; a relation not listed is keyed by its whole row
KEYS: dict[str, tuple[str, ...]] = {
    "fact_campaign_metrics": ("provider", "account_id", "campaign_id", "breakdown_type", "breakdown_value",
                              "period_start", "metric"),
    "fact_campaign_metrics_history": ("provider", "account_id", "campaign_id", "breakdown_type", "breakdown_value",
                                      "period_start", "metric", "observed_date"),
    "campaign_performance": ("provider", "account_id", "campaign_id"),
    "dim_campaign": ("provider", "account_id", "campaign_id"),
    "load_runs": ("run_id", "provider"),
    "data_quality": ("check_name", "provider"),
}
_TYPES = {"VARCHAR": "text", "DOUBLE": "double precision", "FLOAT": "real", "BIGINT": "bigint",
          "INTEGER": "integer", "SMALLINT": "smallint", "TINYINT": "smallint", "BOOLEAN": "boolean",
          "DATE": "date", "TIMESTAMP": "timestamp", "TIMESTAMP WITH TIME ZONE": "timestamptz", "JSON": "json",
          "HUGEINT": "numeric", "UBIGINT": "numeric", "UINTEGER": "bigint"}
COPY_ROWS = 50_000   # rows per COPY chunk: bounded memory whatever the size of a full send


class PublishError(CampaignEtlError):
    """The PostgreSQL target cannot be reached or written: exit 1, its previous state stays."""


@dataclass(frozen=True)
class PostgresTarget:
    dsn: str
    where: str          # host:port/database, for messages (never the password)
    connect_timeout: int

    def connect(self) -> Any:
        import psycopg2

        try:
            return psycopg2.connect(self.dsn, connect_timeout=self.connect_timeout)
        except psycopg2.Error as exc:
            raise PublishError(f"cannot connect to the PostgreSQL warehouse {self.where} "
                               f"({redact(first_line(exc))}).") from None


def configured_target() -> PostgresTarget | None:
    """The PostgreSQL target of ``destination.postgres.credentials``, or None when it is not set; a value that is
    not a PostgreSQL connection is ``ConfigError`` (one sentence, no secret)."""
    raw: Any = dlt.secrets.get("destination.postgres.credentials")
    if raw is None or raw == "":
        return None
    try:
        credentials = dlt.secrets.get("destination.postgres.credentials", PostgresCredentials)
    except (ConfigurationException, ValueError, TypeError) as exc:
        raise ConfigError("destination.postgres.credentials is not a PostgreSQL connection "
                          "(postgresql://user:password@host:5432/database, or its fields in .dlt/secrets.toml): "
                          f"{_without_values(first_line(exc), raw)}.") from None
    if credentials is None or not credentials.host or not credentials.database:
        raise ConfigError("destination.postgres.credentials needs a host and a database "
                          "(postgresql://user:password@host:5432/database).")
    if credentials.password:
        register_secret(str(credentials.password))
    dsn = credentials.to_native_representation()
    register_secret(dsn)
    where = f"{credentials.host}:{credentials.port}/{credentials.database}"
    return PostgresTarget(dsn=dsn, where=where, connect_timeout=int(credentials.connect_timeout or 15))


def _without_values(text: str, raw: Any) -> str:
    """A config error's text without the configured value in it (it may hold the password)."""
    out = str(text)
    for value in ([raw] if not isinstance(raw, dict) else list(raw.values())):
        if isinstance(value, str) and value:
            out = out.replace(value, "***")
    return redact(out)


def check_reachable(target: PostgresTarget) -> None:
    """Connect once and leave: a run finds out before any request that it could not publish."""
    con = target.connect()
    con.close()


# -- the publisher --------------------------------------------------------------------------------------------


@dataclass
class Relation:
    name: str
    columns: list[tuple[str, str]]      # (name, DuckDB type)
    key: tuple[str, ...]

    @property
    def signature(self) -> str:
        return json.dumps({"columns": self.columns, "key": self.key})

    def pg_columns(self) -> str:
        return ", ".join(f'"{c}" {_pg_type(t)}' for c, t in self.columns)

    def names(self, prefix: str = "") -> str:
        return ", ".join(f'{prefix}"{c}"' for c, _ in self.columns)

    def key_names(self, prefix: str = "") -> str:
        return ", ".join(f'{prefix}"{c}"' for c in self.key)


@dataclass
class PublishResult:
    relations: int
    rows_sent: int = 0
    keys_deleted: int = 0
    recreated: list[str] = field(default_factory=list)
    seconds: float = 0.0
    state_ids: dict[str, str] = field(default_factory=dict)   # relation -> the id its digests and PostgreSQL share
    sent: dict[str, int] = field(default_factory=dict)        # relation -> rows sent


def _pg_type(duckdb_type: str) -> str:
    if duckdb_type.startswith("DECIMAL"):
        return duckdb_type.replace("DECIMAL", "numeric")
    return _TYPES.get(duckdb_type, "text")


def _relations(con: duckdb.DuckDBPyConnection) -> list[Relation]:
    rows = con.execute("""select table_name, column_name, data_type from information_schema.columns
        where table_catalog = 'published' and table_schema = ? order by table_name, ordinal_position""",
                       [SCHEMA]).fetchall()
    relations: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        relations.setdefault(table, []).append((column, data_type))
    out = []
    for name, columns in relations.items():
        key = KEYS.get(name) or tuple(c for c, _ in columns)
        whole_row = tuple(c for c, _ in columns)
        out.append(Relation(name, columns, key if set(key) <= set(whole_row) else whole_row))
    return out


def publish(target: PostgresTarget, published: Path, state_path: Path,
            notice: Callable[[str], None] = lambda message: None,
            duckdb_config: dict[str, str | bool | int | float | list[str]] | None = None) -> PublishResult:
    """Bring the PostgreSQL target's analytics to the state of the published DuckDB file ``published``, sending
    only what changed since the state ``state_path`` records (see the module docstring)."""
    started = time.monotonic()
    try:
        state = duckdb.connect(str(state_path), config=duckdb_config or {})
    except duckdb.Error as exc:
        raise PublishError(f"cannot open {state_path} ({first_line(exc)}); the PostgreSQL warehouse "
                           f"{target.where} is unchanged.") from None
    try:
        try:
            state.execute(f"attach '{published}' as published (read_only)")
            state.execute("create table if not exists relations (name varchar primary key, signature varchar, "
                          "state_id varchar)")
            relations = _relations(state)
            known = {n: (sig, sid) for n, sig, sid in state.execute("select * from relations").fetchall()}
            pg = target.connect()
            try:
                result = _send(pg, state, relations, known, target.where)
            finally:
                pg.close()
        except duckdb.Error as exc:
            raise PublishError(f"cannot publish to the PostgreSQL warehouse {target.where} "
                               f"({redact(first_line(exc))}); its previous state stays.") from None
        try:   # the commit is made: the digests now describe what PostgreSQL holds
            _save_digests(state, relations, result)
        except duckdb.Error as exc:
            raise PublishError(f"published to the PostgreSQL warehouse {target.where}, but could not keep what it "
                               f"sent ({first_line(exc)}); the next publish sends it whole again.") from None
    finally:
        state.close()
    result.seconds = time.monotonic() - started
    notice(f"published to PostgreSQL {target.where}: {result.rows_sent} rows sent, {result.keys_deleted} keys "
           f"replaced or removed, in {result.seconds:.2f}s"
           + (f" ({', '.join(result.recreated)} sent whole)" if result.recreated else ""))
    return result


def _save_digests(state: duckdb.DuckDBPyConnection, relations: list[Relation], result: PublishResult) -> None:
    state.execute("begin transaction")
    for relation in relations:
        state.execute(f'create or replace table "d_{relation.name}" as select * from "new_{relation.name}"')
    state.execute("delete from relations")
    for relation in relations:
        state.execute("insert into relations values (?, ?, ?)",
                      [relation.name, relation.signature, result.state_ids[relation.name]])
    state.execute("commit")


def _digests(state: duckdb.DuckDBPyConnection, relation: Relation) -> None:
    """Temp table ``new_<relation>``: per key of the published relation, its key values, the key's hash and the
    digest of its rows."""
    row = ", ".join(f'"{c}"' for c, _ in relation.columns)
    state.execute(f"""create or replace temp table "new_{relation.name}" as
        select hash({relation.key_names()}) as k,
               hash(count(*), sum(hash({row})::hugeint)) as d,
               {relation.key_names()}
        from published.{SCHEMA}."{relation.name}" group by all""")


def _send(pg: Any, state: duckdb.DuckDBPyConnection, relations: list[Relation],
          known: dict[str, tuple[str, str]], where: str) -> PublishResult:
    import psycopg2

    result = PublishResult(relations=len(relations))
    try:
        with pg.cursor() as cur:
            cur.execute(f"create schema if not exists {META_SCHEMA}")
            cur.execute(f"create schema if not exists {SCHEMA}")
            cur.execute(f"""create table if not exists {META_SCHEMA}.published (
                relation text primary key, signature text not null, state_id text not null,
                rows bigint, published_at timestamp not null)""")
            cur.execute(f"select relation, signature, state_id from {META_SCHEMA}.published")
            remote = {r: (sig, sid) for r, sig, sid in cur.fetchall()}
            for relation in relations:
                _digests(state, relation)
                local = known.get(relation.name)
                # the digests describe this very table, of these columns: send what changed; else send it whole
                signed = local[0] == relation.signature if local is not None else False
                incremental = signed and remote.get(relation.name) == local and _has_table(state, f"d_{relation.name}")
                if not incremental or local is None:
                    result.recreated.append(relation.name)
                    cur.execute(f'drop table if exists {SCHEMA}."{relation.name}"')
                    cur.execute(f'create table {SCHEMA}."{relation.name}" ({relation.pg_columns()})')
                    if relation.key != tuple(c for c, _ in relation.columns):
                        cur.execute(f'create index on {SCHEMA}."{relation.name}" ({relation.key_names()})')
                    state.execute(f'create or replace temp table "changed_{relation.name}" as '
                                  f'select k from "new_{relation.name}"')
                    state_id = uuid.uuid4().hex
                else:
                    result.keys_deleted += _delete_changed(cur, state, relation)
                    state_id = local[1]
                result.state_ids[relation.name] = state_id
                result.sent[relation.name] = _copy_changed(cur, state, relation)
                result.rows_sent += result.sent[relation.name]
                cur.execute(f"select count(*) from {SCHEMA}.\"{relation.name}\"")
                (count,) = cur.fetchone()
                cur.execute(f"""insert into {META_SCHEMA}.published values (%s, %s, %s, %s, now() at time zone 'utc')
                    on conflict (relation) do update set signature = excluded.signature,
                        state_id = excluded.state_id, rows = excluded.rows, published_at = excluded.published_at""",
                            [relation.name, relation.signature, state_id, count])
            names = [r.name for r in relations]
            cur.execute(f"select relation from {META_SCHEMA}.published")
            for (gone,) in cur.fetchall():
                if gone not in names:   # a relation the analytics layer no longer has
                    cur.execute(f'drop table if exists {SCHEMA}."{gone}"')
                    cur.execute(f"delete from {META_SCHEMA}.published where relation = %s", [gone])
            # the catalog's texts on every relation and column, in the same transaction (views arrive as tables)
            present = {r.name: ("table", {c for c, _ in r.columns}) for r in relations}
            for statement in comment_statements(present=present, schema=SCHEMA):
                cur.execute(statement)
        pg.commit()
    except psycopg2.Error as exc:
        with contextlib.suppress(psycopg2.Error):
            pg.rollback()
        raise PublishError(f"cannot publish to the PostgreSQL warehouse {where} ({redact(first_line(exc))}); "
                           f"its previous state stays.") from None
    except BaseException:
        with contextlib.suppress(psycopg2.Error):
            pg.rollback()
        raise
    return result


def _has_table(state: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = state.execute("select count(*) from information_schema.tables where table_catalog = current_database() "
                        "and table_name = ?", [name]).fetchone()
    return bool(row and row[0])


def _delete_changed(cur: Any, state: duckdb.DuckDBPyConnection, relation: Relation) -> int:
    """Delete in PostgreSQL the rows of every key whose digest changed or vanished; temp table
    ``changed_<relation>`` keeps the hashes of the keys whose rows are then sent. Returns the keys deleted."""
    name = relation.name
    state.execute(f"""create or replace temp table "changed_{name}" as
        select coalesce(n.k, o.k) as k, o.k is not null as was_there,
               {", ".join(f'coalesce(o."{c}", n."{c}") as "{c}"' for c in relation.key)}
        from "new_{name}" as n full outer join "d_{name}" as o on o.k = n.k
        where n.d is distinct from o.d""")
    (count,) = state.execute(f'select count(*) from "changed_{name}" where was_there').fetchone()  # type: ignore
    if not count:
        return 0
    types = dict(relation.columns)
    columns = ", ".join(f'"{c}" {_pg_type(types[c])}' for c in relation.key)
    cur.execute(f"create temp table _keys ({columns})")
    _copy_rows(cur, "_keys", [f'"{c}"' for c in relation.key],
               state.execute(f'select {relation.key_names()} from "changed_{name}" where was_there'))
    # NULL never equals NULL: one delete per pattern of NULL keys, so each can join on its equalities
    patterns = state.execute(f"""select distinct {", ".join(f'"{c}" is null' for c in relation.key)}
                                 from "changed_{name}" where was_there""").fetchall()
    for pattern in patterns:
        tests = [f'k."{c}" is null and t."{c}" is null' if null else f't."{c}" = k."{c}"'
                 for c, null in zip(relation.key, pattern, strict=True)]
        cur.execute(f'delete from {SCHEMA}."{name}" as t using _keys as k where {" and ".join(tests)}')
    cur.execute("drop table _keys")
    return int(count)


def _copy_changed(cur: Any, state: duckdb.DuckDBPyConnection, relation: Relation) -> int:
    """Copy into PostgreSQL the rows of the keys in ``changed_<relation>`` that the published relation has."""
    select = (f'select {relation.names("r.")} from published.{SCHEMA}."{relation.name}" as r '
              f'where hash({relation.key_names("r.")}) in (select k from "changed_{relation.name}")')
    return _copy_rows(cur, f'{SCHEMA}."{relation.name}"', [f'"{c}"' for c, _ in relation.columns],
                      state.execute(select))


def _copy_rows(cur: Any, table: str, columns: list[str], rows: duckdb.DuckDBPyConnection) -> int:
    sent = 0
    while True:
        chunk = rows.fetchmany(COPY_ROWS)
        if not chunk:
            return sent
        buffer = io.StringIO()
        for row in chunk:
            buffer.write(",".join(_csv(value) for value in row))
            buffer.write("\n")
        buffer.seek(0)
        cur.copy_expert(f"copy {table} ({', '.join(columns)}) from stdin with (format csv)", buffer)
        sent += len(chunk)


def _csv(value: Any) -> str:
    """One CSV field as PostgreSQL's COPY reads it: NULL unquoted and empty, every text quoted (an empty string
    is then an empty string), numbers in their exact round-trip form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (dict, list)):
        value = json.dumps(value)
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return '"' + text.replace('"', '""') + '"'


@contextlib.contextmanager
def reading(target: PostgresTarget) -> Iterator[Any]:
    """A connection to the target for reading (``status``, tests)."""
    con = target.connect()
    try:
        yield con
    finally:
        con.close()


def last_publish(target: PostgresTarget) -> tuple[Any, int] | None:
    """When the target was last published to and how many relations it holds, or None if never."""
    import psycopg2

    with reading(target) as con, con.cursor() as cur:
        try:
            cur.execute(f"select max(published_at), count(*) from {META_SCHEMA}.published")
        except psycopg2.Error:
            return None
        row = cur.fetchone()
    return (row[0], int(row[1])) if row and row[0] is not None else None

