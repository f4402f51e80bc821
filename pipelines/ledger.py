"""The window ledger and the nightly cursor (tables ``etl.window_ledger`` and ``etl.cursors``).

Each planned window of a provider is a ledger row (account ``*``, endpoint ``*``) that starts ``pending`` and
becomes ``done`` or ``failed`` once its load is committed; the per-account, per-endpoint outcomes the source
reports are kept beside it. A window is ``done`` only when the source reported it and its rows are in the store,
so a crash costs at most the chunk that was in flight. Whatever is not done is pulled again by the request it
belongs to: a nightly re-pulls its own range (the cursor never passes a window that is not done), a backfill's
leftovers are resumed by running that backfill again (``status`` lists them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import duckdb
import pendulum

from sources.common.raw import ExtractReport
from sources.common.windows import Window, utc


def _naive(value: dt.datetime) -> dt.datetime:
    return utc(value).naive()


def _window(start: dt.datetime, grid_end: dt.datetime, now: pendulum.DateTime) -> Window:
    s, g = utc(start), utc(grid_end)
    return Window(start=s, end=min(g, now), grid_end=g)


def get_cursor(con: duckdb.DuckDBPyConnection, provider: str) -> pendulum.DateTime | None:
    row = con.execute("select cursor_at from etl.cursors where provider = ?", [provider]).fetchone()
    return utc(row[0]) if row else None


def set_cursor(con: duckdb.DuckDBPyConnection, provider: str, cursor: dt.datetime, run_id: str) -> None:
    con.execute("insert or replace into etl.cursors values (?, ?, ?, ?)",
                [provider, _naive(cursor), _naive(pendulum.now("UTC")), run_id])


def unfinished(con: duckdb.DuckDBPyConnection, provider: str, now: pendulum.DateTime,
               request_key: str | None = None) -> list[Window]:
    """Windows planned earlier and not done (optionally of one request only)."""
    sql = ("select window_start, grid_end from etl.window_ledger where provider = ? and account_id = '*' "
           "and status <> 'done'")
    params: list[object] = [provider]
    if request_key is not None:
        sql += " and request_key = ?"
        params.append(request_key)
    return [_window(s, g, now) for s, g in con.execute(sql + " order by window_start", params).fetchall()]


def has_request(con: duckdb.DuckDBPyConnection, provider: str, request_key: str) -> bool:
    row = con.execute("select count(*) from etl.window_ledger where provider = ? and account_id = '*' "
                      "and request_key = ?", [provider, request_key]).fetchone()
    return bool(row and row[0])


def cells_overlapping(con: duckdb.DuckDBPyConnection, provider: str, start: dt.datetime,
                      end: dt.datetime) -> list[tuple[pendulum.DateTime, pendulum.DateTime]]:
    """(start, grid end) of every ledger cell of the provider that overlaps ``[start, end)``."""
    rows = con.execute("select window_start, grid_end from etl.window_ledger where provider = ? and account_id = '*' "
                       "and window_start < ? and grid_end > ?", [provider, _naive(end), _naive(start)]).fetchall()
    return [(utc(s), utc(e)) for s, e in rows]


def plan(con: duckdb.DuckDBPyConnection, provider: str, windows: Iterable[Window], request_key: str,
         run_id: str) -> None:
    """Record windows as pending for this request (a done window is re-opened: it is being re-pulled).

    Cells of another grid that a planned window overlaps are dropped: the planner widened the range so that the
    new cells cover them, and their pulls are replaced (see the transforms' superseded scopes).
    """
    now = _naive(pendulum.now("UTC"))
    for w in windows:
        con.execute("""delete from etl.window_ledger where provider = ? and window_start < ? and grid_end > ?
                       and not (window_start = ? and grid_end = ?)""",
                    [provider, _naive(w.grid_end), _naive(w.start), _naive(w.start), _naive(w.grid_end)])
        con.execute("""
            insert into etl.window_ledger (provider, account_id, endpoint, window_start, window_end, grid_end,
                request_key, status, attempts, run_id, updated_at)
            values (?, '*', '*', ?, ?, ?, ?, 'pending', 0, ?, ?)
            on conflict (provider, account_id, endpoint, window_start) do update set
                window_end = excluded.window_end, grid_end = excluded.grid_end, request_key = excluded.request_key,
                status = 'pending', run_id = excluded.run_id, updated_at = excluded.updated_at
        """, [provider, _naive(w.start), _naive(w.end), _naive(w.grid_end), request_key, run_id, now])


def record(con: duckdb.DuckDBPyConnection, provider: str, windows: Iterable[Window], report: ExtractReport,
           run_id: str, *, load_failed: str | None = None) -> tuple[int, int]:
    """Write the outcome of one loaded chunk; returns (windows done, windows failed).

    A window is done only when the source reported it and every account and endpoint of it succeeded, and the
    chunk's load was committed (``load_failed`` is None); a window the source said nothing about was not pulled.
    """
    now = _naive(pendulum.now("UTC"))
    by_window: dict[dt.datetime, list] = {}
    for outcome in report.windows:
        by_window.setdefault(_naive(outcome.window.start), []).append(outcome)
    done = failed = 0
    for w in windows:
        outcomes = by_window.get(_naive(w.start), [])
        # the detail rows say how the last pull of the window went, not what earlier pulls left
        con.execute("delete from etl.window_ledger where provider = ? and window_start = ? and account_id <> '*'",
                    [provider, _naive(w.start)])
        for o in outcomes:
            con.execute("""
                insert or replace into etl.window_ledger (provider, account_id, endpoint, window_start, window_end,
                    grid_end, request_key, status, attempts, records, fetched_at, last_error, run_id, updated_at)
                values (?, ?, ?, ?, ?, ?, 'detail', ?, coalesce((select attempts from etl.window_ledger
                    where provider = ? and account_id = ? and endpoint = ? and window_start = ?), 0) + 1,
                    ?, ?, ?, ?, ?)
            """, [provider, o.account_id, o.endpoint, _naive(w.start), _naive(w.end), _naive(w.grid_end),
                  "done" if o.ok and not load_failed else "failed", provider, o.account_id, o.endpoint,
                  _naive(w.start), o.records, now, o.reason or load_failed, run_id, now])
        ok = load_failed is None and bool(outcomes) and all(o.ok for o in outcomes)
        reason = load_failed or next((o.reason for o in outcomes if not o.ok), None) or (
            None if outcomes else "the source reported nothing for this window")
        con.execute("""
            update etl.window_ledger set status = ?, attempts = attempts + 1, records = ?, fetched_at = ?,
                last_error = ?, run_id = ?, updated_at = ?, window_end = ?
            where provider = ? and account_id = '*' and endpoint = '*' and window_start = ?
        """, ["done" if ok else "failed", sum(o.records for o in outcomes), now, reason, run_id, now,
              _naive(w.end), provider, _naive(w.start)])
        if ok:
            done += 1
        else:
            failed += 1
    return done, failed


def earliest_unfinished(con: duckdb.DuckDBPyConnection, provider: str,
                        since: dt.datetime) -> pendulum.DateTime | None:
    """The first window from ``since`` on that is not done (older leftovers, e.g. of a backfill, are retried by
    every run anyway and must not drag the nightly cursor back)."""
    row = con.execute("select min(window_start) from etl.window_ledger where provider = ? and account_id = '*' "
                      "and status <> 'done' and window_start >= ?", [provider, _naive(since)]).fetchone()
    return utc(row[0]) if row and row[0] is not None else None
