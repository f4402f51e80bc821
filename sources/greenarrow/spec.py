"""What the runner needs to know about GreenArrow Studio: keys, limits, auth, policy."""

from __future__ import annotations

from sources.common.provider import CampaignSettling, ConfigKey, Probe, ProviderSpec
from sources.greenarrow import settings as s
from sources.greenarrow.client import auth_headers

SPEC = ProviderSpec(
    name=s.NAME,
    settle_windows=True,   # a window's listing names the campaigns whose details and links were pulled
    secret_key="api_key",
    auth_headers=auth_headers,
    config_keys=(
        ConfigKey("mailing_list_ids", kind=list, help="mailing list ids to load; default: every list"),
        ConfigKey("link_stats_per_page", kind=int, default=s.LINK_STATS_MAX_PER_PAGE,
                  help="link_stats page size (1..500)", minimum=1, maximum=s.LINK_STATS_MAX_PER_PAGE),
    ),
    max_window_days=None,
    default_window_days=s.DEFAULT_WINDOW_DAYS,
    default_policy=s.DEFAULT_POLICY,
    # the mailing lists (one small answer, no dates): the cheapest authenticated request of Studio
    # a campaign listed in a window still due whose last two pulls, a settle period after it finished, agree on its
    # details is not pulled again while the listing still shows it finished (transforms.settled_campaigns)
    settling=CampaignSettling(states=s.FINAL_STATES, endpoint="campaign", tables=("campaigns",)),
    probe=Probe(path=s.MAILING_LISTS),
)
