"""Insider One statistics endpoints, paging and error handling over the shared HTTP layer."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from core.errors import EntityFailed, EntitySkipped, HttpStatusError, ProviderAuthError, ProviderError
from sources.common.http import HttpClient, HttpResponse
from sources.common.paging import PageNumberPaginator
from sources.insider import settings as s

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def auth_headers(secret: str, settings: object = None) -> dict[str, str]:
    """DOC: ``Authorization: Bearer <Web Push API key>``."""
    return {"Authorization": f"Bearer {secret}", "Accept": "application/json"}


def is_throttle(status: int, text: str) -> bool:
    """DOC (older docs, status-code page): throttling may come as 403 "Request limit exceeded"."""
    return status == 403 and "request limit" in text.lower()


# What the shared HTTP layer must know of Insider: its legacy throttle, and the one retry 424 deserves.
HTTP_OPTIONS = {"is_throttle": is_throttle, "extra_retry": {424: s.CAMPAIGN_NOT_FOUND_ATTEMPTS}}


@dataclass
class OverallRecord:
    """One campaign of an overall-metrics answer, with the body that asked for its page."""

    builder_id: str
    item: dict[str, Any]
    request: dict[str, Any]


@dataclass
class CampaignMetrics:
    """A campaign-metrics answer and the body that obtained it (its ``start_date`` may be clipped)."""

    builder_id: str
    data: dict[str, Any]
    request: dict[str, Any]


class InsiderClient:
    """Reads Insider's statistics API; every call goes through the shared ``HttpClient`` (auth, limit, retries)."""

    def __init__(self, http: HttpClient, partner_id: str, *, per_page: int = s.MAX_PER_PAGE) -> None:
        self._http = http
        self.partner_id = str(partner_id)
        self.per_page = max(1, min(int(per_page), s.MAX_PER_PAGE))

    # -- endpoints --------------------------------------------------------------------------------------------

    def overall(self, start: dt.date, end: dt.date) -> list[OverallRecord]:
        """Every campaign overall-metrics lists for ``start``..``end`` (inclusive days), once per builderId.

        Pages are read from 1 until ``page * per_page >= total`` or a page comes back empty. A campaign that a
        shifting list shows on two pages is kept once (its first appearance).
        """
        what = f"overall-metrics {start}..{end}"
        records: dict[str, OverallRecord] = {}

        def campaigns(response: HttpResponse, number: int) -> list[Any]:
            items = self._answer(response, what=what).get("data")
            if not isinstance(items, list):
                raise EntityFailed(f"insider answered {what} page {number + s.FIRST_PAGE} without a data list.",
                                   code="malformed_answer", status=response.status)
            return items

        # DOC: page 1-based, per_page <= 20, `total` items (the answer also states the per_page it used)
        paginator = PageNumberPaginator(base=s.FIRST_PAGE, size=self.per_page, size_param="per_page",
                                        total_items_path="total", returned_size_path="per_page", in_body=True)
        for page in self._http.paginate("POST", s.OVERALL_METRICS, paginator, items=campaigns,
                                        json=self._dates(start, end), what=what):
            for item in page.items:
                if isinstance(item, dict) and item.get("builderId") is not None:
                    builder_id = str(item["builderId"])
                    records.setdefault(builder_id, OverallRecord(builder_id, item, page.sent))
        return list(records.values())

    def campaign_metrics(self, builder_id: str, start: dt.date, end: dt.date, *,
                         created: dt.date | None = None) -> CampaignMetrics:
        """One campaign's figures and breakdowns for ``start``..``end``.

        ASSUMPTION (insider.md): a start before the campaign's create date is refused with 400. The start is
        clipped up front to the create date overall-metrics showed, and once more to the date a 400 names.

        Raises:
            EntitySkipped: 424 after its one retry, 406, or a 400 that clipping does not cure.
        """
        what = f"campaign-metrics of campaign {builder_id} for {start}..{end}"
        ask = start
        if created is not None and start < created <= end:
            ask = created
        for _ in range(2):
            body = {**self._dates(ask, end), "campaign_id": str(builder_id)}
            response = self._http.post(s.CAMPAIGN_METRICS, json=body)
            if response.status in (400, 422):
                named = _date_in(response)
                if named is not None and ask < named <= end:
                    ask = named
                    continue
                raise EntitySkipped(f"insider refused {what} (HTTP {response.status}: {_message(response)})",
                                    code="refused", status=response.status)
            if response.status == 424:
                raise EntitySkipped(f"insider answered {what} with HTTP 424 twice ({_message(response)})",
                                    code="http_424", status=424)
            data = self._answer(response, what=what)
            return CampaignMetrics(str(builder_id), data, body)
        raise EntitySkipped(f"insider refused {what} after clipping its start to {ask}", code="refused", status=400)

    # -- envelope ---------------------------------------------------------------------------------------------

    def _dates(self, start: dt.date, end: dt.date) -> dict[str, Any]:
        # DOC: partner_id is a string; dates are YYYY-MM-DD, both inclusive.
        return {"partner_id": self.partner_id, "start_date": start.isoformat(), "end_date": end.isoformat()}

    def _answer(self, response: HttpResponse, *, what: str) -> dict[str, Any]:
        status = response.status
        if status == 401:
            raise ProviderAuthError(s.NAME, f"insider refused the API key (HTTP 401) reading {what}; "
                                            f"check {s.SECRET_ENV}.", endpoint=response.path, status=status)
        if status == 403:
            raise ProviderAuthError(s.NAME, f"insider denied access (HTTP 403: {_message(response)}) reading {what}; "
                                            f"check {s.SECRET_ENV} and its IP restriction.",
                                    endpoint=response.path, status=status)
        if status == 406:
            raise EntitySkipped(f"insider has no data for {what}: analytics cover the last year only (HTTP 406)",
                                code="too_old", status=406)
        if status in (400, 422):
            # the partner id or the dates are wrong for every window: the provider's run cannot go on
            raise ProviderError(s.NAME, f"insider rejected {what} (HTTP {status}: {_message(response)}); "
                                        f"check {s.PARTNER_ENV} and the dates.", endpoint=response.path, status=status)
        if status == 424:
            raise EntitySkipped(f"insider answered {what} with HTTP 424 ({_message(response)})", code="http_424",
                                status=424)
        if status >= 400:
            raise HttpStatusError(s.NAME, f"insider answered HTTP {status} reading {what}.",
                                  endpoint=response.path, status=status, body=response.data)
        if not isinstance(response.data, dict):
            raise EntityFailed(f"insider answered {what} with something other than a JSON object.",
                               code="malformed_answer", status=status)
        return response.data


def _message(response: HttpResponse) -> str:
    body = response.data
    if isinstance(body, dict):
        for key in ("message", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key][:200]
        if isinstance(body.get("errors"), dict):
            return "; ".join(f"{k}: {v}" for k, v in body["errors"].items())[:200]
    return (response.text or "no message").strip()[:200]


def _date_in(response: HttpResponse) -> dt.date | None:
    """The date an error message names (Insider says which start date it would accept)."""
    return _day(_DATE_RE.search(_message(response)))


def created_date(item: dict[str, Any]) -> dt.date | None:
    """The campaign's create day from overall-metrics ``startDate`` (``YYYY-MM-DD HH:MM:SS``, no zone)."""
    raw = item.get("startDate")
    return _day(_DATE_RE.match(raw.strip())) if isinstance(raw, str) else None


def _day(match: re.Match[str] | None) -> dt.date | None:
    if match is None:
        return None
    try:
        return dt.date.fromisoformat(match.group(0))
    except ValueError:
        return None
