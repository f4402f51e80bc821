"""What the runner needs to know about Shoplive: keys, limits, auth, policy."""

from __future__ import annotations

from sources.common.provider import ConfigKey, Probe, ProviderSpec
from sources.shoplive import settings as s
from sources.shoplive.client import auth_headers

SPEC = ProviderSpec(
    name=s.NAME,
    settle_windows=True,   # a window's stats are rows of the window
    secret_key="api_token",
    auth_headers=auth_headers,
    config_keys=(
        ConfigKey("access_key", required=True, help="the Shoplive access key (the /v2/{accessKey} path segment)"),
        ConfigKey("campaign_keys", kind=list,
                  help="campaignKeys to load; default: every campaign with activity in a window"),
    ),
    max_window_days=s.MAX_WINDOW_DAYS,
    default_window_days=s.DEFAULT_WINDOW_DAYS,
    default_policy=s.DEFAULT_POLICY,
    # the first campaign of the search; the access key is a path segment, so a 404 may name it
    probe=Probe(path=s.SEARCH, params={"page": s.FIRST_PAGE, "count": 1},
                on_404=("access_key",)),
)
