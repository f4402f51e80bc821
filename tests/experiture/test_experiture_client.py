"""Experiture client against the simulator: offset paging, a list changing mid-walk, envelopes and errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from core.errors import EntitySkipped, ProviderAuthError
from simulators.base import SimServer
from simulators.experiture import API, DEFAULT_TOKEN, ExperitureSim
from sources.common.http import HttpClient, HttpPolicy
from sources.experiture.client import ExperitureClient, auth_headers

NOW = dt.datetime.now(dt.UTC)
POLICY = HttpPolicy(max_attempts=3, backoff_base_seconds=0.01, backoff_max_seconds=0.02, max_concurrency=2)


@pytest.fixture
def client_for(serve) -> Iterator:
    clients: list[HttpClient] = []

    def _make(app: ExperitureSim, *, token: str = DEFAULT_TOKEN, page_size: int = 100,
              max_listings: int = 5) -> ExperitureClient:
        server: SimServer = serve(app)
        http = HttpClient("experiture", server.url + API, headers=auth_headers(token, None), policy=POLICY)
        clients.append(http)
        return ExperitureClient(http, page_size=page_size, max_listings=max_listings)

    yield _make
    for http in clients:
        http.close()


def ids_by_created(app: ExperitureSim) -> list[str]:
    listed = [c for c in app.campaigns.values() if c.listed]
    return [c.campaign_id for c in sorted(listed, key=lambda c: (c.created_at, c.campaign_id))]


def test_paging_advances_by_the_returned_limit(client_for) -> None:
    app = ExperitureSim(now=NOW, campaigns=23, max_page_limit=7)
    listing = client_for(app, page_size=100).list_campaigns()   # asks 100, the API clamps to 7
    assert list(listing.items) == ids_by_created(app)
    assert listing.stable and listing.readings == 2
    assert listing.requests == 2 * 4                              # ceil(23 / 7) pages per reading
    first = listing.items[ids_by_created(app)[0]]
    assert set(first) >= {"campaignId", "name", "campaignType", "channel", "authoringStatus", "createdAt"}


def test_a_listing_of_one_page_is_read_once(client_for) -> None:
    app = ExperitureSim(now=NOW, campaigns=6, max_page_limit=7)
    listing = client_for(app).list_campaigns()
    assert list(listing.items) == ids_by_created(app)
    assert listing.stable and listing.readings == 1 and listing.requests == 1
    assert app.request_count("/public/v1/campaigns") == 1


def test_a_deletion_mid_walk_neither_loses_nor_duplicates(client_for) -> None:
    app = ExperitureSim(now=NOW, campaigns=20, max_page_limit=5)
    before = ids_by_created(app)
    # after page 1 of the first reading, the oldest campaign is deleted: every later item shifts left by one,
    # so a single walk would skip the campaign at the page boundary (index 5 before the change)
    app.after_list_request(1, lambda sim: sim.delete_campaign(before[0]))
    listing = client_for(app).list_campaigns()
    assert list(listing.items) == before[1:]
    assert before[5] in listing.items
    assert listing.stable and listing.readings == 3


def test_a_creation_and_a_deletion_mid_walk_that_keep_the_total(client_for) -> None:
    app = ExperitureSim(now=NOW, campaigns=20, max_page_limit=5)
    before = ids_by_created(app)
    created: list[str] = []

    def change(sim: ExperitureSim) -> None:
        sim.delete_campaign(before[2])
        created.append(sim.create_campaign().campaign_id)          # created now: lands at the end

    app.after_list_request(2, change)
    listing = client_for(app).list_campaigns()
    # the total is unchanged (one out, one in), yet the walk missed a campaign; only a second reading shows it
    assert list(listing.items) == [c for c in before if c != before[2]] + created
    assert listing.stable


def test_an_insertion_of_an_old_campaign_shows_it_once(client_for) -> None:
    app = ExperitureSim(now=NOW, campaigns=12, max_page_limit=4)
    before = ids_by_created(app)
    created: list[str] = []
    app.after_list_request(1, lambda sim: created.append(
        sim.create_campaign(created_at=sim.campaigns[before[0]].created_at - dt.timedelta(days=1)).campaign_id))
    listing = client_for(app).list_campaigns()
    assert list(listing.items) == created + before
    assert len(listing.items) == 13


def test_a_list_that_never_settles_returns_the_union_within_the_bound(client_for) -> None:
    app = ExperitureSim(now=NOW, campaigns=9, max_page_limit=4)
    before = ids_by_created(app)
    created: list[str] = []
    for n in range(1, 40):
        app.after_list_request(n, lambda sim: created.append(sim.create_campaign().campaign_id))
    listing = client_for(app, max_listings=3).list_campaigns()
    assert not listing.stable and listing.readings == 3
    assert set(before) <= set(listing.items)
    assert len(listing.items) == len(set(listing.items))


def test_status_summary_and_metrics(client_for) -> None:
    app = ExperitureSim(now=NOW, campaigns=10)
    client = client_for(app)
    campaign = next(c for c in app.loadable() if len(c.executions) == 2)
    metrics = client.metrics(campaign.campaign_id)
    status = client.status(campaign.campaign_id)
    summary = client.summary(campaign.campaign_id)
    assert metrics["counts"] == app.lifetime_counts(campaign)
    last = status["execution"]["lastExecution"]
    assert status["execution"]["state"] == "completed"
    assert last["counts"] != metrics["counts"]            # the last run alone vs the lifetime total
    assert summary["channel"] == campaign.channel and summary["audience"]["estimatedReach"] == campaign.reach


def test_journey_and_deleted_campaigns_are_skips(client_for) -> None:
    app = ExperitureSim(now=NOW, campaigns=14)
    client = client_for(app)
    journey = app.journeys()[0]
    with pytest.raises(EntitySkipped) as skipped:
        client.metrics(journey.campaign_id)
    assert skipped.value.status == 409 and "journey" in str(skipped.value)
    with pytest.raises(EntitySkipped) as summary_skip:
        client.summary(journey.campaign_id)
    assert summary_skip.value.status == 409 and "SUMMARY_TYPE_UNSUPPORTED" in str(summary_skip.value)
    gone = app.loadable()[0]
    app.delete_campaign(gone.campaign_id)
    with pytest.raises(EntitySkipped) as deleted:
        client.status(gone.campaign_id)
    assert deleted.value.status == 404 and deleted.value.reason.startswith("not_found")


def test_missing_scope_and_bad_token_name_what_to_fix(client_for) -> None:
    app = ExperitureSim(now=NOW, campaigns=4, scopes={"campaigns:read"})
    client = client_for(app)
    cid = app.loadable()[0].campaign_id
    assert client.status(cid)["campaignId"] == cid               # campaigns:read is enough for status
    with pytest.raises(ProviderAuthError) as denied:
        client.metrics(cid)
    message = str(denied.value)
    assert "analytics:read" in message and "SOURCES__EXPERITURE__ACCESS_TOKEN" in message
    assert DEFAULT_TOKEN not in message
    with pytest.raises(ProviderAuthError) as refused:
        client_for(ExperitureSim(now=NOW, campaigns=2), token="wrong-token-123").list_campaigns()
    assert "SOURCES__EXPERITURE__ACCESS_TOKEN" in str(refused.value) and "401" in str(refused.value)
