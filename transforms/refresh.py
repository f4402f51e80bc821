"""Refresh candidates: the campaigns each provider's next run pulls again whatever its windows say; and the
settled and dormant campaigns a nightly need not probe.

The refresh rule is SQL, the view ``staging.refresh_candidates`` (``transforms/sql/50_refresh/refresh_candidates.sql``),
created by the transforms; this module only reads it, so "now" is the time of reading.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from transforms.relations import raw_tables


def _exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    """Whether the relation exists (before the first transform it does not; raw may be landed without one).
    Asked first rather than caught: a missing relation would make DuckDB look for a Python object of that name."""
    row = con.execute("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                      [schema, name]).fetchone()
    return bool(row and row[0])


def refresh_candidates(con: duckdb.DuckDBPyConnection, provider: str) -> dict[str, list[str]]:
    """account_id -> the ids of ``provider``'s campaigns to pull again, sorted; ``{}`` before the first transform."""
    if not _exists(con, "staging", "refresh_candidates"):
        return {}
    rows = con.execute("""select account_id, campaign_id from staging.refresh_candidates
                          where provider = ? order by account_id, campaign_id""", [provider]).fetchall()
    candidates: dict[str, list[str]] = {}
    for account_id, campaign_id in rows:
        candidates.setdefault(str(account_id), []).append(str(campaign_id))
    return candidates


def settled_campaigns(con: duckdb.DuckDBPyConnection, provider: str, *, states: tuple[str, ...], now: object,
                      settle_days: int, recheck_days: int, since: str = "finished_at", endpoint: str | None = None,
                      figures: str = "payload",
                      tables: tuple[str, ...] = ("metrics", "summaries")) -> dict[str, list[str]]:
    """account_id -> the campaigns a nightly may leave unpulled: their status is one of ``states``, their last two
    pulls were both made at least ``settle_days`` after their ``since`` moment (``dim_campaign`` column) and found
    the same ``figures`` (SQL over a raw record's ``payload``, in the raw ``tables`` of the provider), and the
    newer is less than ``recheck_days`` old
    (the campaign twin of the window settle policy in ``pipelines/ledger.py``; ``sources.common.provider.
    CampaignSettling`` says it per provider); ``{}`` when ``states`` is empty or the policy is off."""
    if not states or settle_days <= 0:
        return {}
    if since not in ("finished_at", "started_at"):
        raise ValueError(f"settled campaigns count from finished_at or started_at, not {since!r}")
    present = set(raw_tables(con))
    held = [f"{provider}_{t}" for t in tables if f"{provider}_{t}" in present]
    if f"{provider}_fetches" not in present or not held or not _exists(con, "analytics", "dim_campaign"):
        return {}
    records = " union all ".join(f'select fetch_id, {figures} as figures from raw."{t}"' for t in held)
    rows = con.execute(f"""
        with pulls as (
            select account_id, campaign_id, fetch_id, fetched_at::timestamp as pulled_at,
                row_number() over (partition by account_id, campaign_id order by fetched_at desc) as n
            from raw."{provider}_fetches" where campaign_id is not null and (?::varchar is null or endpoint = ?)
            qualify n <= 2
        ),
        digests as (
            select p.account_id, p.campaign_id, p.n, p.pulled_at,
                count(r.figures) || ':' || coalesce(sum(hash(r.figures)), 0) as digest
            from pulls as p left join ({records}) as r on r.fetch_id = p.fetch_id
            group by all
        ),
        pairs as (
            select account_id, campaign_id, max(pulled_at) as newest, min(pulled_at) as older,
                count(distinct digest) as digests, count(*) as pulls
            from digests group by all
        )
        select d.account_id, d.campaign_id
        from analytics.dim_campaign as d
        join pairs as p on p.account_id = d.account_id and p.campaign_id = d.campaign_id
        where d.provider = ? and d.status in ({", ".join("?" for _ in states)}) and d.{since} is not null
          and p.pulls = 2 and p.digests = 1
          and p.older >= d.{since} + to_days(?)
          and p.newest > ?::timestamp - to_days(?)
        order by 1, 2""", [endpoint, endpoint, provider, *states, settle_days, now, recheck_days]).fetchall()
    settled: dict[str, list[str]] = {}
    for account_id, campaign_id in rows:
        settled.setdefault(str(account_id), []).append(str(campaign_id))
    return settled


def dormant_campaigns(con: duckdb.DuckDBPyConnection, provider: str, *, states: tuple[str, ...], before: object,
                      settle_days: int, since: str = "finished_at", endpoint: str | None = None,
                      static_states: tuple[str, ...] = ()) -> dict[str, dict[str, dt.datetime]]:
    """account_id -> {campaign id: its newest pull} for the held campaigns that cannot move until the provider
    shows a change: those that ended before ``before`` (the nightly's first window; status one of ``states``,
    ``since`` moment and ``started_at`` both before ``before``, newest pull made at least ``settle_days`` after
    ``since``), and those whose status is one of ``static_states`` (no execution at all: a draft). A source that
    probes every listed campaign skips the figures of the first kind anyway once the probe shows it still final
    and outside the windows; the runner lets it leave the probe out while that pull is recent
    (``ExtractPlan.dormant``). ``{}`` when there are no states or the policy is off."""
    if not (states or static_states) or settle_days <= 0:
        return {}
    if since not in ("finished_at", "started_at"):
        raise ValueError(f"dormant campaigns count from finished_at or started_at, not {since!r}")
    if f"{provider}_fetches" not in set(raw_tables(con)) or not _exists(con, "analytics", "dim_campaign"):
        return {}
    ended = ", ".join("?" for _ in states) or "null"
    static = ", ".join("?" for _ in static_states) or "null"
    rows = con.execute(f"""
        with pulls as (
            select account_id, campaign_id, max(fetched_at::timestamp) as newest
            from raw."{provider}_fetches" where campaign_id is not null and (?::varchar is null or endpoint = ?)
            group by all
        )
        select d.account_id, d.campaign_id, p.newest
        from analytics.dim_campaign as d
        join pulls as p on p.account_id = d.account_id and p.campaign_id = d.campaign_id
        where d.provider = ?
          and ((d.status in ({ended}) and d.{since} < ?::timestamp
                and coalesce(d.started_at, d.{since}) < ?::timestamp and p.newest >= d.{since} + to_days(?))
               or d.status in ({static}))
        order by 1, 2""", [endpoint, endpoint, provider, *states, before, before, settle_days,
                           *static_states]).fetchall()
    dormant: dict[str, dict[str, dt.datetime]] = {}
    for account_id, campaign_id, newest in rows:
        dormant.setdefault(str(account_id), {})[str(campaign_id)] = newest
    return dormant
