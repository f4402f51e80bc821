"""The paginators on their own, and ``HttpClient.paginate`` driving them over a mock transport."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from core.errors import ProviderError
from sources.common.http import HttpClient, HttpPolicy, HttpResponse
from sources.common.paging import OffsetPaginator, PageNumberPaginator, PageRequest, value_at


def walk(paginator: Any, answers: list[tuple[Any, list[Any]]]) -> list[dict[str, Any]]:
    """Feed ``answers`` (data, items) to ``paginator``; return what each request sent."""
    request = PageRequest()
    paginator.init_request(request)
    sent = []
    for data, items in answers:
        sent.append(request.sent())
        paginator.update_state(data, items)
        if not paginator.has_next_page:
            break
        paginator.update_request(request)
    return sent


def test_page_numbers_end_at_the_stated_total_pages() -> None:
    paginator = PageNumberPaginator(base=0, size=2, size_param="per_page", total_pages_path="num_pages")
    sent = walk(paginator, [({"num_pages": 3}, [1, 2])] * 5)
    assert sent == [{"per_page": 2, "page": 0}, {"per_page": 2, "page": 1}, {"per_page": 2, "page": 2}]


def test_page_numbers_end_at_the_stated_total_items_with_the_returned_page_size() -> None:
    paginator = PageNumberPaginator(size=20, size_param="per_page", total_items_path="total",
                                    returned_size_path="per_page", in_body=True)
    sent = walk(paginator, [({"total": 25, "per_page": "10"}, list(range(10)))] * 5)
    assert [s["page"] for s in sent] == [1, 2, 3], "25 items in pages of the 10 the answer used"


@pytest.mark.parametrize("stop,expected", [(False, 3), (True, 1)])
def test_without_a_total_a_short_page_or_the_flag_ends_the_walk(stop: bool, expected: int) -> None:
    paginator = PageNumberPaginator(size=2, size_param="count", total_pages_path="meta.total_pages",
                                    stop_without_total=stop)
    assert len(walk(paginator, [({}, [1, 2]), ({}, [3, 4]), ({}, [5]), ({}, [6, 7])])) == expected


def test_an_empty_page_always_ends_the_walk() -> None:
    assert len(walk(PageNumberPaginator(size=2), [({}, [])] * 3)) == 1
    assert len(walk(OffsetPaginator(limit=5, total_path="total"), [({"total": 100}, [])] * 3)) == 1


def test_offsets_advance_by_the_limit_the_server_applied() -> None:
    paginator = OffsetPaginator(limit=500, total_path="pagination.total", returned_limit_path="pagination.limit")
    answer = {"pagination": {"total": 250, "limit": 100}}
    sent = walk(paginator, [(answer, list(range(100)))] * 5)
    assert [s["offset"] for s in sent] == [0, 100, 200] and {s["limit"] for s in sent} == {500}


def test_value_at_follows_dotted_paths() -> None:
    assert value_at({"a": {"b": 3}}, "a.b") == 3
    assert value_at({"a": 1}, "a.b") is None and value_at(None, "a") is None and value_at({"a": 1}, None) is None


def test_paginate_sends_the_page_parameters_and_yields_every_page() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        page = body["page"]
        return httpx.Response(200, json={"data": [f"{page}-a", f"{page}-b"], "total": 5, "per_page": 2})

    http = HttpClient("p", "http://x", transport=httpx.MockTransport(handler))

    def items(response: HttpResponse, number: int) -> list[Any]:
        return response.data["data"]

    paginator = PageNumberPaginator(size=2, size_param="per_page", total_items_path="total", in_body=True)
    pages = list(http.paginate("POST", "/list", paginator, items=items, json={"partner_id": "7"}))
    assert [p.items for p in pages] == [["1-a", "1-b"], ["2-a", "2-b"], ["3-a", "3-b"]]
    assert seen[0] == {"partner_id": "7", "per_page": 2, "page": 1} and pages[2].sent["page"] == 3


def test_a_listing_that_never_ends_is_a_provider_error() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"data": [1, 2]}))
    http = HttpClient("p", "http://x", transport=transport, policy=HttpPolicy(max_concurrency=1))
    paginator = PageNumberPaginator(size=2, max_pages=4)
    with pytest.raises(ProviderError, match="did not end after 4 pages"):
        list(http.paginate("GET", "/list", paginator, items=lambda r, n: r.data["data"], what="the list"))
