"""What the runner needs to know about Parrot: keys, limits, auth, policy."""

from __future__ import annotations

from sources.common.provider import CampaignSettling, ConfigKey, Probe, ProviderSpec
from sources.parrot import settings as s
from sources.parrot.client import auth_headers

SPEC = ProviderSpec(
    name=s.NAME,
    secret_key="api_token",
    auth_headers=auth_headers,
    config_keys=(
        ConfigKey("account_id", default=s.DEFAULT_ACCOUNT_ID, help="account id, or 'me' for the token's account"),
        ConfigKey("page_size", kind=int, default=s.MAX_PAGE_SIZE, help="post campaigns per page (1..100)",
                  minimum=1, maximum=s.MAX_PAGE_SIZE),
        ConfigKey("poll_interval_seconds", kind=float, default=s.POLL_INTERVAL_SECONDS,
                  help="seconds between two metrics requests of a campaign whose metrics are refreshing", minimum=0),
        ConfigKey("max_poll_attempts", kind=int, default=s.MAX_POLL_ATTEMPTS,
                  help="re-polls of a refreshing campaign before its last answer is taken", minimum=0),
        ConfigKey("max_poll_seconds", kind=float, default=s.MAX_POLL_SECONDS,
                  help="total seconds a run waits for refreshing metrics", minimum=0),
    ),
    max_window_days=None,
    default_window_days=s.DEFAULT_WINDOW_DAYS,
    default_policy=s.DEFAULT_POLICY,
    # the first post campaign of the account; the account id is a path segment, so a 404 may name it
    probe=Probe(path=s.POST_CAMPAIGNS, params={"page": 1, "page_size": 1}, on_404=("account_id",)),
    settling=CampaignSettling(
        # every published campaign of a window is pulled each run; its counters are compared without their
        # refresh time and without how the poll went, and a stale answer (still updating) agrees with nothing
        states=(s.PUBLISHED,), since="started_at", endpoint="metrics",
        figures="case when payload ->> '$._poll.outcome' = 'ready' "
                "then json_merge_patch(payload -> '$.data.metrics', '{\"updated_at\": null}')::varchar "
                "else fetch_id end"),
)
