"""Data quality: the ``check`` models, run after the run log is written; results replace ``analytics.data_quality``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from core import clock
from core.errors import first_line
from transforms.models import SQL_DIR, load_models, runner_sql


@dataclass
class CheckResult:
    check_name: str
    provider: str
    severity: str          # what a failure would mean: critical, warning (transforms.models.SEVERITIES)
    status: str            # what happened: pass, fail, error (the check could not run)
    failing_rows: int
    detail: str | None
    description: str = ""


def run_checks(con: duckdb.DuckDBPyConnection, *, run_id: str | None = None, freshness_hours: float = 26.0,
               sql_dir: Path = SQL_DIR) -> list[CheckResult]:
    """Run every ``check`` model; results replace ``analytics.data_quality``. A check never raises: a check
    that cannot run is reported with status ``error``. One row per check and provider it applies to (its
    ``applies_to`` header; every provider when it has none) among the providers with facts or runs, and per
    provider it found failing rows of."""
    con.execute(runner_sql("data_quality"))
    con.execute(f"set variable freshness_hours = {float(freshness_hours)}")
    # the loader's now (core.clock: the real now, unless the demo loads a simulated day), read by the freshness
    # check and stamped on the results
    checked_at = clock.now().naive()
    con.execute("set variable checked_at = ?::timestamp", [checked_at])
    providers = [r[0] for r in con.execute("""
        select provider from staging.fact_rows union select provider from analytics.load_runs
        order by 1""").fetchall()]
    results: list[CheckResult] = []
    for model in load_models(sql_dir):
        if model.kind != "check":
            continue
        severity, description = model.severity, model.description
        try:
            rows = con.execute(f"select provider, detail from (\n{model.body}\n)").fetchall()
            applies = set(providers)
            if model.applies_to is not None:
                applies &= {str(r[0]) for r in con.execute(model.applies_to).fetchall()}
        except duckdb.Error as exc:
            results.append(CheckResult(model.name, "*", severity, "error", 0, first_line(exc)[:500], description))
            continue
        failing: dict[str, list[str]] = {}
        for provider, detail in rows:
            failing.setdefault(str(provider), []).append(str(detail))
        for provider in sorted(applies | set(failing)):
            details = failing.get(provider, [])
            sample = "; ".join(details[:3]) + (f" (+{len(details) - 3} more)" if len(details) > 3 else "")
            results.append(CheckResult(model.name, provider, severity, "fail" if details else "pass", len(details),
                                       sample or None, description))
    con.execute("delete from analytics.data_quality")
    if results:
        con.executemany("insert into analytics.data_quality (check_name, provider, severity, status, failing_rows, "
                        "detail, run_id, checked_at, description) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [(r.check_name, r.provider, r.severity, r.status, r.failing_rows, r.detail, run_id,
                          checked_at, r.description) for r in results])
    return results
