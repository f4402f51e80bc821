"""The window ledger and the nightly cursor on their own, against a real DuckDB file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pendulum
import pytest

from pipelines import ledger
from pipelines.warehouse import WorkArea
from sources.common.raw import ExtractReport
from sources.common.windows import plan_windows

NOW = pendulum.datetime(2026, 11, 25, 12, tz="UTC")   # a Wednesday


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    area = WorkArea(tmp_path / "w.duckdb")
    with area.locked():
        area.prepare()
        with area.connect() as connection:
            yield connection


def statuses(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.execute("select window_start, status from etl.window_ledger where account_id = '*' "
                       "order by window_start").fetchall()
    return {str(start.date()): status for start, status in rows}


def test_planned_windows_are_pending_until_their_outcome_is_recorded(con) -> None:
    windows = plan_windows("2026-11-02", "2026-11-20", window_days=7, now=NOW)
    ledger.plan(con, "p", windows, "nightly", "run1")
    assert set(statuses(con).values()) == {"pending"}
    report = ExtractReport()
    report.window_done("campaigns", "a", windows[0], 3)
    report.window_failed("campaigns", "a", windows[1], "HTTP 503")
    done, failed = ledger.record(con, "p", windows, report, "run1")
    assert (done, failed) == (1, 2)
    assert statuses(con) == {"2026-11-02": "done", "2026-11-09": "failed", "2026-11-16": "failed"}
    reasons = dict(con.execute("select cast(window_start as date)::varchar, last_error from etl.window_ledger "
                               "where account_id = '*'").fetchall())
    assert reasons["2026-11-09"] == "HTTP 503"
    assert reasons["2026-11-16"] == "the source reported nothing for this window"


def test_a_failed_load_fails_every_window_of_the_chunk(con) -> None:
    windows = plan_windows("2026-11-02", "2026-11-16", window_days=7, now=NOW)
    ledger.plan(con, "p", windows, "nightly", "run1")
    report = ExtractReport()
    for w in windows:
        report.window_done("campaigns", "a", w, 1)
    assert ledger.record(con, "p", windows, report, "run1", load_failed="disk error") == (0, 2)
    assert set(statuses(con).values()) == {"failed"}


def test_backfill_leftovers_belong_to_their_request(con) -> None:
    windows = plan_windows("2026-10-05", "2026-10-19", window_days=7, now=NOW)
    key = "backfill:2026-10-05:2026-10-18"
    ledger.plan(con, "p", windows, key, "run1")
    assert ledger.has_request(con, "p", key) and not ledger.has_request(con, "p", "backfill:x:y")
    assert [w.start for w in ledger.unfinished(con, "p", NOW, key)] == [w.start for w in windows]
    assert ledger.unfinished(con, "p", NOW, "nightly") == []


def test_a_window_on_another_grid_is_replaced_by_the_cells_that_cover_it(con) -> None:
    weekly = plan_windows("2026-11-16", "2026-11-23", window_days=7, now=NOW)
    ledger.plan(con, "p", weekly, "nightly", "run1")
    assert ledger.cells_overlapping(con, "p", pendulum.datetime(2026, 11, 18, tz="UTC"),
                                    pendulum.datetime(2026, 11, 19, tz="UTC")) == [
        (weekly[0].start, weekly[0].grid_end)]
    daily = plan_windows("2026-11-16", "2026-11-23", window_days=1, now=NOW)
    ledger.plan(con, "p", daily, "nightly", "run2")
    rows = con.execute("select window_start, grid_end - window_start from etl.window_ledger "
                       "where account_id = '*' order by 1").fetchall()
    assert len(rows) == 7 and {r[1].days for r in rows} == {1}, "the week's cell is gone, seven days replace it"


def test_the_cursor_round_trips_and_the_earliest_unfinished_window_holds_it_back(con) -> None:
    assert ledger.get_cursor(con, "p") is None
    ledger.set_cursor(con, "p", NOW, "run1")
    assert ledger.get_cursor(con, "p") == NOW
    windows = plan_windows("2026-11-02", "2026-11-23", window_days=7, now=NOW)
    ledger.plan(con, "p", windows, "nightly", "run1")
    report = ExtractReport()
    for w in windows[:2]:
        report.window_done("campaigns", "a", w, 1)
    ledger.record(con, "p", windows, report, "run1")
    assert ledger.earliest_unfinished(con, "p", windows[0].start) == windows[2].start
    assert ledger.earliest_unfinished(con, "p", windows[2].grid_end) is None
