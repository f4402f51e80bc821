"""Parrot (SMS) API constants and the provider spec (see docs/providers/parrot.md)."""

from __future__ import annotations

from typing import Any

from sources.common.http import HttpClient, HttpPolicy
from sources.common.provider import ConfigKey, ProviderSettings, ProviderSpec
from sources.common.raw import ExtractPlan, ExtractReport

NAME = "parrot"
DEFAULT_ACCOUNT_ID = "me"
# ASSUMPTION (contract notes A3/A4): paths relative to the configured base URL.
POST_CAMPAIGNS = "/accounts/{account_id}/post_campaigns"
METRICS = "/accounts/{account_id}/post_campaigns/{campaign_id}/metrics"
# ASSUMPTION: page is 1-based, page_size at most 100, meta.total_pages.
MAX_PAGE_SIZE = 100
MAX_PAGES = 10_000
# DOC: only published campaigns have metrics.
PUBLISHED = "published"
# DOC: the metrics refresh states; `starting` carries placeholder zeros, `updating` the previous values.
READY, UPDATING, STARTING = "ready", "updating", "starting"
# DOC: re-request about every 5 s while starting/updating. ASSUMPTION: at most 3 re-polls.
POLL_INTERVAL_SECONDS = 5.0
MAX_POLL_ATTEMPTS = 3
MAX_POLL_SECONDS = 60.0
NOT_READY_REASON = "metrics_not_ready"
# Older published campaigns are re-pulled when their newest pull is this old (the lookback covers recent ones).
REPULL_AFTER_DAYS = 7
SECRET_ENV = "SOURCES__PARROT__API_TOKEN"
ACCOUNT_ENV = "SOURCES__PARROT__ACCOUNT_ID"


def auth_headers(secret: str, settings: ProviderSettings | None) -> dict[str, str]:
    """ASSUMPTION A1: ``Authorization: Bearer <API token>``."""
    return {"Authorization": f"Bearer {secret}", "Accept": "application/json"}


def build_source(settings: ProviderSettings, http: HttpClient, plan: ExtractPlan, report: ExtractReport) -> Any:
    from sources.parrot import parrot_source

    return parrot_source(base_url=settings.get("base_url"), api_token=settings.secret,
                         account_id=settings.get("account_id", DEFAULT_ACCOUNT_ID),
                         page_size=settings.get("page_size", MAX_PAGE_SIZE),
                         poll_interval_seconds=settings.get("poll_interval_seconds", POLL_INTERVAL_SECONDS),
                         max_poll_attempts=settings.get("max_poll_attempts", MAX_POLL_ATTEMPTS),
                         max_poll_seconds=settings.get("max_poll_seconds", MAX_POLL_SECONDS),
                         http=http, plan=plan, report=report)


# Re-pulled whatever their window, from each campaign's newest poll record (raw.parrot_polls): metrics loaded stale
# (still updating), never ready (still starting) or failed, and older campaigns whose newest pull is over a week
# old (re-pulled weekly; this also notices a campaign deleted upstream: its probe answers 404 and empties its
# scope, and a campaign whose newest poll was a 404 is not probed again).
REFRESH_SQL = f"""
with polls as (
    select account_id, campaign_id, payload ->> '$.outcome' as outcome, fetched_at
    from raw.parrot_polls
    qualify row_number() over (partition by account_id, campaign_id order by fetched_at desc, fetch_id desc) = 1
)
select account_id, campaign_id
from polls
where outcome in ('stale', 'not_ready', 'failed')
   or (outcome <> 'not_found' and fetched_at < now() - interval {REPULL_AFTER_DAYS} day)
"""

SPEC = ProviderSpec(
    name=NAME,
    secret_key="api_token",
    auth_headers=auth_headers,
    build_source=build_source,
    config_keys=(
        ConfigKey("account_id", default=DEFAULT_ACCOUNT_ID, help="account id, or 'me' for the token's account"),
        ConfigKey("page_size", kind=int, default=MAX_PAGE_SIZE, help="post campaigns per page (1..100)",
                  minimum=1, maximum=MAX_PAGE_SIZE),
        ConfigKey("poll_interval_seconds", kind=float, default=POLL_INTERVAL_SECONDS,
                  help="seconds between two metrics requests of a campaign whose metrics are refreshing", minimum=0),
        ConfigKey("max_poll_attempts", kind=int, default=MAX_POLL_ATTEMPTS,
                  help="re-polls of a refreshing campaign before its last answer is taken", minimum=0),
        ConfigKey("max_poll_seconds", kind=float, default=MAX_POLL_SECONDS,
                  help="total seconds a run waits for refreshing metrics", minimum=0),
    ),
    max_window_days=None,
    default_window_days=7,
    # ASSUMPTION (contract notes): no published limit; <= 5 requests/s overall, 4 at a time.
    default_policy=HttpPolicy(max_concurrency=4, rate_limit_requests=5, rate_limit_period_seconds=1.0,
                              max_attempts=5),
    refresh_sql=REFRESH_SQL,
    lifetime=True,
    windows_per_load=None,
)
