"""Experiture Public API v1 constants and the provider spec (see docs/providers/experiture.md)."""

from __future__ import annotations

from typing import Any

from sources.common.http import HttpClient, HttpPolicy
from sources.common.provider import ConfigKey, ProviderSettings, ProviderSpec
from sources.common.raw import ExtractPlan, ExtractReport

NAME = "experiture"
# The warehouse account of every Experiture row: the workspace is implied by the token (contract).
ACCOUNT_ID = "default"
CAMPAIGNS = "/campaigns"
SUMMARY = "/campaigns/{campaign_id}/summary"
STATUS = "/campaigns/{campaign_id}/status"
METRICS = "/campaigns/{campaign_id}/metrics"
# DOC: scopes; campaigns:read covers list/summary/status, analytics:read covers metrics.
SCOPE_BY_ENDPOINT = {"campaigns": "campaigns:read", "summary": "campaigns:read", "status": "campaigns:read",
                     "metrics": "analytics:read"}
# ASSUMPTION: limit above 100 is clamped to 100; the client always advances by the returned pagination.limit.
MAX_PAGE_LIMIT = 100
# ASSUMPTION: sortBy accepts createdAt; oldest first keeps new campaigns at the end of the walk.
LIST_SORT = {"sortBy": "createdAt", "sortDirection": "asc"}
# Listings repeated until two consecutive ones agree, at most this many times.
MAX_LISTINGS = 5
MAX_PAGES = 10_000
# DOC execution states; counts still move until completed/failed.
FINAL_STATES = frozenset({"completed", "failed"})
ACTIVE_STATES = frozenset({"scheduled", "pending_or_overdue", "running"})
# States whose counts no longer move (a draft that was never scheduled has none).
SETTLED_STATES = FINAL_STATES | {"not_scheduled"}
SECRET_ENV = "SOURCES__EXPERITURE__ACCESS_TOKEN"


def auth_headers(secret: str, settings: ProviderSettings | None) -> dict[str, str]:
    """DOC: ``Authorization: Bearer <access_token>`` (a JWT from the client-credentials grant)."""
    return {"Authorization": f"Bearer {secret}", "Accept": "application/json"}


def build_source(settings: ProviderSettings, http: HttpClient, plan: ExtractPlan, report: ExtractReport) -> Any:
    from sources.experiture import experiture_source

    return experiture_source(base_url=settings.get("base_url"), access_token=settings.secret,
                             page_size=settings.get("page_size", MAX_PAGE_LIMIT),
                             max_listings=settings.get("max_listings", MAX_LISTINGS),
                             http=http, plan=plan, report=report)


# Campaigns the warehouse holds figures for. Each run probes those missing from the listing: a 404 then means
# deleted, and the campaign's rows are removed (an empty pull of its scope). Listed campaigns need no entry here:
# every listed broadcast's status is read each run, which is what decides whether it is re-pulled.
REFRESH_SQL = """
select distinct account_id, campaign_id
from staging.fact_rows
where provider = 'experiture' and campaign_id is not null
"""

SPEC = ProviderSpec(
    name=NAME,
    secret_key="access_token",
    auth_headers=auth_headers,
    build_source=build_source,
    config_keys=(
        ConfigKey("page_size", kind=int, default=MAX_PAGE_LIMIT,
                  help="campaigns per listing page (the API clamps to 100)", minimum=1, maximum=MAX_PAGE_LIMIT),
        ConfigKey("max_listings", kind=int, default=MAX_LISTINGS,
                  help="how many times the campaign list may be re-read until two readings agree", minimum=2),
    ),
    max_window_days=None,
    default_window_days=7,
    # ASSUMPTION (contract notes): limits unpublished; stay at <= 10 requests/s, 4 at a time; 429 waits out
    # Retry-After, about 6 tries in all.
    default_policy=HttpPolicy(max_concurrency=4, rate_limit_requests=10, rate_limit_period_seconds=1.0,
                              max_attempts=6, max_throttled_attempts=6, default_retry_after_seconds=2.0),
    refresh_sql=REFRESH_SQL,
    lifetime=True,
    # every run lists every campaign anyway: one load for all windows
    windows_per_load=None,
)
