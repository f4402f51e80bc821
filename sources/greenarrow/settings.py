"""GreenArrow Studio API constants (see docs/providers/greenarrow.md)."""

from __future__ import annotations

from sources.common.http import HttpPolicy

NAME = "greenarrow"
API_PREFIX = "/ga/api/v2"
MAILING_LISTS = f"{API_PREFIX}/mailing_lists"
LIST_CAMPAIGNS = f"{API_PREFIX}/mailing_lists/{{list_id}}/campaigns"
CAMPAIGN = f"{API_PREFIX}/campaigns/{{campaign_id}}"
LINK_STATS = f"{API_PREFIX}/campaigns/{{campaign_id}}/link_stats"
# DOC: link_stats pages start at 0; per_page defaults to 100, at most 500 (more is requested_too_many).
LINK_STATS_MAX_PER_PAGE = 500
LINK_STATS_FIRST_PAGE = 0
# DOC error codes (branch on error_code first; HTTP statuses are an ASSUMPTION of the contract notes).
AUTH_CODES = frozenset({"not_authorized"})
SKIP_CODES = frozenset({"not_found"})
RETRY_CODES = frozenset({"internal_error"})
BUG_CODES = frozenset({"requested_too_many"})
SECRET_ENV = "SOURCES__GREENARROW__API_KEY"
DEFAULT_WINDOW_DAYS = 7
# DOC dispatch states after which a campaign sends no more (its opens and clicks may still move for days)
FINAL_STATES = ("cancelled", "failed", "finished")
# ASSUMPTION (contract notes): no published limit; stay at <= 4 concurrent requests.
DEFAULT_POLICY = HttpPolicy(max_concurrency=4)
