"""Parrot (SMS) API constants (see docs/providers/parrot.md)."""

from __future__ import annotations

from sources.common.http import HttpPolicy

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
SECRET_ENV = "SOURCES__PARROT__API_TOKEN"
ACCOUNT_ENV = "SOURCES__PARROT__ACCOUNT_ID"
DEFAULT_WINDOW_DAYS = 7
# ASSUMPTION (contract notes): no published limit; <= 5 requests/s overall, 4 at a time.
DEFAULT_POLICY = HttpPolicy(max_concurrency=4, rate_limit_requests=5, rate_limit_period_seconds=1.0, max_attempts=5)
