"""GreenArrow Studio API constants and the provider spec (see docs/providers/greenarrow.md)."""

from __future__ import annotations

import base64
from typing import Any

from sources.common.http import HttpClient, HttpPolicy
from sources.common.provider import ConfigKey, ProviderSettings, ProviderSpec
from sources.common.raw import ExtractPlan, ExtractReport

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


def auth_headers(secret: str, settings: ProviderSettings) -> dict[str, str]:
    """HTTP Basic with ``<org_id>:<key>``; a key without ``:`` is taken as already encoded (API-Keys endpoint)."""
    token = base64.b64encode(secret.encode()).decode() if ":" in secret else secret
    return {"Authorization": f"Basic {token}", "Accept": "application/json"}


def build_source(settings: ProviderSettings, http: HttpClient, plan: ExtractPlan, report: ExtractReport) -> Any:
    from sources.greenarrow import greenarrow_source

    return greenarrow_source(base_url=settings.get("base_url"), api_key=settings.secret,
                             mailing_list_ids=settings.get("mailing_list_ids"),
                             link_stats_per_page=settings.get("link_stats_per_page", LINK_STATS_MAX_PER_PAGE),
                             http=http, plan=plan, report=report)


# Campaigns whose newest details say they are still sending are re-pulled whatever their window. Read from the
# dimension (one row per campaign), so the cost does not grow with the raw history.
REFRESH_SQL = """
select account_id, campaign_id
from analytics.dim_campaign
where provider = 'greenarrow' and status in ('sending', 'scheduled')
"""

SPEC = ProviderSpec(
    name=NAME,
    secret_key="api_key",
    auth_headers=auth_headers,
    build_source=build_source,
    config_keys=(
        ConfigKey("mailing_list_ids", kind=list, help="mailing list ids to load; default: every list"),
        ConfigKey("link_stats_per_page", kind=int, default=LINK_STATS_MAX_PER_PAGE,
                  help="link_stats page size (1..500)", minimum=1, maximum=LINK_STATS_MAX_PER_PAGE),
    ),
    max_window_days=None,
    default_window_days=7,
    # ASSUMPTION (contract notes): no published limit; stay at <= 4 concurrent requests.
    default_policy=HttpPolicy(max_concurrency=4),
    refresh_sql=REFRESH_SQL,
    lifetime=True,
)
