"""Insider One web push statistics API constants and the provider spec (see docs/providers/insider.md)."""

from __future__ import annotations

from typing import Any

from sources.common.http import HttpClient, HttpPolicy
from sources.common.provider import ConfigKey, ProviderSettings, ProviderSpec
from sources.common.raw import ExtractPlan, ExtractReport

NAME = "insider"
OVERALL_METRICS = "/v1/statistics/overall-metrics"
CAMPAIGN_METRICS = "/v1/statistics/campaign-metrics"
# DOC: page is 1-based; per_page defaults to 10 and may not exceed 20.
FIRST_PAGE = 1
MAX_PER_PAGE = 20
# DOC: 30 requests per minute, shared by both statistics endpoints.
RATE_LIMIT_REQUESTS = 30
RATE_LIMIT_PERIOD_SECONDS = 60.0
# DOC: Retry-After is only sometimes sent; without it wait out a whole limit period.
DEFAULT_RETRY_AFTER_SECONDS = 60.0
# DOC: 424 "Campaign not found" may be a passing upstream failure: one retry (two attempts) before skipping.
CAMPAIGN_NOT_FOUND_ATTEMPTS = 2
SECRET_ENV = "SOURCES__INSIDER__API_KEY"
PARTNER_ENV = "SOURCES__INSIDER__PARTNER_ID"


def is_throttle(status: int, text: str) -> bool:
    """DOC (older docs, status-code page): throttling may come as 403 "Request limit exceeded"."""
    return status == 403 and "request limit" in text.lower()


def auth_headers(secret: str, settings: ProviderSettings | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", "Accept": "application/json"}


def http_options(settings: ProviderSettings) -> dict[str, Any]:
    return {"is_throttle": is_throttle, "extra_retry": {424: CAMPAIGN_NOT_FOUND_ATTEMPTS}}


def build_source(settings: ProviderSettings, http: HttpClient, plan: ExtractPlan, report: ExtractReport) -> Any:
    from sources.insider import insider_source

    return insider_source(base_url=settings.get("base_url"), partner_id=settings.get("partner_id"),
                          api_key=settings.secret, http=http, plan=plan, report=report)


SPEC = ProviderSpec(
    name=NAME,
    secret_key="api_key",
    auth_headers=auth_headers,
    build_source=build_source,
    config_keys=(
        ConfigKey("partner_id", required=True, help="the Insider partner id, sent as a string in every body"),
    ),
    # No documented maximum range; 406 refuses data older than a year, which the source records and skips.
    max_window_days=None,
    default_window_days=7,
    default_policy=HttpPolicy(rate_limit_requests=RATE_LIMIT_REQUESTS,
                              rate_limit_period_seconds=RATE_LIMIT_PERIOD_SECONDS,
                              default_retry_after_seconds=DEFAULT_RETRY_AFTER_SECONDS,
                              max_concurrency=4),
    lifetime=False,
    http_options=http_options,
)
