"""The warehouse files: raw stores for loading, a work file for transforming, an atomic publish for readers.

DuckDB lets one process write a file, and a reader holding it blocks a writer. So a run never writes the file
BI tools read. Beside the warehouse, in ``.<name>.etl/``:

* ``stores/<provider>.duckdb``: each provider loads into a raw store of its own (pipelines/stores.py), so
  providers load side by side, in one run or in separate processes, with no lock between them;
* ``work.duckdb``: the transforms read every store and rebuild ``staging`` and ``analytics`` here, under the
  publishing lock (one transform at a time; another run waits its turn);
* the warehouse itself: a copy of the work file, fsynced and renamed over it (``os.replace``: atomic on one
  filesystem), read-only. It holds what BI reads (analytics, the staging tables behind its views, the run log
  and a copy of the ledgers), never raw history, so a publish costs what BI reads. A reader that has the old
  file open keeps reading the old, complete state; the next connection sees the new one. Nobody ever sees a
  half-loaded warehouse, and a BI connection cannot make the nightly load fail.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from core.errors import CampaignEtlError, ConfigError, DiskFull, WarehouseBusy, first_line
from pipelines.stores import LEDGER_DDL, ProviderStore, held, is_lock_conflict, reading, split_legacy_layout

STORAGE_COMPATIBILITY = "v1.0.0"
# DuckDB's buffer pool for the loader's own connections (transforms, ledger) and dlt's loads: DuckDB spills to
# a temp folder beside the work file rather than growing, so the loader's memory stays flat in the history size
# (bench/scale.py: under 500 MiB peak at 20,000 GreenArrow campaigns; 256 MB gave 650 MB for 20 % less transform
# time). A transform batch that cannot fit is redone in halves (transforms.runner.in_batches).
DUCKDB_MEMORY_LIMIT = "128MB"

# the run log, in the work file (the ledger tables beside it are a copy of every store's: pipelines/stores.py)
RUN_LOG_DDL = """
create schema if not exists analytics;
create table if not exists analytics.load_runs (
    run_id varchar, provider varchar, mode varchar, range_start timestamp, range_end timestamp,
    started_at timestamp, finished_at timestamp, duration_seconds double, outcome varchar, message varchar,
    requests bigint, retries bigint, throttled bigint, bytes_received bigint, records_landed bigint,
    windows_done integer, windows_failed integer, error_count integer, fact_rows_changed bigint,
    fact_rows_total bigint
);
-- seconds spent per step (the provider's extract, normalize and load; the run's transform): warehouses made
-- before these columns get them here, appended at the end
alter table analytics.load_runs add column if not exists extract_seconds double;
alter table analytics.load_runs add column if not exists normalize_seconds double;
alter table analytics.load_runs add column if not exists load_seconds double;
alter table analytics.load_runs add column if not exists transform_seconds double;
"""


class WorkArea:
    """Paths and locks of one warehouse.

    Everything a run leaves behind when it is killed is repaired here by the next run, under the publishing
    lock: the temporary copies of an interrupted publish or seeding are removed, and a work file that is damaged
    (truncated, empty, not a DuckDB file) is rebuilt from the published warehouse and the stores, with a
    one-line notice. A work file of the one-file layout (raw inside it) is split into stores once.
    """

    def __init__(self, warehouse: Path) -> None:
        self.published = warehouse
        self.dir = warehouse.parent / f".{warehouse.name}.etl"
        self.work_db = self.dir / "work.duckdb"
        self.stores_dir = self.dir / "stores"
        self.dlt_dir = self.dir / "dlt"
        self.lock_file = self.dir / "publish.lock"
        # what the PostgreSQL target holds, as digests per key (pipelines/postgres.py)
        self.postgres_state = self.dir / "postgres.duckdb"

    @property
    def duckdb_config(self) -> dict[str, str | bool | int | float | list[str]]:
        """The settings of every connection the loader opens to the work file and the stores (dlt's included)."""
        return {"memory_limit": DUCKDB_MEMORY_LIMIT, "temp_directory": str(self.dir / "duckdb.tmp")}

    @property
    def postgres_config(self) -> dict[str, str | bool | int | float | list[str]]:
        """The settings of the connection to the PostgreSQL target's digests (its own temp folder)."""
        return {**self.duckdb_config, "temp_directory": str(self.dir / "postgres.tmp")}

    def ensure(self) -> None:
        """Create the loader's folders beside the warehouse (its own folder must exist)."""
        if not self.published.parent.exists():
            raise ConfigError(f"the warehouse folder {self.published.parent} does not exist.")
        try:
            self.stores_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise disk_error(exc, self.dir) or ConfigError(f"cannot create {self.dir}: {exc.strerror}.") from None

    def store(self, provider: str) -> ProviderStore:
        return ProviderStore(self.stores_dir, provider, self.duckdb_config)

    def stores(self) -> list[ProviderStore]:
        """Every provider's store that exists, by name."""
        return [self.store(path.stem) for path in sorted(self.stores_dir.glob("*.duckdb"))]

    @contextlib.contextmanager
    def publishing(self, notice: Callable[[str], None] = lambda message: None) -> Iterator[WorkArea]:
        """Hold the publishing lock for the block: the work file and the published warehouse are this block's
        alone (another run holding it: wait, saying so once)."""
        self.ensure()
        with held(self.lock_file, notice=notice,
                  waiting=f"another campaign-etl run is transforming {self.published.name}; waiting for it "
                          f"to publish ({self.lock_file})"):
            self._remove_leftovers()
            yield self

    def _remove_leftovers(self) -> None:
        """Temporary files of a publish or a seeding that was killed (only ever written under the lock)."""
        leftovers = [*self.published.parent.glob(f".{self.published.name}.publishing-*"), self._seeding]
        for path in leftovers:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    @property
    def _seeding(self) -> Path:
        return self.dir / "work.duckdb.seeding"

    def prepare(self, notice: Callable[[str], None] = lambda message: None) -> None:
        """Make sure a sound work file exists: seeded from the published warehouse when only that is present,
        rebuilt from it when damaged (``notice`` is told in one line); raw of the one-file layout moved out."""
        if self.work_db.exists():
            problem = self._damage()
            if problem is not None:
                self._discard_work_file()
                source = f"the published {self.published.name}" if self.published.exists() else "scratch"
                notice(f"the work file {self.work_db} was damaged ({problem}); rebuilt from {source} and the "
                       f"raw stores")
        if not self.work_db.exists() and self.published.exists():
            self._seed()
        if not self.work_db.exists():
            # The storage format is fixed when a file is created: an older DuckDB (a BI tool's, the duckdb CLI
            # of another version) can then still read the published warehouse.
            try:
                duckdb.connect(str(self.work_db),
                               config={"storage_compatibility_version": STORAGE_COMPATIBILITY}).close()
            except duckdb.Error as exc:
                raise disk_error(exc, self.work_db) or WorkFileError(
                    f"cannot create the work file {self.work_db} ({first_line(exc)}).") from None
        with self.connect() as con:
            split_legacy_layout(con, self.store, notice)
            con.execute(LEDGER_DDL)
            con.execute(RUN_LOG_DDL)

    def _damage(self) -> str | None:
        """Why the work file cannot be opened, or None when it opens; a lock held elsewhere is not damage."""
        if self.work_db.stat().st_size == 0:
            return "it is empty"
        try:
            duckdb.connect(str(self.work_db), config=self.duckdb_config).close()
        except duckdb.Error as exc:
            if is_lock_conflict(exc):
                raise WarehouseBusy(f"the work file {self.work_db} is held by another process "
                                    f"({first_line(exc)}).") from None
            full = disk_error(exc, self.work_db)
            if full is not None:
                raise full from None
            return first_line(exc)
        return None

    def _discard_work_file(self) -> None:
        for path in (self.work_db, self.work_db.with_name(self.work_db.name + ".wal")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _seed(self) -> None:
        """Copy the published warehouse into the work file, atomically: a kill or a full disk half-way leaves
        only a temporary file that the next run removes, never a truncated work file."""
        try:
            shutil.copyfile(self.published, self._seeding)
            _fsync_file(self._seeding)
            os.replace(self._seeding, self.work_db)
            _fsync_dir(self.dir)
        except OSError as exc:
            with contextlib.suppress(FileNotFoundError):
                self._seeding.unlink()
            raise disk_error(exc, self.dir) or WorkFileError(
                f"cannot copy {self.published} into the work file {self.work_db} ({exc.strerror}).") from None
        try:
            duckdb.connect(str(self.work_db), config=self.duckdb_config).close()
        except duckdb.Error as exc:
            self._discard_work_file()
            raise WorkFileError(f"the published warehouse {self.published} is not a readable DuckDB file "
                                f"({first_line(exc)}); move it aside to start a new one.") from None

    @contextlib.contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection to the work file (only inside ``publishing``)."""
        try:
            con = duckdb.connect(str(self.work_db), config=self.duckdb_config)
        except duckdb.Error as exc:
            if is_lock_conflict(exc):
                raise WarehouseBusy(f"the work file {self.work_db} is held by another process "
                                    f"({first_line(exc)}).") from None
            raise disk_error(exc, self.work_db) or WorkFileError(
                f"cannot open the work file {self.work_db} ({first_line(exc)}).") from None
        try:
            con.execute("set TimeZone = 'UTC'")
            yield con
        finally:
            con.close()

    def publish(self) -> None:
        """Checkpoint the work file and atomically replace the published warehouse with a read-only copy of it.

        The copy is fsynced, then renamed over the warehouse, then the folder is fsynced so the rename itself
        survives a power loss. A WAL beside the published file can only come from a foreign writer (the loader
        never writes that file): it is removed before the rename so DuckDB never replays it into the new state.
        """
        with self.connect() as con:
            try:
                con.execute("checkpoint")
            except duckdb.Error as exc:
                raise disk_error(exc, self.work_db) or WorkFileError(
                    f"cannot checkpoint the work file {self.work_db} ({first_line(exc)}).") from None
        tmp = self.published.with_name(f".{self.published.name}.publishing-{os.getpid()}")
        stale_wal = self.published.with_name(self.published.name + ".wal")
        try:
            shutil.copyfile(self.work_db, tmp)
            os.chmod(tmp, 0o444)  # read-only: a BI tool cannot write it, nor leave a WAL DuckDB would replay
            _fsync_file(tmp)
            with contextlib.suppress(FileNotFoundError):
                stale_wal.unlink()
            os.replace(tmp, self.published)
            _fsync_dir(self.published.parent)
        except OSError as exc:
            raise disk_error(exc, self.published.parent, publishing=self.published) or WorkFileError(
                f"cannot publish {self.published} ({exc.strerror}); the published warehouse is unchanged."
            ) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


class WorkFileError(CampaignEtlError):
    """The work file or the published warehouse cannot be read or written: exit 1."""



_DISK_FULL_TEXT = ("No space left on device", "Disk quota exceeded", "disk is full", "out of disk space")


def disk_error(exc: BaseException, path: Path, *, publishing: Path | None = None) -> DiskFull | None:
    """``DiskFull`` naming ``path`` when ``exc`` (or an error it wraps) says the disk is full, else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        full = (isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT)) or any(
            text in str(current) for text in _DISK_FULL_TEXT)
        if full:
            where = getattr(current, "filename", None) or path
            tail = (f" while publishing {publishing.name}; the published warehouse is unchanged" if publishing
                    else "; nothing was published")
            return DiskFull(f"no space left on the device of {where}{tail}. Free some space and run again.")
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__
    return None


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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


@contextlib.contextmanager
def raw_reader(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The published warehouse with every provider store's raw tables as catalog ``raw``, all read-only: for
    looking at raw records beside the analytics built from them (``raw.<provider>_<endpoint>``). Loads of the
    stores wait while it is open."""
    if not warehouse.exists():
        raise ConfigError(f"there is no warehouse at {warehouse}; run 'campaign-etl run' or 'campaign-etl demo' "
                          f"first.")
    con = duckdb.connect()
    try:
        try:
            con.execute(f"attach '{warehouse}' as warehouse (read_only)")
        except duckdb.Error as exc:
            raise WarehouseBusy(f"cannot open {warehouse} for reading ({first_line(exc)}).") from None
        con.execute("use warehouse")
        con.execute("set TimeZone = 'UTC'")
        with reading(con, WorkArea(warehouse).stores()):
            yield con
    finally:
        con.close()
