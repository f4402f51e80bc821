"""The window ledger and the nightly cursor (tables ``etl.window_ledger``, ``etl.cursors``, ``etl.settled``).

Each planned window of a provider is a ledger row (account ``*``, endpoint ``*``) that starts ``pending`` and
becomes ``done`` or ``failed`` once its load is committed; the per-account, per-endpoint outcomes the source
reports are kept beside it. A window is ``done`` only when the source reported it and its rows are in the store,
so a crash costs at most the chunk that was in flight. Whatever is not done is pulled again by the request it
belongs to: a nightly re-pulls its own range (the cursor never passes a window that is not done), a backfill's
leftovers are resumed by running that backfill again (``status`` lists them).

**Settle policy.** Campaign figures keep changing for days after a send, then stop. A nightly re-pulls its
whole lookback except the windows that have *settled*: done, last pulled at least ``settle_days`` (default 7)
after the window ended, that pull holding the same records as the one before it (``digest``: a count and a hash
of every record and error row of the window's pull), and last pulled less than ``recheck_days`` (default 7) ago.
So an old window is skipped only once two pulls agree, then re-checked about once a week; a re-check that finds
a change makes it due every night again until two pulls agree again. ``run --recheck`` pulls every window of the
range, and ``settle_days = 0`` turns the policy off. A backfill always pulls its whole range.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator

import duckdb
import pendulum

from core import clock
from sources.common.raw import ExtractReport, WindowOutcome
from sources.common.windows import Window, utc


def _naive(value: dt.datetime) -> dt.datetime:
    return utc(value).naive()


def _window(start: dt.datetime, grid_end: dt.datetime, now: pendulum.DateTime) -> Window:
    s, g = utc(start), utc(grid_end)
    return Window(start=s, end=min(g, now), grid_end=g)


@contextlib.contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One commit for a whole ledger write: it lands whole or not at all (a crash mid-write leaves the ledger as
    it was), and one commit costs a fraction of a commit per statement."""
    con.execute("begin transaction")
    try:
        yield
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")
        raise
    con.execute("commit")


def get_cursor(con: duckdb.DuckDBPyConnection, provider: str) -> pendulum.DateTime | None:
    row = con.execute("select cursor_at from etl.cursors where provider = ?", [provider]).fetchone()
    return utc(row[0]) if row else None


def set_cursor(con: duckdb.DuckDBPyConnection, provider: str, cursor: dt.datetime, run_id: str) -> None:
    con.execute("insert or replace into etl.cursors values (?, ?, ?, ?)",
                [provider, _naive(cursor), _naive(clock.now()), run_id])


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
    now = _naive(clock.now())
    with _transaction(con):
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
    now = _naive(clock.now())
    by_window: dict[dt.datetime, list[WindowOutcome]] = {}
    for outcome in report.windows:
        by_window.setdefault(_naive(outcome.window.start), []).append(outcome)
    done = failed = 0
    windows = list(windows)
    digests = _digests(con, provider, windows, run_id) if load_failed is None else {}
    with _transaction(con):
        for w in windows:
            outcomes = by_window.get(_naive(w.start), [])
            # the detail rows say how the last pull of the window went, not what earlier pulls left
            con.execute("delete from etl.window_ledger where provider = ? and window_start = ? and account_id <> '*'",
                        [provider, _naive(w.start)])
            _insert_details(con, provider, w, outcomes, run_id, now, load_failed)
            ok = load_failed is None and bool(outcomes) and all(o.ok for o in outcomes)
            reason = load_failed or next((o.reason for o in outcomes if not o.ok), None) or (
                None if outcomes else "the source reported nothing for this window")
            digest = digests.get(utc(w.start)) if ok else None
            con.execute("""
                update etl.window_ledger set status = ?, attempts = attempts + 1, records = ?, fetched_at = ?,
                    last_error = ?, run_id = ?, updated_at = ?, window_end = ?,
                    previous_digest = case when ? is null then previous_digest else digest end,
                    digest = coalesce(?, digest)
                where provider = ? and account_id = '*' and endpoint = '*' and window_start = ?
            """, ["done" if ok else "failed", sum(o.records for o in outcomes), now, reason, run_id, now,
                  _naive(w.end), digest, digest, provider, _naive(w.start)])
            if ok:
                done += 1
            else:
                failed += 1
    return done, failed


def _insert_details(con: duckdb.DuckDBPyConnection, provider: str, w: Window, outcomes: list[WindowOutcome],
                    run_id: str, now: dt.datetime, load_failed: str | None) -> None:
    """The per-account, per-endpoint rows of one window's pull, in one statement (the window's earlier detail rows
    were just deleted): a pair reported more than once keeps its last outcome, its attempts counting them all."""
    last: dict[tuple[str, str], tuple[WindowOutcome, int]] = {}
    for o in outcomes:
        key = (o.account_id, o.endpoint)
        last[key] = (o, last[key][1] + 1 if key in last else 1)
    rows = [[provider, o.account_id, o.endpoint, _naive(w.start), _naive(w.end), _naive(w.grid_end),
             "done" if o.ok and not load_failed else "failed", attempts, o.records, now, o.reason or load_failed,
             run_id, now] for o, attempts in last.values()]
    for at in range(0, len(rows), 500):
        batch = rows[at:at + 500]
        con.execute(f"""
            insert into etl.window_ledger (provider, account_id, endpoint, window_start, window_end, grid_end,
                status, attempts, records, fetched_at, last_error, run_id, updated_at, request_key)
            select *, 'detail' from (values {", ".join("(" + ", ".join("?" * 13) + ")" for _ in batch)})
        """, [value for row in batch for value in row])


def settled(con: duckdb.DuckDBPyConnection, provider: str, windows: Iterable[Window], now: dt.datetime, *,
            settle_days: int, recheck_days: int) -> list[Window]:
    """The windows of ``windows`` a nightly skips as settled (see the module docstring)."""
    if settle_days <= 0:
        return []
    rows = con.execute("""
        select window_start from etl.window_ledger
        where provider = ? and account_id = '*' and status = 'done' and fetched_at is not null
          and grid_end <= fetched_at - to_days(?)
          and fetched_at > ? - to_days(?)
          and digest is not null and previous_digest = digest
    """, [provider, settle_days, _naive(now), recheck_days]).fetchall()
    starts = {utc(r[0]) for r in rows}
    return [w for w in windows if w.start in starts]


def note_settled(con: duckdb.DuckDBPyConnection, provider: str, skipped: list[Window], *, campaigns: int = 0,
                 recheck_days: int) -> None:
    """What the provider's last nightly skipped as settled, for ``status``: how many windows (and campaigns left
    unprobed), and when the first of those windows is due for its re-check."""
    due = None
    if skipped:
        row = con.execute(f"""select min(fetched_at) + to_days(?) from etl.window_ledger
            where provider = ? and account_id = '*' and window_start in ({", ".join("?" for _ in skipped)})""",
                          [recheck_days, provider, *(_naive(w.start) for w in skipped)]).fetchone()
        due = row[0] if row else None
    con.execute("insert or replace into etl.settled values (?, ?, ?, ?, ?)",
                [provider, len(skipped), campaigns, due, _naive(clock.now())])


def _digests(con: duckdb.DuckDBPyConnection, provider: str, windows: list[Window],
             run_id: str) -> dict[dt.datetime, str]:
    """Per window start: a count and a hash of what the window's pull by ``run_id`` found, equal for two pulls
    that found the same: the rows of the window (records and errors), and the rows of the campaigns those name
    that were pulled without a window (a lifetime provider's campaign details, listed by the window)."""
    if not windows:
        return {}
    tables = []
    for (table,) in con.execute("select table_name from information_schema.tables where table_schema = 'raw'"
                                ).fetchall():
        if not table.startswith(f"{provider}_") or table.endswith("_fetches"):
            continue
        columns = {c for (c,) in con.execute("select column_name from information_schema.columns where "
                                             "table_schema = 'raw' and table_name = ?", [table]).fetchall()}
        if {"run_id", "window_start", "campaign_id"} <= columns:
            value = "payload" if "payload" in columns else "concat_ws('|', error_code, reason)"
            tables.append(f'select window_start, campaign_id, hash({value}, campaign_id) as h from raw."{table}" '
                          f"where run_id = $run")
    if not tables:
        return {start: "0:0" for start in (utc(w.start) for w in windows)}
    rows = con.execute(f"""
        with pulled as ({" union all ".join(tables)}),
        windowed as (select * from pulled where window_start in (select unnest($starts::timestamptz[]))),
        listed as (select distinct window_start, campaign_id from windowed where campaign_id is not null),
        unwindowed as (
            select l.window_start, p.h from pulled as p join listed as l on l.campaign_id = p.campaign_id
            where p.window_start is null
        )
        select window_start, count(*), sum(h) from (
            select window_start, h from windowed union all select window_start, h from unwindowed
        ) group by all""", {"run": run_id, "starts": [utc(w.start) for w in windows]}).fetchall()
    sums = {utc(start): (int(count), int(total or 0)) for start, count, total in rows}
    digests: dict[dt.datetime, str] = {}
    for w in windows:
        count, total = sums.get(utc(w.start), (0, 0))
        digests[utc(w.start)] = f"{count}:{total % 2**64:016x}"
    return digests


def earliest_unfinished(con: duckdb.DuckDBPyConnection, provider: str,
                        since: dt.datetime) -> pendulum.DateTime | None:
    """The first window from ``since`` on that is not done (older leftovers, e.g. of a backfill, are retried by
    every run anyway and must not drag the nightly cursor back)."""
    row = con.execute("select min(window_start) from etl.window_ledger where provider = ? and account_id = '*' "
                      "and status <> 'done' and window_start >= ?", [provider, _naive(since)]).fetchone()
    return utc(row[0]) if row and row[0] is not None else None
