"""Insider One web push statistics API constants (see docs/providers/insider.md)."""

from __future__ import annotations

from sources.common.http import HttpPolicy

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
DEFAULT_WINDOW_DAYS = 7
DEFAULT_POLICY = HttpPolicy(rate_limit_requests=RATE_LIMIT_REQUESTS,
                            rate_limit_period_seconds=RATE_LIMIT_PERIOD_SECONDS,
                            default_retry_after_seconds=DEFAULT_RETRY_AFTER_SECONDS, max_concurrency=4)
