"""GreenArrow Studio endpoints, envelopes and paging over the shared HTTP layer."""

from __future__ import annotations

import base64
from typing import Any

from core.errors import EntitySkipped, HttpStatusError, ProviderAuthError, ProviderError
from sources.common.http import HttpClient, HttpResponse
from sources.common.paging import PageNumberPaginator
from sources.common.windows import Window
from sources.greenarrow import settings as s


def auth_headers(secret: str, settings: object = None) -> dict[str, str]:
    """HTTP Basic with ``<org_id>:<key>``; a key without ``:`` is taken as already encoded (API-Keys endpoint)."""
    token = base64.b64encode(secret.encode()).decode() if ":" in secret else secret
    return {"Authorization": f"Basic {token}", "Accept": "application/json"}


class GreenArrowClient:
    """Reads GreenArrow's API; every call goes through the shared ``HttpClient`` (auth, retries, limits)."""

    def __init__(self, http: HttpClient, *, link_stats_per_page: int = s.LINK_STATS_MAX_PER_PAGE) -> None:
        self._http = http
        self.per_page = max(1, min(int(link_stats_per_page), s.LINK_STATS_MAX_PER_PAGE))

    # -- endpoints --------------------------------------------------------------------------------------------

    def mailing_lists(self) -> list[dict[str, Any]]:
        data = self._data(self._http.get(s.MAILING_LISTS), what="mailing lists")
        return _records(data, "mailing lists")

    def list_campaigns(self, list_id: str, window: Window) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Campaigns of one list started in ``window`` (half-open), and the parameters sent."""
        # DOC: the bounds accept UNIX seconds (older docs: only UNIX) and are inclusive, so the end is the
        # window's last second; a campaign is then listed in exactly one window.
        params = {"started_at__start": int(window.start.timestamp()),
                  "started_at__end": int(window.end.timestamp()) - 1}
        path = s.LIST_CAMPAIGNS.format(list_id=list_id)
        data = self._data(self._http.get(path, params=params), what=f"campaigns of mailing list {list_id}")
        return _records(data, f"campaigns of mailing list {list_id}"), params

    def campaign(self, campaign_id: str) -> dict[str, Any]:
        data = self._data(self._http.get(s.CAMPAIGN.format(campaign_id=campaign_id)),
                          what=f"campaign {campaign_id}")
        if not isinstance(data, dict):
            raise EntitySkipped(f"malformed answer: campaign {campaign_id} details are not an object",
                                code="malformed_answer")
        return data

    def link_stats(self, campaign_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Every link of a campaign, read page by page from page 0, de-duplicated by ``link_id``.

        Links added while sending can shift pages; reading to ``num_pages`` of the last answer and keeping the
        first row per link id loses nothing that existed when the read began and counts nothing twice.
        """
        path = s.LINK_STATS.format(campaign_id=campaign_id)
        what = f"link_stats of campaign {campaign_id}"
        meta: dict[str, Any] = {"per_page": self.per_page, "pages": 0, "all_unclicked_links_recorded": None}

        def links(response: HttpResponse, number: int) -> list[Any]:
            data = self._data(response, what=what)
            if not isinstance(data, dict) or not isinstance(data.get("links", []), list):
                raise EntitySkipped(f"malformed answer: link_stats page {number} of campaign {campaign_id}",
                                    code="malformed_answer")
            meta["pages"] += 1
            meta["all_unclicked_links_recorded"] = data.get("all_unclicked_links_recorded")
            return list(data.get("links") or [])

        # DOC: pages from 0, per_page <= 500, num_pages in the envelope; without it, a full page may have more
        paginator = PageNumberPaginator(base=s.LINK_STATS_FIRST_PAGE, size=self.per_page, size_param="per_page",
                                        total_pages_path="num_pages")
        seen: dict[Any, dict[str, Any]] = {}
        for page in self._http.paginate("GET", path, paginator, items=links, what=what):
            for link in page.items:
                if isinstance(link, dict) and link.get("link_id") is not None:
                    seen.setdefault(link["link_id"], link)
        return list(seen.values()), meta

    # -- envelope ---------------------------------------------------------------------------------------------

    def _data(self, response: HttpResponse, *, what: str) -> Any:
        return self._data_and_envelope(response, what=what)[0]

    def _data_and_envelope(self, response: HttpResponse, *, what: str) -> tuple[Any, dict[str, Any]]:
        body = response.data
        code = body.get("error_code") if isinstance(body, dict) else None
        if code in s.AUTH_CODES or response.status in (401, 403):
            raise ProviderAuthError(
                s.NAME, f"greenarrow refused the credentials ({code or f'HTTP {response.status}'}) reading {what}; "
                        f"check {s.SECRET_ENV} (the <organization_id>:<api_key> pair).",
                endpoint=response.path, status=response.status)
        if code in s.SKIP_CODES or response.status == 404:
            raise EntitySkipped(f"not_found: {what} not found", code="not_found", status=response.status)
        if code in s.BUG_CODES:
            raise ProviderError(s.NAME, f"greenarrow rejected the page size reading {what} ({code}).",
                                endpoint=response.path, status=response.status)
        if not isinstance(body, dict):
            raise EntitySkipped(f"malformed answer: {what} (HTTP {response.status}) is not a JSON envelope",
                                code="malformed_answer", status=response.status)
        if response.status >= 400 or body.get("success") is False or code:
            message = body.get("error_message") or "no message"
            # DOC: a validation failure is not cured by asking again: recorded, the window stays done
            raise HttpStatusError(s.NAME, f"greenarrow answered {code or 'an error'} (HTTP {response.status}) "
                                          f"reading {what}: {message}",
                                  endpoint=response.path, status=response.status, body=body, retry=False)
        if "data" not in body:
            raise EntitySkipped(f"malformed answer: {what} has no data", code="malformed_answer",
                                status=response.status)
        return body["data"], body


def _records(data: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise EntitySkipped(f"malformed answer: {what} is not a list of objects", code="malformed_answer")
    return data
