"""Shoplive API v2 constants and the provider spec (see docs/providers/shoplive.md)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from core.errors import ProviderAuthError
from sources.common.http import HttpClient, HttpPolicy
from sources.common.provider import ConfigKey, ProviderSettings, ProviderSpec
from sources.common.raw import ExtractPlan, ExtractReport

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


def auth_headers(secret: str, settings: ProviderSettings | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", "Accept": "application/json"}


def check_token(token: str, access_key: str, *, now: float | None = None) -> None:
    """Refuse, before any request, a JWT made for another access key or already expired.

    DOC: the token is an HS256 JWT with claims ``accessKey``, ``iat`` and ``exp``. Only the claims are read (the
    signing secret is not ours to hold); a token that is not a JWT is left for the API to judge.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return
    if not isinstance(claims, dict):
        return
    claimed = claims.get("accessKey")
    if claimed is not None and str(claimed) != access_key:
        raise ProviderAuthError(NAME, f"the shoplive token in {TOKEN_ENV} was made for another access key than "
                                      f"{ACCESS_KEY_ENV}; generate a token for this access key.")
    expires = claims.get("exp")
    if isinstance(expires, (int, float)) and expires <= (time.time() if now is None else now):
        raise ProviderAuthError(NAME, f"the shoplive token in {TOKEN_ENV} has expired; generate a new one.")


def build_source(settings: ProviderSettings, http: HttpClient, plan: ExtractPlan, report: ExtractReport) -> Any:
    from sources.shoplive import shoplive_source

    return shoplive_source(base_url=settings.get("base_url"), access_key=settings.get("access_key"),
                           api_token=settings.secret, campaign_keys=settings.get("campaign_keys"),
                           lookback_days=settings.lookback_days, http=http, plan=plan, report=report)


SPEC = ProviderSpec(
    name=NAME,
    secret_key="api_token",
    auth_headers=auth_headers,
    build_source=build_source,
    config_keys=(
        ConfigKey("access_key", required=True, help="the Shoplive access key (the /v2/{accessKey} path segment)"),
        ConfigKey("campaign_keys", kind=list,
                  help="campaignKeys to load; default: every campaign with activity in a window"),
    ),
    max_window_days=MAX_WINDOW_DAYS,
    default_window_days=7,
    default_policy=HttpPolicy(rate_limit_requests=RATE_LIMIT_REQUESTS,
                              rate_limit_period_seconds=RATE_LIMIT_PERIOD_SECONDS, max_concurrency=1),
    lifetime=False,
)
