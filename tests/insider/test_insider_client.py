"""Insider client against the simulator: paging, clipping, 424, throttles and credentials."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from core.errors import EntitySkipped, ProviderAuthError
from simulators.base import Faults, SimServer
from simulators.insider import CAMPAIGN_PATH, OVERALL_PATH, InsiderSim
from sources.common.http import HttpClient, HttpPolicy
from sources.insider import settings as s
from sources.insider.client import HTTP_OPTIONS, InsiderClient, auth_headers, created_date, is_throttle

NOW = pendulum.now("UTC")
FAST = HttpPolicy(backoff_base_seconds=0.01, backoff_max_seconds=0.05, default_retry_after_seconds=0.05,
                  max_concurrency=4)


@pytest.fixture(scope="module")
def shared() -> tuple[InsiderSim, str]:
    """One simulator for the tests that only read (a server costs half a second to stop)."""
    sim = InsiderSim(now=NOW, campaigns=45, days=10, rate_limit=10_000)
    with SimServer(sim) as server:
        yield sim, server.url


def client_for(url: str, sim: InsiderSim, *, policy: HttpPolicy = FAST, key: str | None = None) -> InsiderClient:
    http = HttpClient(s.NAME, url, headers=auth_headers(key or sim.api_key, None), policy=policy,
                      **HTTP_OPTIONS)
    return InsiderClient(http, sim.partner_id)


def days(back: int) -> dt.date:
    return (NOW - dt.timedelta(days=back)).date()


def test_overall_pages_by_20_and_lists_each_campaign_once(shared) -> None:
    sim, url = shared
    client = client_for(url, sim)
    start, end = days(12), NOW.date()
    mark = len(sim.calls)
    records = client.overall(start, end)
    expected = [c.builder_id for c in sim.listed(start, end)]
    assert len(expected) > 40
    assert [int(r.builder_id) for r in records] == expected
    pages = [c.body for c in sim.calls[mark:] if c.endpoint == "overall"]
    assert [p["page"] for p in pages] == [1, 2, 3] and {p["per_page"] for p in pages} == {20}
    assert all(isinstance(p["partner_id"], str) for p in pages)
    assert records[0].item == sim.overall_item(sim.campaigns[int(records[0].builder_id)], start, end)


def test_campaign_start_is_clipped_to_the_create_date(shared) -> None:
    sim, url = shared
    client = client_for(url, sim)
    start, end = days(20), NOW.date()
    mark = len(sim.calls)
    for record in client.overall(start, end)[:6]:
        created = created_date(record.item)
        answer = client.campaign_metrics(record.builder_id, start, end, created=created)
        assert answer.request["start_date"] == created.isoformat()
        assert answer.request["campaign_id"] == record.builder_id
        assert answer.data["deviceMetrics"]
    assert not [c for c in sim.calls[mark:] if c.status != 200], "clipping up front costs no refused call"


def test_a_400_naming_the_create_date_is_cured_by_clipping_again(serve) -> None:
    sim = InsiderSim(now=NOW, campaigns=4, days=5)
    sim.stale_start_dates = True   # overall startDate a day before the real create date
    client = client_for(serve(sim).url, sim)
    start, end = days(20), NOW.date()
    for record in client.overall(start, end):
        c = sim.campaigns[int(record.builder_id)]
        answer = client.campaign_metrics(record.builder_id, start, end, created=created_date(record.item))
        assert answer.request["start_date"] == c.first_day.isoformat()
    refused = [c for c in sim.calls if c.status == 400]
    assert len(refused) == 4 and all(c.endpoint == "campaign" for c in refused)


def test_424_is_retried_once_then_skipped(shared) -> None:
    sim, url = shared
    builder = sorted(sim.campaigns)[0]
    sim.fail_campaign(builder)
    client = client_for(url, sim)
    mark = len(sim.calls)
    with pytest.raises(EntitySkipped) as caught:
        client.campaign_metrics(str(builder), days(7), NOW.date())
    assert caught.value.status == 424 and "Campaign not found" in caught.value.reason
    assert [c.status for c in sim.calls[mark:]] == [424, 424]


def test_401_names_the_key_to_check(shared) -> None:
    sim, url = shared
    client = client_for(url, sim, key="wrong-key-123456")
    with pytest.raises(ProviderAuthError) as caught:
        client.overall(days(7), NOW.date())
    message = str(caught.value)
    assert "SOURCES__INSIDER__API_KEY" in message and "wrong-key" not in message
    assert "\n" not in message and message.endswith(".")


def test_legacy_403_request_limit_is_a_throttle(serve) -> None:
    sim = InsiderSim(now=NOW, campaigns=2, rate_limit=2, rate_period=0.3, legacy_throttle=True)
    url = serve(sim).url
    # no limiter of its own, so it provokes the API's 403; a 403 carries no Retry-After: the default wait applies
    unlimited = client_for(url, sim, policy=HttpPolicy(default_retry_after_seconds=0.35, max_concurrency=1))
    for _ in range(5):
        unlimited.overall(days(7), NOW.date())
    statuses = [status for _, _, _, status in sim.log]
    assert 403 in statuses and statuses.count(200) == 5
    assert unlimited._http.stats.throttled >= 1


def test_429_without_retry_after_waits_the_default(serve) -> None:
    sim = InsiderSim(now=NOW, campaigns=2, faults=Faults(burst_429=2, retry_after=None))
    client = client_for(serve(sim).url, sim, policy=HttpPolicy(default_retry_after_seconds=0.2,
                                                               backoff_base_seconds=5.0))
    client.overall(days(7), NOW.date())
    times = [t for t, *_ in sim.log]
    assert [status for *_, status in sim.log] == [429, 429, 200]
    assert times[1] - times[0] >= 0.19 and times[2] - times[1] >= 0.19   # not the 5 s backoff either


def test_production_policy_waits_a_minute_without_retry_after() -> None:
    policy = s.DEFAULT_POLICY
    assert policy.default_retry_after_seconds >= 60
    assert (policy.rate_limit_requests, policy.rate_limit_period_seconds) == (30, 60.0)
    assert is_throttle(403, '{"message":"Request limit exceeded. 30 Requests/minute is allowed."}')
    assert not is_throttle(403, '{"message":"Forbidden"}')
    assert HTTP_OPTIONS["extra_retry"] == {424: 2}


def test_paths_are_the_documented_ones() -> None:
    assert (s.OVERALL_METRICS, s.CAMPAIGN_METRICS) == (OVERALL_PATH, CAMPAIGN_PATH)
