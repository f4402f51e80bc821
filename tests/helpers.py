"""Helpers for tests: read the published warehouse as a BI tool would. Import as ``from helpers import ...``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb


def query(path: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` against the published warehouse, read-only (as a BI tool would)."""
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def fact(path: Path, provider: str, *, with_period: bool = False) -> dict[tuple[Any, ...], float]:
    """One provider's fact rows as (account, campaign, breakdown_type, breakdown_value, metric) -> value;
    with ``with_period`` the key ends with period_start (for date-range providers). Fails on duplicate keys."""
    rows = query(path, "select account_id, campaign_id, breakdown_type, breakdown_value, metric, value, "
                       "period_start from analytics.fact_campaign_metrics where provider = ?", [provider])
    out: dict[tuple[Any, ...], float] = {}
    for account, campaign, btype, bvalue, metric, value, period_start in rows:
        key: tuple[Any, ...] = (account, campaign, btype, bvalue, metric)
        if with_period:
            key = (*key, period_start)
        assert key not in out, f"duplicate fact row {key}"
        out[key] = value
    return out
