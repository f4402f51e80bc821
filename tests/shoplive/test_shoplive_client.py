"""Shoplive client against the simulator: paging, time format, token checks and error mapping."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from core.errors import EntitySkipped, HttpStatusError, ProviderAuthError
from simulators.base import SimServer
from simulators.shoplive import DEFAULT_SECRET_B64, ShopliveSim, make_jwt
from sources.common.http import HttpClient, HttpPolicy
from sources.shoplive import settings as s
from sources.shoplive.client import ShopliveClient, api_time, auth_headers, batches, check_token
from sources.shoplive.spec import SPEC

NOW = pendulum.now("UTC")
FAST = HttpPolicy(backoff_base_seconds=0.01, backoff_max_seconds=0.05, max_concurrency=1)


@pytest.fixture(scope="module")
def shared() -> tuple[ShopliveSim, str]:
    """One simulator for the tests that only read (a server costs half a second to stop)."""
    sim = ShopliveSim(now=NOW, campaigns=45, days=40)
    with SimServer(sim) as server:
        yield sim, server.url


def client_for(url: str, sim: ShopliveSim, *, token: str | None = None, access_key: str | None = None
               ) -> ShopliveClient:
    http = HttpClient(s.NAME, url, headers=auth_headers(token or sim.token, None), policy=FAST)
    return ShopliveClient(http, access_key or sim.access_key)


def test_api_time_is_utc_seconds_with_z() -> None:
    moment = dt.datetime(2024, 9, 7, 3, 4, 5, 250_000, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert api_time(moment) == "2024-09-07T01:04:05Z"
    assert api_time(moment, round_up=True) == "2024-09-07T01:04:06Z"
    assert api_time(pendulum.datetime(2024, 9, 7), round_up=True) == "2024-09-07T00:00:00Z"


def test_search_pages_by_20_until_a_short_page(shared) -> None:
    sim, url = shared
    client = client_for(url, sim)
    mark = len(sim.search_calls)
    found = client.search()
    keys = [item["campaignMeta"]["campaignKey"] for item, _ in found]
    assert sorted(keys) == sorted(sim.truth_dim()) and len(set(keys)) == 45
    assert [c["page"] for c in sim.search_calls[mark:]] == ["1", "2", "3"]
    assert {c["count"] for c in sim.search_calls[mark:]} == {"20"}


def test_search_from_filters_on_scheduled_start(shared) -> None:
    sim, url = shared
    client = client_for(url, sim)
    since = NOW.subtract(days=7)
    mark = len(sim.search_calls)
    found = {item["campaignMeta"]["campaignKey"] for item, _ in client.search(scheduled_from=since)}
    assert found == {k for k, c in sim.campaigns.items() if c.scheduled_start >= since.replace(microsecond=0)}
    assert sim.search_calls[mark]["from"] == api_time(since)


def test_stats_for_a_week_and_keys(shared) -> None:
    sim, url = shared
    client = client_for(url, sim)
    items, params = client.stats(NOW.subtract(days=7), NOW)
    assert {i["campaignKey"] for i in items} == {k for k, c in sim.campaigns.items()
                                                 if sim.has_activity(c, NOW.subtract(days=7), NOW)}
    # a full week whose end has a fraction of a second keeps to the week instead of rounding past it
    assert params == {"from": api_time(NOW.subtract(days=7)), "to": api_time(NOW)}
    keys = list(sim.campaigns)[:2]
    items, params = client.stats(NOW.subtract(days=2), NOW, keys)
    assert [i["campaignKey"] for i in items] == keys and params["campaignKeys"] == ",".join(keys)
    with pytest.raises(HttpStatusError) as caught:   # DOC: one week at most
        client.stats(NOW.subtract(days=8), NOW)
    assert caught.value.status == 400


def test_unknown_campaign_key_is_a_skip_and_unknown_access_key_a_refusal(shared) -> None:
    sim, url = shared
    with pytest.raises(EntitySkipped) as skipped:
        client_for(url, sim).stats(NOW.subtract(days=1), NOW, ["nosuchkey"])
    assert skipped.value.status == 404 and "nosuchkey" in skipped.value.reason
    with pytest.raises(ProviderAuthError) as refused:
        client_for(url, sim, access_key="otherkey").stats(NOW.subtract(days=1), NOW)
    assert "SOURCES__SHOPLIVE__ACCESS_KEY" in str(refused.value) and "otherkey" not in str(refused.value)


def test_bad_token_names_the_key_to_check(shared) -> None:
    sim, url = shared
    client = client_for(url, sim, token="forged-token-value")
    with pytest.raises(ProviderAuthError) as caught:
        client.search()
    assert "SOURCES__SHOPLIVE__API_TOKEN" in str(caught.value) and "forged" not in str(caught.value)


def test_a_signed_jwt_is_accepted(shared) -> None:
    sim, url = shared
    client = client_for(url, sim, token=make_jwt(sim.access_key, DEFAULT_SECRET_B64))
    assert len(client.search(campaign_keys=list(sim.campaigns)[:2])) == 2


def test_token_claims_are_checked_before_any_request() -> None:
    check_token("opaque-token", "a1b2c3d4")                       # not a JWT: the API judges
    check_token(make_jwt("a1b2c3d4"), "a1b2c3d4")
    with pytest.raises(ProviderAuthError, match="SOURCES__SHOPLIVE__API_TOKEN"):
        check_token(make_jwt("someone-else"), "a1b2c3d4")
    with pytest.raises(ProviderAuthError, match="expired"):
        check_token(make_jwt("a1b2c3d4", ttl_days=1, issued_at=1_000_000), "a1b2c3d4")


def test_key_batches_and_window_limit() -> None:
    keys = [f"k{i}" for i in range(45)]
    assert [len(b) for b in batches(keys)] == [20, 20, 5] and [k for b in batches(keys) for k in b] == keys
    assert SPEC.max_window_days == 7
