"""Refresh candidates: the campaigns each provider's next run pulls again whatever its windows say.

The rule is SQL, the view ``staging.refresh_candidates`` (``transforms/sql/50_refresh/refresh_candidates.sql``),
created by the transforms; this module only reads it, so "now" is the time of reading.
"""

from __future__ import annotations

import duckdb


def refresh_candidates(con: duckdb.DuckDBPyConnection, provider: str) -> dict[str, list[str]]:
    """account_id -> the ids of ``provider``'s campaigns to pull again, sorted; ``{}`` before the first transform."""
    # asked first rather than caught: a missing relation would make DuckDB look for a Python object of that name
    exists = con.execute("""select count(*) from information_schema.tables
                            where table_schema = 'staging' and table_name = 'refresh_candidates'""").fetchone()
    if not exists or not exists[0]:
        return {}
    rows = con.execute("""select account_id, campaign_id from staging.refresh_candidates
                          where provider = ? order by account_id, campaign_id""", [provider]).fetchall()
    candidates: dict[str, list[str]] = {}
    for account_id, campaign_id in rows:
        candidates.setdefault(str(account_id), []).append(str(campaign_id))
    return candidates
