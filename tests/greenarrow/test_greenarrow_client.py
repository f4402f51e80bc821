"""GreenArrow client: auth header, envelopes, link_stats paging, against the simulator over HTTP."""

from __future__ import annotations

import base64

import pendulum
import pytest

from core.errors import EntitySkipped, ProviderAuthError
from simulators.greenarrow import DEFAULT_CREDENTIALS, GreenArrowSim
from sources.common.http import HttpClient, HttpPolicy
from sources.common.windows import plan_windows
from sources.greenarrow.client import GreenArrowClient, auth_headers

NOW = pendulum.now("UTC")


def make_client(url: str, secret: str = DEFAULT_CREDENTIALS, per_page: int = 100) -> GreenArrowClient:
    http = HttpClient("greenarrow", url, headers=auth_headers(secret, None),
                      policy=HttpPolicy(max_attempts=3, backoff_base_seconds=0.01))
    return GreenArrowClient(http, link_stats_per_page=per_page)


def test_auth_header_encodes_a_pair_and_passes_a_preencoded_key() -> None:
    encoded = base64.b64encode(b"1:abc").decode()
    assert auth_headers("1:abc", None)["Authorization"] == f"Basic {encoded}"
    assert auth_headers(encoded, None)["Authorization"] == f"Basic {encoded}"


def test_preencoded_key_is_accepted_by_the_simulator(serve) -> None:
    server = serve(GreenArrowSim(now=NOW, lists=1, campaigns_per_list=2))
    pre = base64.b64encode(DEFAULT_CREDENTIALS.encode()).decode()
    assert [item["id"] for item in make_client(server.url, pre).mailing_lists()] == [1]


def test_link_stats_reads_every_page_once(serve) -> None:
    sim = GreenArrowSim(now=NOW, lists=1, campaigns_per_list=4, max_links=640)
    server = serve(sim)
    big = next(c for c in sim.campaigns.values() if len(c.links) > 500 and c.started_at is not None)
    links, meta = make_client(server.url, per_page=100).link_stats(str(big.campaign_id))
    assert meta["pages"] == -(-len(big.links) // 100) and meta["per_page"] == 100
    assert sorted(link["link_id"] for link in links) == sorted(link.link_id for link in big.links)
    assert sim.request_count(f"/ga/api/v2/campaigns/{big.campaign_id}/link_stats") == meta["pages"]


def test_per_page_is_capped_at_the_api_maximum(serve) -> None:
    sim = GreenArrowSim(now=NOW, lists=1, campaigns_per_list=4, max_links=1200)
    server = serve(sim)
    big = next(c for c in sim.campaigns.values() if len(c.links) > 500 and c.started_at is not None)
    client = make_client(server.url, per_page=5000)
    links, _ = client.link_stats(str(big.campaign_id))
    assert client.per_page == 500 and len(links) == len(big.links)


def test_list_campaigns_filters_by_window_and_state(serve) -> None:
    sim = GreenArrowSim(now=NOW, lists=1, campaigns_per_list=10, days=60)
    server = serve(sim)
    client = make_client(server.url)
    seen: list[int] = []
    for window in plan_windows(NOW.subtract(days=70), NOW, window_days=7, now=NOW):
        items, params = client.list_campaigns("1", window)
        assert params["started_at__end"] == int(window.end.timestamp()) - 1
        seen += [item["id"] for item in items]
    started = [c.campaign_id for c in sim.campaigns.values() if c.started_at is not None]
    assert sorted(seen) == sorted(started), "every started campaign once, idle ones never"


def test_envelope_errors(serve) -> None:
    sim = GreenArrowSim(now=NOW, lists=1, campaigns_per_list=3)
    server = serve(sim)
    with pytest.raises(EntitySkipped, match="not_found"):
        make_client(server.url).campaign("999999")
    with pytest.raises(ProviderAuthError, match="SOURCES__GREENARROW__API_KEY") as info:
        make_client(server.url, "1:wrong-key-xyz").mailing_lists()
    assert "wrong-key-xyz" not in str(info.value)


def test_link_stats_without_a_page_count_reads_until_a_short_page(serve, monkeypatch) -> None:
    sim = GreenArrowSim(now=NOW, lists=1, campaigns_per_list=4, max_links=640)
    original = sim._link_stats

    def without_count(request, campaign_id):
        response = original(request, campaign_id)
        response.body.pop("num_pages", None)
        return response

    monkeypatch.setattr(sim, "_link_stats", without_count)
    sim._routes = [(m, p, without_count if h == original else h) for m, p, h in sim._routes]
    server = serve(sim)
    big = next(c for c in sim.campaigns.values() if len(c.links) > 500 and c.started_at is not None)
    links, meta = make_client(server.url, per_page=100).link_stats(str(big.campaign_id))
    assert len(links) == len(big.links) and meta["pages"] == len(big.links) // 100 + 1
