"""The loader's raw stores: one DuckDB file per provider, one writer each, and how the transforms read them all.

Beside the warehouse, in ``.<name>.etl/stores/``:

* ``<provider>.duckdb``: the provider's dlt dataset, schema ``raw`` (its records, fetch log and errors,
  append-only), and its ledger, schema ``etl`` (``window_ledger``, ``cursors``, ``settled``: pipelines/ledger.py).
  Raw is the source of truth: ``campaign-etl transform`` rebuilds analytics from the stores alone.
* ``<provider>.lock``: held for the whole of a provider's load. Two runs of one provider (two processes, or a
  ``run`` and a ``run --provider``) take turns, so together they never exceed its rate limit; runs of different
  providers load side by side, each into its own file, with no lock between them.
* ``<provider>.budget.json``: when the provider's last requests were sent (those of its rate limit's last
  period), so the next run, often another process, counts them too: taking turns never bursts past the limit.
* ``<provider>.access``: held around every opening of the store file, by its loader (each committed load and
  ledger update) and by a transform reading it. DuckDB lets one process open a file read-write only when no
  other process has it open at all; this lock makes the opener wait its turn instead of failing.

A transform attaches every store read-only and sees their raw tables as one catalog ``raw`` of views, so the
SQL names ``raw.<provider>_<endpoint>`` whatever file holds it (``reading``). The ledger tables of every store
are copied into the work file (``etl`` there) by each transform, so ``status`` reads them from the published
warehouse.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import duckdb

from core import interrupt
from core.errors import CampaignEtlError, first_line

# the ledger of one provider (in its store) and, as a copy of every store's, in the work file for ``status``
LEDGER_DDL = """
create schema if not exists etl;
create table if not exists etl.window_ledger (
    provider varchar not null, account_id varchar not null, endpoint varchar not null,
    window_start timestamp not null, window_end timestamp not null, grid_end timestamp not null,
    request_key varchar not null, status varchar not null, attempts integer not null default 0,
    records bigint, fetched_at timestamp, last_error varchar, run_id varchar, updated_at timestamp,
    primary key (provider, account_id, endpoint, window_start)
);
create table if not exists etl.cursors (
    provider varchar primary key, cursor_at timestamp not null, updated_at timestamp not null, run_id varchar
);
-- the settle policy (pipelines/ledger.py): what a window's last two pulls held, and what the last nightly skipped
alter table etl.window_ledger add column if not exists digest varchar;
alter table etl.window_ledger add column if not exists previous_digest varchar;
create table if not exists etl.settled (
    provider varchar primary key, windows integer not null, campaigns integer not null, recheck_at timestamp,
    noted_at timestamp not null
);
"""
LEDGER_TABLES = ("window_ledger", "cursors", "settled")
# how often a lock wait looks again (and notices a stop request)
LOCK_POLL_SECONDS = 0.2
# a wait shorter than this is not worth a line (another process committing one load)
QUIET_WAIT_SECONDS = 2.0


def is_lock_conflict(exc: BaseException) -> bool:
    """DuckDB could not open a file because another process holds it (not damage)."""
    text = str(exc)
    return "Conflicting lock" in text or "Could not set lock" in text


class StoreError(CampaignEtlError):
    """A raw store cannot be opened or written: exit 1."""


@contextlib.contextmanager
def held(path: Path, *, notice: Callable[[str], None] | None = None, waiting: str = "") -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` for the block, waiting for it if another holder has it (a stop
    request ends the wait); ``notice`` is told ``waiting`` once the wait has lasted ``QUIET_WAIT_SECONDS``.

    ``flock`` belongs to one open file, so two threads of one process exclude each other too, and the kernel
    releases it when its process dies: a killed run never leaves a lock behind."""
    with open(path, "a+") as handle:
        started = time.monotonic()
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                interrupt.check()
                if notice is not None and not told and time.monotonic() - started >= QUIET_WAIT_SECONDS:
                    notice(waiting)
                    told = True
                time.sleep(LOCK_POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class ProviderStore:
    """One provider's raw store and its locks (see the module docstring)."""

    def __init__(self, folder: Path, provider: str, duckdb_config: dict[str, str | bool | int | float | list[str]]):
        self.provider = provider
        self.path = folder / f"{provider}.duckdb"
        self.run_lock = folder / f"{provider}.lock"
        self.access_lock = folder / f"{provider}.access"
        self.budget = folder / f"{provider}.budget.json"
        # a temp folder of its own: DuckDB instances open side by side must not share one
        self.duckdb_config = {**duckdb_config, "temp_directory": str(folder / f"{provider}.tmp")}

    @property
    def exists(self) -> bool:
        return self.path.exists()

    @contextlib.contextmanager
    def loading(self, notice: Callable[[str], None]) -> Iterator[ProviderStore]:
        """Hold the provider's load lock for the block (another run of it holds it: wait, saying so)."""
        with held(self.run_lock, notice=notice,
                  waiting=f"{self.provider}: another run is loading {self.provider} into this warehouse; "
                          f"waiting for it to finish ({self.run_lock})"):
            yield self

    def sent_at(self) -> list[float]:
        """When the last run of the provider sent the requests its rate limit still counts (``[]`` if unknown)."""
        try:
            value = json.loads(self.budget.read_text())
        except (OSError, ValueError):
            return []
        times = value.get("sent_at") if isinstance(value, dict) else None
        return [float(t) for t in times if isinstance(t, (int, float))] if isinstance(times, list) else []

    def note_sent(self, sent_at: list[float]) -> None:
        """Keep ``sent_at`` for the next run (written whole or not at all; only under the load lock)."""
        tmp = self.budget.with_name(self.budget.name + ".tmp")
        with contextlib.suppress(OSError):
            tmp.write_text(json.dumps({"sent_at": sent_at}))
            os.replace(tmp, self.budget)

    def access(self) -> contextlib.AbstractContextManager[None]:
        """The lock around any opening of the store file (short: one load, one ledger update)."""
        return held(self.access_lock)

    @contextlib.contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection to the store, under its access lock."""
        with self.access():
            try:
                con = duckdb.connect(str(self.path), config=self.duckdb_config)
            except duckdb.Error as exc:
                raise StoreError(f"cannot open the raw store {self.path} ({first_line(exc)}).") from None
            try:
                con.execute("set TimeZone = 'UTC'")
                yield con
            finally:
                con.close()

    def prepare(self, notice: Callable[[str], None]) -> None:
        """Make sure the store opens, its ledger reads back, and it has its ledger tables. A store DuckDB cannot
        open or read (truncated, not a DuckDB file) is moved aside with a one-line notice and started afresh:
        the provider's windows are then pulled again from its start date (raw history lives only here)."""
        with self.access():
            problem = self._damage()
            if problem is not None:
                aside = self.path.with_name(f"{self.path.name}.damaged-{int(time.time())}")
                os.replace(self.path, aside)
                with contextlib.suppress(FileNotFoundError):
                    self.path.with_name(self.path.name + ".wal").unlink()
                notice(f"{self.provider}: the raw store {self.path} was damaged ({problem}); moved aside to "
                       f"{aside.name}, and its windows are pulled again")
                problem = self._damage()
            if problem is not None:
                raise StoreError(f"cannot open the raw store {self.path} ({problem}).")

    def _damage(self) -> str | None:
        """Open the store (created when missing) and add its ledger tables: None, or why DuckDB cannot open or
        read it. The ledger rows it has are read back once, since DuckDB opens a truncated file and fails only
        on reading what is gone; writing the tables is not part of the test (a full disk is not damage)."""
        if self.path.exists() and self.path.stat().st_size == 0:
            return "it is empty"
        try:
            con = duckdb.connect(str(self.path), config=self.duckdb_config)
        except duckdb.Error as exc:
            if is_lock_conflict(exc):
                raise StoreError(f"the raw store {self.path} is held by another process "
                                 f"({first_line(exc)}).") from None
            return first_line(exc)
        try:
            try:
                con.execute("set TimeZone = 'UTC'")
                have = {t for (t,) in con.execute("select table_name from duckdb_tables() where schema_name = 'etl' "
                                                  "and database_name = current_database()").fetchall()}
                for table in LEDGER_TABLES:
                    if table in have:
                        con.execute(f"select * from etl.{table}").fetchall()
            except duckdb.Error as exc:
                return first_line(exc)
            con.execute(LEDGER_DDL)
            return None
        finally:
            con.close()


def _alias(store: ProviderStore) -> str:
    return f"store_{store.provider}"


@contextlib.contextmanager
def reading(con: duckdb.DuckDBPyConnection, stores: Iterable[ProviderStore]) -> Iterator[list[ProviderStore]]:
    """For the block, every existing store of ``stores`` attached read-only to ``con`` (as ``store_<provider>``,
    under its access lock: no load commits meanwhile) and their raw tables as views in catalog ``raw``.

    Yields the stores attached. ``con`` must not have a schema named ``raw`` of its own (DuckDB would find the
    name ambiguous)."""
    with contextlib.ExitStack() as stack:
        attached: list[ProviderStore] = []
        for store in stores:
            if not store.exists:
                continue
            stack.enter_context(store.access())
            try:
                con.execute(f"attach '{store.path}' as {_alias(store)} (read_only)")
            except duckdb.Error as exc:
                raise StoreError(f"cannot read the raw store {store.path} ({first_line(exc)}).") from None
            stack.callback(con.execute, f"detach {_alias(store)}")
            attached.append(store)
        con.execute("attach ':memory:' as raw")
        stack.callback(con.execute, "detach raw")
        for store in attached:
            tables = con.execute("""select table_name from information_schema.tables
                where table_catalog = ? and table_schema = 'raw' and table_name not like '\\_dlt%' escape '\\'
                order by table_name""", [_alias(store)]).fetchall()
            for (table,) in tables:
                con.execute(f'create view raw.main."{table}" as select * from {_alias(store)}.raw."{table}"')
        yield attached


def copy_ledgers(con: duckdb.DuckDBPyConnection, stores: Iterable[ProviderStore]) -> None:
    """Replace the ``etl`` tables of ``con`` (the work file) by the union of the attached stores' ledgers."""
    con.execute(LEDGER_DDL)
    for table in LEDGER_TABLES:
        con.execute(f"delete from etl.{table}")
        for store in stores:
            con.execute(f"insert into etl.{table} by name select * from {_alias(store)}.etl.{table}")


def split_legacy_layout(con: duckdb.DuckDBPyConnection, stores: Callable[[str], ProviderStore],
                        notice: Callable[[str], None]) -> None:
    """Move the raw tables and ledger of a work file of the one-file layout (schema ``raw`` in the work file,
    every provider's ledger in its ``etl``) into one store per provider, then drop them from the work file.

    Each provider's tables go to its store with dlt's own rows of that provider (its loads, schema versions and
    pipeline state), so dlt finds its tables where it left them; the copied ledger keeps every window's status
    and the cursor. Runs once per warehouse, under the publishing lock; a split cut short is redone whole (each
    copy replaces what an earlier attempt copied)."""
    schema = con.execute("select count(*) from information_schema.schemata where catalog_name = "
                         "current_database() and schema_name = 'raw'").fetchone()
    if not schema or not schema[0]:
        return
    raw = [t for (t,) in con.execute("""select table_name from information_schema.tables
        where table_catalog = current_database() and table_schema = 'raw' order by 1""").fetchall()]
    ledger_providers: set[str] = set()
    if _has(con, "etl", "window_ledger") and _has(con, "etl", "cursors"):
        ledger_providers = {p for (p,) in con.execute("select provider from etl.window_ledger union "
                                                       "select provider from etl.cursors").fetchall()}
    providers = sorted({t.split("_", 1)[0] for t in raw if not t.startswith("_dlt")} | ledger_providers)
    for provider in providers:
        store = stores(provider)
        store.prepare(notice)
        with store.access():
            con.execute(f"attach '{store.path}' as {_alias(store)}")
            try:
                _copy_provider(con, provider, raw, _alias(store))
            finally:
                con.execute(f"detach {_alias(store)}")
    con.execute("drop schema raw cascade")
    con.execute("checkpoint")
    notice(f"moved the raw tables of {', '.join(providers) or 'no provider'} out of the work file into one raw "
           f"store per provider (.etl/stores/)")


def _has(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = con.execute("""select count(*) from information_schema.tables where table_catalog = current_database()
                         and table_schema = ? and table_name = ?""", [schema, table]).fetchone()
    return bool(row and row[0])


def _copy_provider(con: duckdb.DuckDBPyConnection, provider: str, raw: list[str], alias: str) -> None:
    con.execute("begin transaction")
    try:
        con.execute(f"create schema if not exists {alias}.raw")
        for table in raw:
            if table.startswith(f"{provider}_"):
                con.execute(f'create or replace table {alias}.raw."{table}" as select * from raw."{table}"')
        dlt_rows = {"_dlt_loads": "schema_name = ?", "_dlt_version": "schema_name = ?",
                    "_dlt_pipeline_state": "pipeline_name = 'campaign_etl_' || ?"}
        for table, belongs in dlt_rows.items():
            if table in raw:
                con.execute(f'create or replace table {alias}.raw."{table}" as select * from raw."{table}" '
                            f"where {belongs}", [provider])
        for table in LEDGER_TABLES:
            if _has(con, "etl", table):
                con.execute(f"delete from {alias}.etl.{table} where provider = ?", [provider])
                con.execute(f"insert into {alias}.etl.{table} by name select * from etl.{table} where provider = ?",
                            [provider])
        con.execute("commit")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")
        raise
