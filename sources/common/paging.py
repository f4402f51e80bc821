"""One paging model for every provider, in the spirit of dlt's ``rest_client`` paginators.

A paginator is a small state object, not a loop. ``init_request`` puts the first page's parameters into the
request, ``update_state`` reads what an answer says about the next page, ``update_request`` moves the request on
and ``has_next_page`` says whether there is one. ``HttpClient.paginate`` drives any paginator; a provider client
only picks one and says how to read the items out of an answer (and what in it is an error):

=====================  ======================================================================================
``PageNumberPaginator`` ``page`` = base, base + 1, ... (0- or 1-based); ends at the total pages or total items
                        the answer states, else at a page shorter than the page size, or an empty page
``OffsetPaginator``     ``offset`` = 0, then advanced by the limit the answer returns (a server may clamp it),
                        until the offset reaches the total the answer states, or an empty page
=====================  ======================================================================================

Both put their parameters in the query string or, with ``in_body=True``, in the JSON body (Insider's POSTs).
What a provider adds on top of a plain walk (Experiture reads its drifting list until two readings agree,
Parrot polls metrics until they are ready) is built on ``HttpClient.paginate`` and ``HttpClient.map``, not beside.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PageRequest:
    """The parameters of the next page's request: query parameters, or the JSON body."""

    params: dict[str, Any] = field(default_factory=dict)
    json: dict[str, Any] | None = None

    def sent(self) -> dict[str, Any]:
        """A copy of what this request sends (for lineage)."""
        return dict(self.json if self.json is not None else self.params)


@dataclass
class Page:
    """One page as ``HttpClient.paginate`` yields it: its items, the answer, and what was sent for it."""

    items: list[Any]
    data: Any
    sent: dict[str, Any]
    number: int


def value_at(data: Any, path: str | None) -> Any:
    """``data`` followed along a dotted ``path`` (``pagination.total``); None when any step is missing."""
    if path is None:
        return None
    for step in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(step)
    return data


def _int(value: Any) -> int | None:
    """A total the answer states: a JSON integer only (a bool or a numeric string is not one)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _size(value: Any) -> int | None:
    """A page size the answer states, as an integer or a numeric string (Insider's older answers)."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return _int(value)


class Paginator(ABC):
    """Base of the paginators: where parameters go, and whether there is a next page."""

    def __init__(self, *, in_body: bool = False, max_pages: int = 100_000) -> None:
        self.in_body = in_body
        self.max_pages = max_pages
        self.has_next_page = True

    def _put(self, request: PageRequest, key: str, value: Any) -> None:
        if self.in_body:
            request.json = {**(request.json or {}), key: value}
        else:
            request.params[key] = value

    @abstractmethod
    def init_request(self, request: PageRequest) -> None:
        """Put the first page's parameters into ``request``."""

    @abstractmethod
    def update_state(self, data: Any, items: list[Any]) -> None:
        """Read an answer (``data``, the parsed JSON) and its ``items``; set ``has_next_page``."""

    @abstractmethod
    def update_request(self, request: PageRequest) -> None:
        """Move ``request`` on to the next page."""


class PageNumberPaginator(Paginator):
    """Pages numbered from ``base``.

    Args:
        base: the first page number (GreenArrow 0, the others 1).
        page_param: the page number's parameter.
        size: the page size asked for (sent as ``size_param`` when that is set); a page shorter than it is the
            last one when the answer states no total.
        size_param: the page size's parameter (``per_page``, ``count``, ``page_size``).
        total_pages_path: where the answer states the number of pages (``num_pages``, ``meta.total_pages``).
        total_items_path: where it states the number of items (``total``); pages hold ``returned_size_path``
            items when the answer says so, else ``size``.
        returned_size_path: where the answer states the page size it used.
        stop_without_total: a total path is set but the answer lacks it: stop (True) or fall back to the short
            page rule (False).
    """

    def __init__(self, *, base: int = 1, page_param: str = "page", size: int | None = None,
                 size_param: str | None = None, total_pages_path: str | None = None,
                 total_items_path: str | None = None, returned_size_path: str | None = None,
                 stop_without_total: bool = False, in_body: bool = False, max_pages: int = 100_000) -> None:
        super().__init__(in_body=in_body, max_pages=max_pages)
        self.base = base
        self.page_param = page_param
        self.size = size
        self.size_param = size_param
        self.total_pages_path = total_pages_path
        self.total_items_path = total_items_path
        self.returned_size_path = returned_size_path
        self.stop_without_total = stop_without_total
        self.page = base

    def init_request(self, request: PageRequest) -> None:
        self.page = self.base
        self.has_next_page = True
        if self.size_param is not None and self.size is not None:
            self._put(request, self.size_param, self.size)
        self._put(request, self.page_param, self.page)

    def update_state(self, data: Any, items: list[Any]) -> None:
        done = self.page - self.base + 1   # pages read so far
        total_pages = _int(value_at(data, self.total_pages_path))
        total_items = _int(value_at(data, self.total_items_path))
        size = _size(value_at(data, self.returned_size_path)) or self.size
        if not items:
            self.has_next_page = False
        elif total_pages is not None:
            self.has_next_page = done < total_pages
        elif total_items is not None and size:
            self.has_next_page = done * size < total_items
        elif self.stop_without_total and (self.total_pages_path or self.total_items_path):
            self.has_next_page = False
        else:  # no total in the answer: a full page may have a successor
            self.has_next_page = self.size is not None and len(items) >= self.size

    def update_request(self, request: PageRequest) -> None:
        self.page += 1
        self._put(request, self.page_param, self.page)


class OffsetPaginator(Paginator):
    """Offset and limit paging, advanced by the limit the answer returns.

    Args:
        limit: the page size asked for.
        total_path: where the answer states the number of items (``pagination.total``).
        returned_limit_path: where it states the limit it applied (``pagination.limit``); the offset moves by
            that, so a server clamping the limit neither skips nor repeats items.
    """

    def __init__(self, *, limit: int, total_path: str, returned_limit_path: str | None = None,
                 limit_param: str = "limit", offset_param: str = "offset", in_body: bool = False,
                 max_pages: int = 100_000) -> None:
        super().__init__(in_body=in_body, max_pages=max_pages)
        self.limit = limit
        self.total_path = total_path
        self.returned_limit_path = returned_limit_path
        self.limit_param = limit_param
        self.offset_param = offset_param
        self.offset = 0

    def init_request(self, request: PageRequest) -> None:
        self.offset = 0
        self.has_next_page = True
        self._put(request, self.limit_param, self.limit)
        self._put(request, self.offset_param, self.offset)

    def update_state(self, data: Any, items: list[Any]) -> None:
        total = _int(value_at(data, self.total_path))
        step = _size(value_at(data, self.returned_limit_path)) or self.limit
        self.offset += max(1, step)
        self.has_next_page = bool(items) and total is not None and self.offset < total

    def update_request(self, request: PageRequest) -> None:
        self._put(request, self.offset_param, self.offset)
