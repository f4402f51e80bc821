"""The warehouse files: a private work file for loading, an atomic publish for readers, one writer at a time.

DuckDB lets one process write a file, and a reader holding it blocks a writer. So a run never writes the file
BI tools read: it loads and transforms ``.<name>.etl/work.duckdb`` beside it, then copies that file next to the
warehouse and renames the copy over the warehouse (``os.replace``: atomic on one filesystem). A reader that has
the old file open keeps reading the old, complete state; the next connection sees the new one. Nobody ever
sees a half-loaded warehouse, and a BI connection cannot make the nightly load fail.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb

from sources.common.errors import ConfigError, WarehouseBusy, first_line

STORAGE_COMPATIBILITY = "v1.0.0"

ETL_DDL = """
create schema if not exists etl;
create schema if not exists analytics;
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
create table if not exists analytics.load_runs (
    run_id varchar, provider varchar, mode varchar, range_start timestamp, range_end timestamp,
    started_at timestamp, finished_at timestamp, duration_seconds double, outcome varchar, message varchar,
    requests bigint, retries bigint, throttled bigint, bytes_received bigint, records_landed bigint,
    windows_done integer, windows_failed integer, error_count integer, fact_rows_changed bigint,
    fact_rows_total bigint
);
"""


class WorkArea:
    """Paths and the single-writer lock for one warehouse."""

    def __init__(self, warehouse: Path) -> None:
        self.published = warehouse
        self.dir = warehouse.parent / f".{warehouse.name}.etl"
        self.work_db = self.dir / "work.duckdb"
        self.dlt_dir = self.dir / "dlt"
        self.lock_file = self.dir / "run.lock"
        self._lock_handle: object | None = None

    @contextlib.contextmanager
    def locked(self) -> Iterator[WorkArea]:
        """Hold the warehouse's writer lock for the block (another run gets ``WarehouseBusy``)."""
        if not self.published.parent.exists():
            raise ConfigError(f"the warehouse folder {self.published.parent} does not exist.")
        try:
            self.dir.mkdir(exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create {self.dir}: {exc.strerror}.") from None
        handle = open(self.lock_file, "a+")  # noqa: SIM115 - held for the block
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise WarehouseBusy(f"another campaign-etl run is writing {self.published.name} "
                                f"(lock {self.lock_file}); try again when it has finished.") from None
        try:
            yield self
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    def prepare(self) -> None:
        """Make sure the work file exists: seeded from the published warehouse when only that is present."""
        if not self.work_db.exists() and self.published.exists():
            shutil.copyfile(self.published, self.work_db)
        if not self.work_db.exists():
            # The storage format is fixed when a file is created: an older DuckDB (a BI tool's, the duckdb CLI
            # of another version) can then still read the published warehouse.
            duckdb.connect(str(self.work_db), config={"storage_compatibility_version": STORAGE_COMPATIBILITY}).close()
        with self.connect() as con:
            con.execute(ETL_DDL)

    @contextlib.contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection to the work file (only inside ``locked``)."""
        try:
            con = duckdb.connect(str(self.work_db))
        except duckdb.IOException as exc:
            raise WarehouseBusy(f"the work file {self.work_db} is held by another process ({first_line(exc)}).") \
                from None
        try:
            con.execute("set TimeZone = 'UTC'")
            yield con
        finally:
            con.close()

    def publish(self) -> None:
        """Checkpoint the work file and atomically replace the published warehouse with a copy of it."""
        with self.connect() as con:
            con.execute("checkpoint")
        tmp = self.published.with_name(f".{self.published.name}.publishing-{os.getpid()}")
        try:
            shutil.copyfile(self.work_db, tmp)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, self.published)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        stale_wal = self.published.with_name(self.published.name + ".wal")
        with contextlib.suppress(FileNotFoundError):
            stale_wal.unlink()


def read_only(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published warehouse, as a BI tool would open it."""
    if not warehouse.exists():
        raise ConfigError(f"there is no warehouse at {warehouse}; run 'campaign-etl run' or 'campaign-etl demo' "
                          f"first.")
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise WarehouseBusy(f"cannot open {warehouse} for reading ({first_line(exc)}).") from None
    con.execute("set TimeZone = 'UTC'")
    return con
