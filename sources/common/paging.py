"""Page loops shared by the providers: page-number (0- or 1-based) and offset pagination."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sources.common.errors import ProviderError


@dataclass
class Page:
    """One page as a provider client read it: its items and whether more pages follow."""

    items: list[Any]
    has_more: bool


def page_numbers(fetch: Callable[[int], Page], *, first: int, provider: str, what: str,
                 max_pages: int = 100_000) -> Iterator[Page]:
    """Call ``fetch(page)`` for ``first, first+1, ...`` until a page says it is the last (or is empty)."""
    page = first
    for _ in range(max_pages):
        result = fetch(page)
        yield result
        if not result.has_more or not result.items:
            return
        page += 1
    raise ProviderError(provider, f"{provider}: {what} did not end after {max_pages} pages.")
