"""What the runner needs to know about Experiture: keys, limits, auth, policy."""

from __future__ import annotations

from sources.common.provider import CampaignSettling, ConfigKey, ProviderSpec
from sources.experiture import settings as s
from sources.experiture.client import auth_headers

SPEC = ProviderSpec(
    name=s.NAME,
    secret_key="access_token",
    auth_headers=auth_headers,
    config_keys=(
        ConfigKey("page_size", kind=int, default=s.MAX_PAGE_LIMIT,
                  help="campaigns per listing page (the API clamps to 100)", minimum=1, maximum=s.MAX_PAGE_LIMIT),
        ConfigKey("max_listings", kind=int, default=s.MAX_LISTINGS,
                  help="how many times the campaign list may be re-read until two readings agree", minimum=2),
    ),
    max_window_days=None,
    default_window_days=s.DEFAULT_WINDOW_DAYS,
    default_policy=s.DEFAULT_POLICY,
    # every listed campaign is probed each run (/status); its figures stop once its last execution ended
    settling=CampaignSettling(states=tuple(sorted(s.FINAL_STATES)), endpoint="campaign"),
)
