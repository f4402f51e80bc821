"""What the commands print: the run summary and ``status``, read from the published warehouse."""

from __future__ import annotations

import datetime as dt
import json
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pendulum

from core.errors import with_provider
from core.providers import PROVIDER_NAMES
from pipelines import postgres
from pipelines.config import freshness_hours
from pipelines.warehouse import read_only

if TYPE_CHECKING:  # status reads the warehouse only: it does not load the loader's run machinery
    from pipelines.runner import RunResult

WIDTH = 120  # the text of every command fits a terminal this wide (``status --wide`` aside)


def text_table(rows: list[dict[str, Any]]) -> str:
    """Rows as a plain text table: a header, columns right-aligned, ``-`` for missing values."""
    if not rows:
        return "(nothing yet)"
    columns = list(rows[0])
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    lines = [" ".join(column.rjust(width) for column, width in zip(columns, widths, strict=True))]
    lines += [" ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)) for line in cells]
    return "\n".join(lines)


def _fitted_table(rows: list[dict[str, Any]], drop_first: list[str], width: int = WIDTH) -> str:
    """``text_table`` of ``rows``, leaving out the columns of ``drop_first`` (in that order) until it fits ``width``."""
    table = text_table(rows)
    for column in drop_first:
        if max(map(len, table.splitlines())) <= width:
            break
        rows = [{k: v for k, v in row.items() if k != column} for row in rows]
        table = text_table(rows)
    return table


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        return timestamp(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e18:
            return str(int(value))
        return f"{value:g}" if abs(value) < 1e15 else f"{value:.0f}"
    return str(value)


def timestamp(value: dt.datetime) -> str:
    """A time as people read it in a table: UTC, to the second, ``2026-12-02 07:54:49Z``."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%SZ")


def duration(seconds: float | None) -> str:
    """A span in a few characters: ``0.4s``, ``42s``, ``12m05s``, ``5h12m``, ``3d04h``."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{max(seconds, 0):.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, sec = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def _age(hours: float | None) -> str:
    """Freshness (hours since the last good run) as a compact duration; ``never`` without one."""
    if hours is None:
        return "never"
    minutes = round(hours * 60)
    if minutes < 1:
        return "<1m"
    return f"{minutes}m" if minutes < 60 else duration(minutes * 60)


# "EntitySkipped: ", "duckdb.IOException: ": an exception's class name at the start of a message or after its
# "provider: " prefix says nothing to the people reading it
_CLASS_NAME = re.compile(r"(?:^|(?<=: ))(?:[A-Za-z_]\w*\.)*[A-Z][A-Za-z0-9]*"
                         r"(?:Error|Exception|Skipped|Failed|Failure|Exhausted|Timeout|Interrupt|Busy|Full)"
                         r"(?:: |$)")


def plain(message: str) -> str:
    """A message for people: without exception class names, on one line."""
    text = " ".join(message.split())
    return _CLASS_NAME.sub("", text).strip() or text


def _wrapped(text: str, indent: str = "", hanging: str = "    ", width: int = WIDTH) -> list[str]:
    """``text`` in lines of at most ``width``: the first after ``indent``, the next after ``hanging``; a word
    longer than a line (a URL, a path) is cut rather than let through."""
    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent + hanging,
                         break_on_hyphens=False) or [indent]


def _shortened(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def run_summary(result: RunResult) -> str:
    rows = []
    for o in result.outcomes:
        seconds = (o.finished_at - o.started_at).total_seconds() if o.finished_at else 0.0
        rows.append({
            "provider": o.provider, "outcome": o.outcome,
            "windows": f"{o.windows_done}/{o.windows_done + o.windows_failed}", "settled": o.windows_settled,
            "records": o.records, "skipped": o.skipped, "requests": int(o.stats.get("requests", 0)),
            "retries": int(o.stats.get("retries", 0)), "429s": int(o.stats.get("throttled", 0)),
            "fact_rows": o.fact_rows_total, "time": duration(seconds),
        })
    lines = [f"run {result.run_id} -> {result.warehouse}", text_table(rows)]
    for o in result.outcomes:
        if o.message:
            lines += _wrapped(with_provider(o.provider, plain(o.message)))
    if any(o.skipped for o in result.outcomes):
        lines.append("skipped entities are listed in analytics.extraction_errors")
    checks = result.transform.checks if result.transform else []
    bad = [c for c in checks if c.status != "pass"]
    if checks:
        lines.append(f"data quality: {len(checks) - len(bad)} passed, {len(bad)} not passed "
                     f"(analytics.data_quality)")
        for c in bad:
            detail = f"; {_shortened(plain(c.detail))}" if c.detail else ""
            lines += _wrapped(f"{c.status.upper()} {c.check_name} [{c.provider}]: {c.failing_rows} row(s){detail}",
                              indent="  ")
    return "\n".join(lines)


@dataclass
class Status:
    """What ``status`` reports, read from the published warehouse."""

    providers: list[dict[str, Any]]      # one per provider, raw values (datetimes, numbers)
    checks: list[tuple[str, str, str, str, int]]   # (check, provider, status, severity, failing rows), not passing
    settled: dict[str, tuple[Any, ...]]  # provider -> (windows, campaigns, recheck_at) the last nightly skipped
    left: list[tuple[Any, ...]]          # windows not done, per provider and request
    messages: dict[str, str]             # provider -> the message of its last run
    errors: list[tuple[Any, ...]] = field(default_factory=list)  # (provider, code, count, a reason) open errors


def read_status(warehouse: Path) -> Status:
    """Per provider: last run, outcome, cursor, fact rows, freshness, open extraction errors, failing checks."""
    now = pendulum.now("UTC").naive()
    with read_only(warehouse) as con:
        def rows(sql: str) -> list[tuple]:
            try:
                return con.execute(sql).fetchall()
            except (duckdb.CatalogException, duckdb.BinderException):  # what an older warehouse lacks
                return []

        last = {r[0]: r[1:] for r in rows("""
            select provider, finished_at, outcome, mode, message, run_id from analytics.load_runs
            qualify row_number() over (partition by provider order by finished_at desc) = 1""")}
        last_ok = {r[0]: r[1] for r in rows("""
            select provider, max(finished_at) from analytics.load_runs where outcome <> 'failed' group by all""")}
        cursors = {r[0]: r[1] for r in rows("select provider, cursor_at from etl.cursors")}
        facts = {r[0]: r[1:] for r in rows("""
            select provider, count(*), count(distinct campaign_id), max(observed_at)
            from analytics.fact_campaign_metrics group by all""")}
        errors = {r[0]: r[1] for r in rows("""
            select e.provider, count(*) from analytics.extraction_errors e
            join (select provider, run_id from analytics.load_runs
                  qualify row_number() over (partition by provider order by finished_at desc) = 1) l
              on l.provider = e.provider and l.run_id = e.run_id
            group by all""")}
        open_errors = rows("""
            select e.provider, coalesce(e.error_code, 'error'), count(*), min(e.reason)
            from analytics.extraction_errors e
            join (select provider, run_id from analytics.load_runs
                  qualify row_number() over (partition by provider order by finished_at desc) = 1) l
              on l.provider = e.provider and l.run_id = e.run_id
            group by all order by e.provider, count(*) desc, 2""")
        quality = {r[0]: r[1] for r in rows("""
            select provider, count(*) filter (where status = 'error' or status = 'fail' and severity = 'critical')
            from analytics.data_quality group by all""")}
        checks = rows("""select check_name, provider, status, severity, failing_rows
                          from analytics.data_quality where status <> 'pass'
                          order by status, severity, check_name, provider""")
        pending = {r[0]: r[1] for r in rows("""
            select provider, count(*) from etl.window_ledger
            where account_id = '*' and status <> 'done' group by all""")}
        settled = {r[0]: r[1:] for r in rows("select provider, windows, campaigns, recheck_at from etl.settled "
                                             "where windows > 0 or campaigns > 0")}
        left = rows("""
            select provider, request_key, count(*), min(window_start), max(grid_end),
                   arg_max(last_error, updated_at)
            from etl.window_ledger where account_id = '*' and status <> 'done'
            group by all order by provider, request_key""")
    names = [n for n in PROVIDER_NAMES if n in set(last) | set(facts) | set(cursors)]
    providers = []
    for name in names:
        finished, outcome, mode, message, run_id = last.get(name, (None, None, None, None, None))
        fact_rows, campaigns, observed = facts.get(name, (0, 0, None))
        ok_at = last_ok.get(name)
        providers.append({
            "provider": name, "last_run": finished, "run_id": run_id, "mode": mode, "outcome": outcome,
            "message": message,
            "cursor": cursors.get(name), "campaigns": campaigns, "fact_rows": fact_rows, "last_observed": observed,
            "last_good_run": ok_at,
            "freshness_hours": round((now - ok_at).total_seconds() / 3600, 2) if ok_at else None,
            "open_errors": errors.get(name, 0), "pending_windows": pending.get(name, 0),
            "settled_skipped": settled.get(name, (0,))[0], "dq_failing": quality.get(name, 0),
            "failing_checks": sorted({c for c, p, st, _, _ in checks if p == name and st in ("fail", "error")}),
        })
    return Status(providers=providers, checks=[tuple(r) for r in checks], settled=settled, left=left,
                  messages={p["provider"]: p["message"] for p in providers if p["message"]},
                  errors=[tuple(r) for r in open_errors])


# ``status``: the columns of the default view (within ``WIDTH``), and those it leaves out first should a value be
# unusually wide; ``status --wide`` shows every column
_NARROW = ("provider", "last_run", "mode", "outcome", "cursor", "fact_rows", "freshness", "open_errors", "pending")
_DROP_FIRST = ["mode", "pending", "fact_rows", "cursor"]


def status(warehouse: Path, wide: bool = False) -> str:
    """``status`` as text: a table per provider, then what needs attention; within ``WIDTH`` columns unless
    ``wide`` (every column, however wide)."""
    data = read_status(warehouse)
    names = [p["provider"] for p in data.providers]
    out = [{"provider": p["provider"], "last_run": p["last_run"], "run_id": p["run_id"], "mode": p["mode"],
            "outcome": p["outcome"], "cursor": p["cursor"], "campaigns": p["campaigns"], "fact_rows": p["fact_rows"],
            "last_observed": p["last_observed"], "last_good_run": p["last_good_run"],
            "freshness": _age(p["freshness_hours"]), "open_errors": p["open_errors"],
            "pending": p["pending_windows"], "settled_skipped": p["settled_skipped"], "dq_failing": p["dq_failing"]}
           for p in data.providers]
    lines = [f"warehouse {warehouse}"]
    if wide:
        lines.append(text_table([{("pending_windows" if k == "pending" else k): v for k, v in row.items()}
                             for row in out]))
    else:
        lines.append(_fitted_table([{k: row[k] for k in _NARROW} for row in out], _DROP_FIRST))
        if out:
            lines.append("(times UTC; pending: windows not done; 'status --wide' adds run_id, campaigns, "
                         "last_observed, ...)")
    target = postgres.configured_target()
    if target is not None:
        try:
            published = postgres.last_publish(target)
        except postgres.PublishError as exc:
            lines += _wrapped(f"PostgreSQL {target.where}: {plain(str(exc))}")
        else:
            lines.append(f"PostgreSQL {target.where}: " + (
                f"published {_cell(published[0])}, {published[1]} analytics relations" if published
                else "never published"))
    lines += _attention(data, names)
    return "\n".join(lines)


def _attention(data: Status, names: list[str]) -> list[str]:
    """What needs attention, under the table: each item in lines of at most ``WIDTH``."""
    lines: list[str] = []
    failing = list(data.checks)
    if failing:
        lines.append("data quality (analytics.data_quality):")
        for check, provider, state, severity, count in failing:
            lines += _wrapped(f"{state.upper()} {check} [{provider}] ({severity}): {count} row(s)", indent="  ")
    if data.errors:
        lines.append("open extraction errors of the last run (analytics.extraction_errors):")
        for provider, code, count, reason in data.errors:
            example = f", e.g. {_shortened(plain(reason), 200)}" if reason else ""
            lines += _wrapped(f"{provider}: {count} {code}{example}", indent="  ")
    skipping = [(name, *data.settled[name]) for name in names if name in data.settled]
    if skipping:
        lines.append("settled windows the last nightly skipped (re-checked weekly; 'run --recheck' pulls them now):")
        for name, count, campaigns, due in skipping:
            lines += _wrapped(f"{name}: {count} window(s)" + (f", next re-check from {_cell(due)}" if due else "")
                              + (f"; {campaigns} settled campaign(s) not probed" if campaigns else ""), indent="  ")
    if data.left:
        lines.append("windows not done yet (etl.window_ledger):")
        for row in data.left:
            lines += _left_lines(*row)
    said = [name for name in names if name in data.messages]
    if said:
        lines.append("messages of the last runs:")
        for name in said:
            lines += _wrapped(with_provider(name, _shortened(plain(data.messages[name]), 400)), indent="  ")
    return lines


def status_json(warehouse: Path) -> str:
    """``status --json``: one JSON object per provider, one per line, for alerting rules and monitors."""
    threshold = freshness_hours()
    lines = []
    for row in read_status(warehouse).providers:
        age = row["freshness_hours"]
        row = {**row, "stale": age is None or age > threshold, "freshness_threshold_hours": threshold}
        lines.append(json.dumps({key: _json_value(value) for key, value in row.items()}))
    return "\n".join(lines)


def run_summary_json(result: RunResult) -> str:
    """The run summary as JSON lines: one object per provider, then one for the run (``--log-format json``)."""
    lines = []
    for o in result.outcomes:
        lines.append(json.dumps({
            "event": "provider", "run_id": result.run_id, "provider": o.provider, "mode": o.mode,
            "outcome": o.outcome, "message": o.message, "started_at": _json_value(o.started_at),
            "finished_at": _json_value(o.finished_at), "windows_done": o.windows_done,
            "windows_failed": o.windows_failed, "windows_settled": o.windows_settled, "records": o.records,
            "skipped": o.skipped, "requests": int(o.stats.get("requests", 0)),
            "retries": int(o.stats.get("retries", 0)), "throttled": int(o.stats.get("throttled", 0)),
            "fact_rows_changed": o.fact_rows_changed, "fact_rows_total": o.fact_rows_total}))
    checks = result.transform.checks if result.transform else []
    lines.append(json.dumps({
        "event": "run", "run_id": result.run_id, "warehouse": str(result.warehouse), "exit_code": result.exit_code,
        "checks_passed": sum(c.status == "pass" for c in checks),
        "checks_not_passed": [{"check": c.check_name, "provider": c.provider, "status": c.status,
                               "failing_rows": c.failing_rows} for c in checks if c.status != "pass"]}))
    return "\n".join(lines)


def _json_value(value: Any) -> Any:
    """Datetimes as ISO 8601 UTC, the rest as JSON has it."""
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()
    return value


def _left_lines(provider: str, request_key: str, count: int, first: object, last: object,
                error: str | None) -> list[str]:
    """The lines of one provider and request with windows not done: what is left, what pulls it, its last error."""
    span = f"{str(first)[:10]}..{str(last)[:10]}"
    if request_key.startswith("backfill:"):
        _, start, end = request_key.split(":")
        head = f"{provider} backfill {start}..{end}: {count} window(s) in {span} not done"
        then = f"resume with: campaign-etl backfill --start {start} --end {end} --provider {provider}"
    else:
        head = f"{provider} {request_key}: {count} window(s) in {span} not done"
        then = "the next run pulls them"
    lines = _wrapped(head, indent="  ") + _wrapped(then, indent="    ")
    if error:
        lines += _wrapped(f"last error: {_shortened(plain(error), 240)}", indent="    ")
    return lines
