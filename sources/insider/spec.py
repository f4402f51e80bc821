"""What the runner needs to know about Insider One: keys, limits, auth, policy."""

from __future__ import annotations

from sources.common.provider import ConfigKey, Probe, ProviderSpec
from sources.insider import settings as s
from sources.insider.client import HTTP_OPTIONS, auth_headers

SPEC = ProviderSpec(
    name=s.NAME,
    settle_windows=True,   # a window's list and its campaigns' metrics are rows of the window
    secret_key="api_key",
    auth_headers=auth_headers,
    config_keys=(
        ConfigKey("partner_id", required=True, help="the Insider partner id, sent as a string in every body"),
    ),
    # No documented maximum range; 406 refuses data older than a year, which the source records and skips.
    max_window_days=None,
    default_window_days=s.DEFAULT_WINDOW_DAYS,
    default_policy=s.DEFAULT_POLICY,
    http_options=HTTP_OPTIONS,
    # one overall-metrics page of one campaign for yesterday: a single request of the 30-a-minute budget
    probe=Probe(path=s.OVERALL_METRICS, method="POST",
                json={"partner_id": "{partner_id}", "start_date": "{yesterday}", "end_date": "{yesterday}",
                      "page": s.FIRST_PAGE, "per_page": 1}),
)
