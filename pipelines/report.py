"""What the commands print: the run summary and ``status``, read from the published warehouse."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pendulum

from core.errors import with_provider
from pipelines import postgres
from pipelines.runner import RunResult, freshness_hours
from pipelines.warehouse import read_only
from sources import registry


def _table(rows: list[dict[str, Any]]) -> str:
    """Rows as a plain text table: a header, columns right-aligned, ``-`` for missing values."""
    if not rows:
        return "(nothing yet)"
    columns = list(rows[0])
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    lines = [" ".join(column.rjust(width) for column, width in zip(columns, widths, strict=True))]
    lines += [" ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)) for line in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e15 else f"{value:.0f}"
    return str(value)


def run_summary(result: RunResult) -> str:
    rows = []
    for o in result.outcomes:
        seconds = (o.finished_at - o.started_at).total_seconds() if o.finished_at else 0.0
        rows.append({
            "provider": o.provider, "outcome": o.outcome,
            "windows": f"{o.windows_done}/{o.windows_done + o.windows_failed}", "settled": o.windows_settled,
            "records": o.records, "skipped": o.skipped, "requests": int(o.stats.get("requests", 0)),
            "retries": int(o.stats.get("retries", 0)), "429s": int(o.stats.get("throttled", 0)),
            "fact_rows": o.fact_rows_total, "seconds": round(seconds, 1),
        })
    lines = [f"run {result.run_id} -> {result.warehouse}", _table(rows)]
    for o in result.outcomes:
        if o.message:
            lines.append(with_provider(o.provider, o.message))
    if any(o.skipped for o in result.outcomes):
        lines.append("skipped entities are listed in analytics.extraction_errors")
    checks = result.transform.checks if result.transform else []
    bad = [c for c in checks if c.status != "pass"]
    if checks:
        lines.append(f"data quality: {len(checks) - len(bad)} passed, {len(bad)} not passed "
                     f"(analytics.data_quality)")
        lines += [f"  {c.status.upper()} {c.check_name} [{c.provider}]: {c.failing_rows} row(s); {c.detail or ''}"
                  for c in bad]
    return "\n".join(lines)


@dataclass
class Status:
    """What ``status`` reports, read from the published warehouse."""

    providers: list[dict[str, Any]]      # one per provider, raw values (datetimes, numbers)
    checks: list[tuple[str, str, str, int]]   # (check, provider, status, failing rows) of checks not passing
    settled: dict[str, tuple[Any, ...]]  # provider -> (windows, campaigns, recheck_at) the last nightly skipped
    left: list[tuple[Any, ...]]          # windows not done, per provider and request
    messages: dict[str, str]             # provider -> the message of its last run


def read_status(warehouse: Path) -> Status:
    """Per provider: last run, outcome, cursor, fact rows, freshness, open extraction errors, failing checks."""
    now = pendulum.now("UTC").naive()
    with read_only(warehouse) as con:
        def rows(sql: str) -> list[tuple]:
            try:
                return con.execute(sql).fetchall()
            except duckdb.CatalogException:  # a table an older warehouse does not have yet
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
        quality = {r[0]: r[1] for r in rows("""
            select provider, count(*) filter (where status in ('fail', 'error')) from analytics.data_quality
            group by all""")}
        checks = rows("""select check_name, provider, status, failing_rows from analytics.data_quality
                          where status <> 'pass' order by status, check_name, provider""")
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
    names = [n for n in registry.PROVIDER_NAMES if n in set(last) | set(facts) | set(cursors)]
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
            "failing_checks": sorted({c for c, p, st, _ in checks if p == name and st in ("fail", "error")}),
        })
    return Status(providers=providers, checks=[tuple(r) for r in checks], settled=settled, left=left,
                  messages={p["provider"]: p["message"] for p in providers if p["message"]})


def status(warehouse: Path) -> str:
    """``status`` as text: a table per provider, then what needs attention."""
    data = read_status(warehouse)
    names = [p["provider"] for p in data.providers]
    out = [{"provider": p["provider"], "last_run": p["last_run"], "mode": p["mode"], "outcome": p["outcome"],
            "cursor": p["cursor"], "campaigns": p["campaigns"], "fact_rows": p["fact_rows"],
            "last_observed": p["last_observed"],
            "freshness": f"{p['freshness_hours']:.1f}h" if p["freshness_hours"] is not None else "never",
            "open_errors": p["open_errors"], "pending_windows": p["pending_windows"],
            "settled_skipped": p["settled_skipped"], "dq_failing": p["dq_failing"]} for p in data.providers]
    checks, settled, left = data.checks, data.settled, data.left
    lines = [f"warehouse {warehouse}", _table(out)]
    target = postgres.configured_target()
    if target is not None:
        try:
            published = postgres.last_publish(target)
        except postgres.PublishError as exc:
            lines.append(f"PostgreSQL {target.where}: {exc}")
        else:
            lines.append(f"PostgreSQL {target.where}: " + (
                f"published {_cell(published[0])[:19]} UTC, {published[1]} analytics relations" if published
                else "never published"))
    failing = [r for r in checks if r[2] in ("fail", "error", "warn")]
    if failing:
        lines.append("data quality (analytics.data_quality):")
        lines += [f"  {status.upper()} {check} [{provider}]: {count} row(s)"
                  for check, provider, status, count in failing]
    skipping = [(name, *settled[name]) for name in names if name in settled]
    if skipping:
        lines.append("settled windows the last nightly skipped (re-checked weekly; 'run --recheck' pulls them now):")
        lines += [f"  {name}: {count} window(s)" + (f", next re-check from {_cell(due)}" if due else "")
                  + (f"; {campaigns} settled campaign(s) not probed" if campaigns else "")
                  for name, count, campaigns, due in skipping]
    if left:
        lines.append("windows not done yet (etl.window_ledger):")
        lines += [f"  {_left_line(*row)}" for row in left]
    for name in names:
        if name in data.messages:
            lines.append(with_provider(name, data.messages[name]))
    return "\n".join(lines)


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


def _left_line(provider: str, request_key: str, count: int, first: object, last: object,
               error: str | None) -> str:
    """One line per provider and request with windows not done, and what pulls them."""
    span = f"{str(first)[:10]}..{str(last)[:10]}"
    why = f"; last error: {error[:120]}" if error else ""
    if request_key.startswith("backfill:"):
        _, start, end = request_key.split(":")
        return (f"{provider} backfill {start}..{end}: {count} window(s) in {span} not done{why}; resume with "
                f"'campaign-etl backfill --start {start} --end {end} --provider {provider}'")
    return f"{provider} {request_key}: {count} window(s) in {span} not done{why}; the next run pulls them"
