"""Parrot client against the simulator: listing, the async metrics protocol and the one polling scheduler."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest

from core.errors import ProviderAuthError
from simulators.parrot import API, DEFAULT_TOKEN, ParrotSim
from sources.common.http import HttpClient, HttpPolicy
from sources.parrot.client import ParrotClient, auth_headers

NOW = dt.datetime.now(dt.UTC)
POLICY = HttpPolicy(max_attempts=3, backoff_base_seconds=0.01, backoff_max_seconds=0.02, max_concurrency=8)


@pytest.fixture
def client_for(serve) -> Iterator:
    clients: list[HttpClient] = []

    def _make(app: ParrotSim, *, token: str = DEFAULT_TOKEN, **options: object) -> ParrotClient:
        server = serve(app)
        http = HttpClient("parrot", server.url + API, headers=auth_headers(token, None), policy=POLICY)
        clients.append(http)
        return ParrotClient(http, **options)  # type: ignore[arg-type]

    yield _make
    for http in clients:
        http.close()


def test_listing_reads_every_page(client_for) -> None:
    app = ParrotSim(now=NOW, campaigns=23)
    items, paging = client_for(app, page_size=5).post_campaigns()
    assert [i["id"] for i in items] == [c.campaign_id for c in sorted(app.campaigns.values(),
                                                                       key=lambda c: (c.inserted_at, c.campaign_id))]
    assert paging == {"page_size": 5, "pages": 5}
    assert {i["status"] for i in items} == {"published", "draft", "scheduled"}


def test_placeholder_zeros_are_never_returned_as_values(client_for) -> None:
    app = ParrotSim(now=NOW, campaigns=6, warmth="cold", drafts=False, refresh_delay=0.2)
    cold = app.published()
    app.hold(cold[0].campaign_id)                                  # its worker never finishes starting
    client = client_for(app, poll_interval=0.1, max_poll_attempts=3, max_poll_seconds=10)
    results = {r.campaign_id: r for r in client.poll_metrics(c.campaign_id for c in cold)}
    stuck = results[cold[0].campaign_id]
    assert stuck.outcome == "not_ready" and stuck.body is None
    assert stuck.statuses == ["starting"] * 4 and stuck.polls == 4   # the first ask and 3 re-polls
    for c in cold[1:]:
        r = results[c.campaign_id]
        assert r.outcome == "ready" and r.statuses[0] == "starting" and r.statuses[-1] == "ready"
        metrics = r.body["data"]["metrics"]  # type: ignore[index]
        assert metrics["updated_at"] is not None and metrics["recipients"] == c.recipients > 0


def test_still_updating_after_the_wait_gives_the_previous_values_flagged_stale(client_for) -> None:
    app = ParrotSim(now=NOW, campaigns=3, warmth="stale", drafts=False)
    campaign = app.published()[0]
    old_values, old_at = dict(campaign.snapshot or {}), campaign.snapshot_at
    app.hold(campaign.campaign_id)
    client = client_for(app, poll_interval=0.1, max_poll_attempts=2, max_poll_seconds=10)
    (result,) = client.poll_metrics([campaign.campaign_id])
    assert result.outcome == "stale" and result.stale and result.polls == 3
    metrics = result.body["data"]["metrics"]  # type: ignore[index]
    assert {k: metrics[k] for k in old_values} == old_values
    assert metrics["updated_at"].startswith(old_at.strftime("%Y-%m-%dT%H:%M:%S"))  # type: ignore[union-attr]
    assert result.summary()["stale"] is True and result.summary()["status"] == "updating"


def test_the_total_wait_is_bounded(client_for) -> None:
    app = ParrotSim(now=NOW, campaigns=4, warmth="stale", drafts=False)
    for c in app.published():
        app.hold(c.campaign_id)
    client = client_for(app, poll_interval=0.2, max_poll_attempts=100, max_poll_seconds=0.5)
    started = time.monotonic()
    results = list(client.poll_metrics(c.campaign_id for c in app.published()))
    assert time.monotonic() - started < 1.0
    assert {r.outcome for r in results} == {"stale"} and all(r.polls <= 3 for r in results)


def test_deleted_campaign_and_refused_credentials(client_for) -> None:
    app = ParrotSim(now=NOW, campaigns=4, warmth="fresh", drafts=False)
    gone = app.published()[0]
    app.delete_campaign(gone.campaign_id)
    (result,) = client_for(app).poll_metrics([gone.campaign_id])
    assert result.outcome == "not_found" and getattr(result.error, "status", None) == 404
    with pytest.raises(ProviderAuthError) as refused:
        client_for(app, token="nope-nope-nope").post_campaigns()
    assert "SOURCES__PARROT__API_TOKEN" in str(refused.value)
    with pytest.raises(ProviderAuthError) as foreign:
        client_for(app, account_id="acct_other").post_campaigns()
    assert "acct_other" in str(foreign.value) and "SOURCES__PARROT__ACCOUNT_ID" in str(foreign.value)
