"""What the runner needs to know about Experiture: keys, limits, auth, policy."""

from __future__ import annotations

from sources.common.http import HttpResponse
from sources.common.provider import CampaignSettling, ConfigKey, CredentialSet, Probe, ProviderSpec
from sources.experiture import settings as s
from sources.experiture.client import auth_headers, authenticator


def _listing(response: HttpResponse) -> str | None:
    body = response.data if isinstance(response.data, dict) else {}
    if body.get("success") is True and isinstance(body.get("data"), list):
        return None
    return "the campaign list answer is not the success/data envelope of Public API v1"


SPEC = ProviderSpec(
    name=s.NAME,
    secret_key="access_token",
    auth_headers=auth_headers,
    config_keys=(
        ConfigKey("page_size", kind=int, default=s.MAX_PAGE_LIMIT,
                  help="campaigns per listing page (the API clamps to 100)", minimum=1, maximum=s.MAX_PAGE_LIMIT),
        ConfigKey("max_listings", kind=int, default=s.MAX_LISTINGS,
                  help="how many times the campaign list may be re-read until two readings agree", minimum=2),
        ConfigKey("token_url", url=True,
                  help="the OAuth 2.0 token endpoint shown in the Experiture console for the API client"),
        ConfigKey("client_id", help="the API client's id (client-credentials grant)"),
    ),
    # DOC: tokens come from the client-credentials grant; with token_url, client_id and client_secret the loader
    # gets (and renews) them itself, and that wins over a ready access_token
    alt_credentials=CredentialSet(keys=("token_url", "client_id"), secret=s.GRANT_SECRET_KEY,
                                  what="the OAuth client-credentials grant"),
    authenticator=authenticator,
    max_window_days=None,
    default_window_days=s.DEFAULT_WINDOW_DAYS,
    default_policy=s.DEFAULT_POLICY,
    # every listed campaign is probed each run (/status); its figures stop once its last execution ended
    settling=CampaignSettling(states=tuple(sorted(s.FINAL_STATES)), endpoint="campaign", probes_all=True,
                              static_states=("not_scheduled",)),
    # one campaign of the listing (scope campaigns:read): the cheapest authenticated request
    probe=Probe(path=s.CAMPAIGNS, params={"limit": 1, "offset": 0, **s.LIST_SORT}, accept=_listing),
)
