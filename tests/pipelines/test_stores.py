"""The raw stores: a warehouse of the one-file layout (raw and the ledger inside the work file) is split into one
store per provider on its next run, with nothing pulled again and the same analytics; and two processes of one
provider share its rate budget (the limiter of the next one counts what the previous one sent)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import duckdb
import pendulum
from helpers import fact, query

from pipelines.stores import LEDGER_TABLES
from pipelines.warehouse import WorkArea
from simulators.greenarrow import GreenArrowSim
from sources.common.http import RateLimiter

NOW = pendulum.now("UTC")


def to_one_file_layout(warehouse: Path) -> None:
    """Move every store's raw tables and ledger back into the work file, as the one-file layout kept them."""
    area = WorkArea(warehouse)
    with duckdb.connect(str(area.work_db)) as con:
        con.execute("create schema raw")
        for store in area.stores():
            con.execute(f"attach '{store.path}' as old (read_only)")
            for (table,) in con.execute("select table_name from information_schema.tables "
                                        "where table_catalog = 'old' and table_schema = 'raw'").fetchall():
                con.execute(f'create table raw."{table}" as select * from old.raw."{table}"')
            for table in LEDGER_TABLES:
                con.execute(f"delete from etl.{table} where provider = ?", [store.provider])
                con.execute(f"insert into etl.{table} select * from old.etl.{table}")
            con.execute("detach old")
    shutil.rmtree(area.stores_dir)


def test_a_warehouse_of_the_one_file_layout_is_split_into_stores(configure, run_cli, warehouse: Path, capsys,
                                                                 monkeypatch) -> None:
    monkeypatch.delenv("CAMPAIGN_ETL_QUIET")
    sim = GreenArrowSim(now=NOW, lists=2, campaigns_per_list=4, days=30, max_links=600)
    configure(sim, start_days=35)
    assert run_cli("run", "--warehouse", warehouse) == 0
    expected = fact(warehouse, "greenarrow")
    (cursor,), = query(warehouse, "select cursor_at from etl.cursors where provider = 'greenarrow'")
    to_one_file_layout(warehouse)
    work = WorkArea(warehouse).work_db

    assert run_cli("transform", "--warehouse", warehouse) == 0, "rebuilt from the raw the work file held"
    assert "moved the raw tables of greenarrow out of the work file" in capsys.readouterr().err
    assert fact(warehouse, "greenarrow") == expected
    with duckdb.connect(str(work), read_only=True) as con:
        assert con.execute("select count(*) from information_schema.schemata where catalog_name = "
                           "current_database() and schema_name = 'raw'").fetchone() == (0,)
    assert query(warehouse, "select cursor_at from etl.cursors where provider = 'greenarrow'") == [(cursor,)]

    pulled = len(sim.log)
    sim.grow()
    assert run_cli("run", "--warehouse", warehouse) == 0
    (range_start,), = query(warehouse, "select max(range_start) from analytics.load_runs")
    assert range_start > pendulum.instance(NOW).subtract(days=35).naive(), "the nightly went on from its cursor"
    assert len(sim.log) > pulled
    assert fact(warehouse, "greenarrow") == sim.truth_fact_rows()


def test_the_next_limiter_counts_what_the_previous_process_sent() -> None:
    first = RateLimiter(3, 2.0)
    for _ in range(3):
        first.acquire()
    handed_over = first.recent()
    assert len(handed_over) == 3 and all(t <= time.time() for t in handed_over)
    second = RateLimiter(3, 2.0)
    second.seed(handed_over)
    started = time.monotonic()
    second.acquire()
    assert time.monotonic() - started >= 1.5, "the fourth request of the period waits for a slot to free"
    stale = RateLimiter(3, 2.0)
    stale.seed([time.time() - 10.0] * 3)
    started = time.monotonic()
    stale.acquire()
    assert time.monotonic() - started < 0.5, "requests older than the period no longer count"
