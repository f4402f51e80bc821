"""Experiture Public API v1: campaign listing (offset pages), summary, status and metrics, over the shared HTTP
layer."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

from core.errors import EntitySkipped, HttpStatusError, ProviderAuthError, ProviderError
from sources.common.http import HttpClient, HttpPolicy, HttpResponse
from sources.common.oauth import ClientCredentials
from sources.common.paging import OffsetPaginator
from sources.common.parsing import as_object
from sources.common.provider import ProviderSettings
from sources.experiture import settings as s

log = logging.getLogger("campaign_etl.experiture")


def auth_headers(secret: str, settings: ProviderSettings | None = None) -> dict[str, str]:
    """DOC: ``Authorization: Bearer <access_token>`` (a JWT from the client-credentials grant).

    With the grant configured (``secret`` is then the client secret, which is never sent to the API), the
    Authorization header comes from ``authenticator`` before every request instead.
    """
    if settings is not None and settings.secret_key == s.GRANT_SECRET_KEY:
        return {"Accept": "application/json"}
    return {"Authorization": f"Bearer {secret}", "Accept": "application/json"}


def authenticator(settings: ProviderSettings) -> ClientCredentials | None:
    """The client-credentials grant when it is configured (it wins over a ready access_token); else None."""
    if settings.secret_key != s.GRANT_SECRET_KEY:
        return None
    return grant(str(settings.values["token_url"]), str(settings.values["client_id"]), settings.secret,
                 policy=settings.policy)


def grant(token_url: str, client_id: str, client_secret: str, *, policy: HttpPolicy | None = None,
          transport: httpx.BaseTransport | None = None) -> ClientCredentials:
    """Experiture's client-credentials grant: tokens renewed before they expire and once after a 401."""
    return ClientCredentials(s.NAME, token_url, client_id, client_secret, id_key=s.CLIENT_ID_ENV,
                             secret_key=s.CLIENT_SECRET_ENV, url_key=s.TOKEN_URL_ENV,
                             policy=policy or s.DEFAULT_POLICY, transport=transport)


@dataclass
class Listing:
    """The campaigns a listing found.

    Attributes:
        items: list entries by campaign id, in listing order (oldest first).
        readings: how many full listings were read.
        stable: True when the last two readings agreed; False when the bound was hit and ``items`` is the union
            of every reading (nothing lost, possibly campaigns deleted meanwhile, which later answer 404).
        requests: page requests made.
    """

    items: dict[str, dict[str, Any]]
    readings: int
    stable: bool
    requests: int


@dataclass
class _Reading:
    ids: list[str]
    items: dict[str, dict[str, Any]]
    consistent: bool
    requests: int


class ExperitureClient:
    """Reads Experiture's API; every call goes through the shared ``HttpClient`` (auth, retries, limits)."""

    def __init__(self, http: HttpClient, *, page_size: int = s.MAX_PAGE_LIMIT,
                 max_listings: int = s.MAX_LISTINGS, grant: bool = False) -> None:
        self._http = http
        # what a refused token names: the grant's keys (its token was renewed once and refused again) or the token
        self._check = (f"{s.CLIENT_ID_ENV} and {s.CLIENT_SECRET_ENV} (a token of the client-credentials grant, "
                       f"renewed once, was refused again)") if grant else s.SECRET_ENV
        self._update = f"request a new token ({s.CLIENT_ID_ENV})" if grant else f"update {s.SECRET_ENV}"
        self.page_size = max(1, int(page_size))
        self.max_listings = max(2, int(max_listings))

    # -- discovery --------------------------------------------------------------------------------------------

    def list_campaigns(self) -> Listing:
        """Every campaign of the workspace, read so that one created or deleted meanwhile is not missed.

        Offset pages shift when the list changes during the walk: a deletion before the current offset hides a
        campaign at the page boundary, an insertion shows one twice. So the list is read oldest first (new
        campaigns land at the end), de-duplicated by id, and read again until two consecutive readings are each
        consistent (same ``pagination.total`` on every page, as many ids as that total) and return the same ids.
        A consistent reading of one page is read once: one answer cannot shift under itself. If that does not
        happen within ``max_listings`` readings, the union of all readings is returned.
        """
        readings: list[_Reading] = []
        requests = 0
        for _ in range(self.max_listings):
            reading = self._read_once()
            requests += reading.requests
            if not readings and reading.consistent and reading.requests == 1:
                return Listing(reading.items, 1, True, requests)
            if readings and reading.consistent and readings[-1].consistent and reading.ids == readings[-1].ids:
                return Listing(reading.items, len(readings) + 1, True, requests)
            readings.append(reading)
        union: dict[str, dict[str, Any]] = {}
        for reading in reversed(readings):        # newest entry of each campaign first
            for cid, item in reading.items.items():
                union.setdefault(cid, item)
        log.warning("experiture: the campaign list kept changing over %d readings; using the union of %d campaigns",
                    len(readings), len(union))
        return Listing(union, len(readings), False, requests)

    def _read_once(self) -> _Reading:
        ids: list[str] = []
        items: dict[str, dict[str, Any]] = {}
        totals: set[int] = set()
        duplicates = False

        def campaigns(response: HttpResponse, number: int) -> list[Any]:
            body = self._body(response, endpoint="campaigns", what="the campaign list")
            data, pagination = body.get("data"), body.get("pagination")
            if not isinstance(data, list) or not isinstance(pagination, dict):
                raise ProviderError(s.NAME, "experiture: the campaign list answer has no data array or no "
                                            "pagination object.", endpoint=s.CAMPAIGNS)
            total, limit = pagination.get("total"), pagination.get("limit")
            if not isinstance(total, int) or not isinstance(limit, int) or limit < 1:
                raise ProviderError(s.NAME, "experiture: the campaign list answer lacks pagination.total or a "
                                            "positive pagination.limit.", endpoint=s.CAMPAIGNS)
            totals.add(total)
            return data

        # DOC loop: advance by the returned limit, stop once the offset reaches the total
        paginator = OffsetPaginator(limit=self.page_size, total_path="pagination.total",
                                    returned_limit_path="pagination.limit", max_pages=s.MAX_PAGES)
        requests = 0
        for page in self._http.paginate("GET", s.CAMPAIGNS, paginator, items=campaigns, params=dict(s.LIST_SORT),
                                        what="the campaign list"):
            requests += 1
            for item in page.items:
                cid = item.get("campaignId") if isinstance(item, dict) else None
                if not cid:
                    continue
                cid = str(cid)
                if cid in items:
                    duplicates = True
                    continue
                ids.append(cid)
                items[cid] = item
        consistent = len(totals) == 1 and len(ids) == min(totals) and not duplicates
        return _Reading(ids, items, consistent, requests)

    # -- per campaign -----------------------------------------------------------------------------------------

    def status(self, campaign_id: str) -> dict[str, Any]:
        return self._campaign_data(s.STATUS, "status", campaign_id)

    def summary(self, campaign_id: str) -> dict[str, Any]:
        return self._campaign_data(s.SUMMARY, "summary", campaign_id)

    def metrics(self, campaign_id: str) -> dict[str, Any]:
        return self._campaign_data(s.METRICS, "metrics", campaign_id)

    def _campaign_data(self, template: str, endpoint: str, campaign_id: str) -> dict[str, Any]:
        what = f"the {endpoint} of campaign {campaign_id}"
        body = self._body(self._http.get(template.format(campaign_id=campaign_id)), endpoint=endpoint, what=what)
        data = body.get("data")
        if not isinstance(data, dict):
            raise EntitySkipped(f"malformed_answer: {what} has no data object", code="malformed_answer")
        return data

    # -- envelope ---------------------------------------------------------------------------------------------

    def _body(self, response: HttpResponse, *, endpoint: str, what: str) -> dict[str, Any]:
        body = as_object(response.data)
        error = as_object(body.get("error"))
        code = str(error.get("code") or "")
        details = as_object(error.get("details"))
        correlation = response.headers.get("x-correlation-id") or body.get("correlationId")
        status = response.status
        if status >= 400 and correlation:
            # DOC: the correlation id is what Experiture support asks for; it is not a secret
            log.info("experiture: HTTP %s reading %s (correlation id %s)", status, what, correlation)
        if status == 401:
            raise ProviderAuthError(
                s.NAME, f"experiture refused the access token (HTTP 401: missing, invalid or expired) reading "
                        f"{what}; check {self._check}.", endpoint=response.path, status=status)
        if status == 403:
            scope = details.get("requiredScope") or details.get("scope") or s.SCOPE_BY_ENDPOINT.get(endpoint,
                                                                                                    "a scope")
            raise ProviderAuthError(
                s.NAME, f"experiture: the access token lacks the {scope} scope needed to read {what} (HTTP 403); "
                        f"grant {scope} to the API client and {self._update}.",
                endpoint=response.path, status=status)
        if status == 404:
            raise EntitySkipped(f"not_found: {what} answered 404 (campaign deleted or unknown)", code="not_found",
                                status=404)
        if status == 409:
            campaign_type = details.get("campaignType") or "unknown"
            raise EntitySkipped(f"type_unsupported: campaignType {campaign_type} is not served by public v1 "
                                f"({code or 'HTTP 409'}) reading {what}", code="unsupported_type", status=409)
        if status >= 400 or body.get("success") is False:
            message = error.get("message") or "no message"
            raise HttpStatusError(s.NAME, f"experiture answered {code or 'an error'} (HTTP {status}) reading "
                                          f"{what}: {message}", endpoint=response.path, status=status, body=body,
                                  retry=False)
        if not body:
            raise EntitySkipped(f"malformed_answer: {what} (HTTP {status}) is not a JSON object",
                                code="malformed_answer", status=status)
        return body
