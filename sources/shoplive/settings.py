"""Shoplive API v2 constants (see docs/providers/shoplive.md)."""

from __future__ import annotations

from sources.common.http import HttpPolicy

NAME = "shoplive"
SEARCH = "/v2/{access_key}/campaign"
STATS = "/v2/{access_key}/campaign/stats"
# DOC: search pages start at 1; count defaults to 10 and may not exceed 20.
FIRST_PAGE = 1
MAX_COUNT = 20
# DOC: a stats range may span at most one week.
MAX_WINDOW_DAYS = 7
# ASSUMPTION (shoplive.md): campaignKeys has no documented length limit; 20 keys per call keeps URLs short.
STATS_KEYS_PER_CALL = 20
# ASSUMPTION (shoplive.md): no published rate limit; stay at 5 requests per second, one at a time.
RATE_LIMIT_REQUESTS = 5
RATE_LIMIT_PERIOD_SECONDS = 1.0
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # DOC: e.g. 2024-09-07T00:00:00Z, UTC, no fractions
TOKEN_ENV = "SOURCES__SHOPLIVE__API_TOKEN"
ACCESS_KEY_ENV = "SOURCES__SHOPLIVE__ACCESS_KEY"
DEFAULT_WINDOW_DAYS = 7
DEFAULT_POLICY = HttpPolicy(rate_limit_requests=RATE_LIMIT_REQUESTS,
                            rate_limit_period_seconds=RATE_LIMIT_PERIOD_SECONDS, max_concurrency=1)
