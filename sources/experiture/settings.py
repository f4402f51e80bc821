"""Experiture Public API v1 constants (see docs/providers/experiture.md)."""

from __future__ import annotations

from sources.common.http import HttpPolicy

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
DRAFT = "draft"   # DOC: authoringStatus draft or published
# how much earlier than the loader's fetch time a listed updatedAt must be to count as seen by that fetch
PULL_CLOCK_MARGIN_SECONDS = 3600
ACTIVE_STATES = frozenset({"scheduled", "pending_or_overdue", "running"})
# States whose counts no longer move (a draft that was never scheduled has none).
SETTLED_STATES = FINAL_STATES | {"not_scheduled"}
SECRET_ENV = "SOURCES__EXPERITURE__ACCESS_TOKEN"
# DOC: tokens come from the OAuth 2.0 client-credentials grant; the token endpoint is shown in the console after
# creating the API client (not public), so it is configured (token_url), never derived from base_url.
TOKEN_URL_ENV = "SOURCES__EXPERITURE__TOKEN_URL"
CLIENT_ID_ENV = "SOURCES__EXPERITURE__CLIENT_ID"
CLIENT_SECRET_ENV = "SOURCES__EXPERITURE__CLIENT_SECRET"
GRANT_SECRET_KEY = "client_secret"
DEFAULT_WINDOW_DAYS = 7
# ASSUMPTION (contract notes): limits unpublished; stay at <= 10 requests/s, 4 at a time; 429 waits out
# Retry-After, about 6 tries in all.
DEFAULT_POLICY = HttpPolicy(max_concurrency=4, rate_limit_requests=10, rate_limit_period_seconds=1.0,
                            max_attempts=6, max_throttled_attempts=6, default_retry_after_seconds=2.0)
