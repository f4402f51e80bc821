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
    store = WorkArea(tmp_path / "w.duckdb").store("p")
    store.path.parent.mkdir(parents=True)
    store.prepare(print)
    with store.connect() as connection:
        connection.execute("create schema raw")  # the provider's dlt dataset
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


def pull(con: duckdb.DuckDBPyConnection, windows: list, run_id: str, at: pendulum.DateTime,
         records: dict[int, list[str]] | None = None) -> None:
    """One nightly pull of ``windows`` by ``run_id`` at ``at``: raw rows (payloads per window index), then the
    ledger's record of it."""
    con.execute("create table if not exists raw.p_items (payload json, campaign_id varchar, run_id varchar, "
                "window_start timestamptz)")
    for index, payloads in (records or {}).items():
        for payload in payloads:
            con.execute("insert into raw.p_items values (?, 'c1', ?, ?)", [payload, run_id, windows[index].start])
    ledger.plan(con, "p", windows, "nightly", run_id)
    report = ExtractReport()
    for w in windows:
        report.window_done("items", "a", w, 1)
    ledger.record(con, "p", windows, report, run_id)
    con.execute("update etl.window_ledger set fetched_at = ? where run_id = ?", [at.naive(), run_id])


def settled_days(con: duckdb.DuckDBPyConnection, windows: list, now: pendulum.DateTime) -> list[str]:
    return [str(w.start.date()) for w in ledger.settled(con, "p", windows, now, settle_days=7, recheck_days=7)]


def test_a_window_settles_once_two_pulls_a_week_after_its_end_agree_and_is_rechecked_weekly(con) -> None:
    con.execute("create schema if not exists raw")
    windows = plan_windows("2026-10-05", "2026-11-25", window_days=7, now=NOW)
    pull(con, windows, "r1", NOW, {0: ['{"clicks": 1}'], 5: ['{"clicks": 2}']})
    assert settled_days(con, windows, NOW) == [], "one pull shows no change yet"
    pull(con, windows, "r2", NOW, {0: ['{"clicks": 1}'], 5: ['{"clicks": 2}']})
    # ended at least 7 days before the pull: the weeks up to the one ending 2026-11-16
    assert settled_days(con, windows, NOW) == ["2026-10-05", "2026-10-12", "2026-10-19", "2026-10-26",
                                               "2026-11-02", "2026-11-09"]
    assert settled_days(con, windows, NOW.add(days=7)) == [], "a week after the pull every window is re-checked"
    assert ledger.settled(con, "p", windows, NOW, settle_days=0, recheck_days=7) == [], "0 turns the policy off"


def test_a_recheck_that_finds_a_change_keeps_the_window_due_until_two_pulls_agree(con) -> None:
    con.execute("create schema if not exists raw")
    windows = plan_windows("2026-10-05", "2026-10-19", window_days=7, now=NOW)
    pull(con, windows, "r0", NOW, {0: ['{"clicks": 1}'], 1: ['{"clicks": 5}']})
    pull(con, windows, "r1", NOW, {0: ['{"clicks": 1}'], 1: ['{"clicks": 5}']})
    assert settled_days(con, windows, NOW) == ["2026-10-05", "2026-10-12"]
    later = NOW.add(days=8)
    pull(con, windows, "r2", later, {0: ['{"clicks": 1}'], 1: ['{"clicks": 6}']})   # late clicks in week 2
    assert settled_days(con, windows, later) == ["2026-10-05"], "the changed window is due again"
    pull(con, windows, "r3", later.add(days=1), {0: ['{"clicks": 1}'], 1: ['{"clicks": 6}']})
    assert settled_days(con, windows, later.add(days=1)) == ["2026-10-05", "2026-10-12"]
