"""Shoplive API v2 endpoints, paging and error handling over the shared HTTP layer."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from typing import Any

import pendulum

from core.errors import EntityFailed, EntitySkipped, HttpStatusError, ProviderAuthError
from sources.common.http import HttpClient, HttpResponse
from sources.common.paging import PageNumberPaginator
from sources.common.provider import ProviderSettings
from sources.shoplive import settings as s


def auth_headers(secret: str, settings: ProviderSettings | None = None) -> dict[str, str]:
    """DOC: ``Authorization: Bearer <JWT>``; a token made for another access key (or expired) is refused here,
    before any request."""
    if settings is not None:
        check_token(secret, str(settings.values.get("access_key")))
    return {"Authorization": f"Bearer {secret}", "Accept": "application/json"}


def check_token(token: str, access_key: str, *, now: float | None = None) -> None:
    """Refuse, before any request, a JWT made for another access key or already expired.

    DOC: the token is an HS256 JWT with claims ``accessKey``, ``iat`` and ``exp``. Only the claims are read (the
    signing secret is not ours to hold); a token that is not a JWT is left for the API to judge.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return
    if not isinstance(claims, dict):
        return
    claimed = claims.get("accessKey")
    if claimed is not None and str(claimed) != access_key:
        raise ProviderAuthError(s.NAME, f"the shoplive token in {s.TOKEN_ENV} was made for another access key "
                                        f"than {s.ACCESS_KEY_ENV}; generate a token for this access key.")
    expires = claims.get("exp")
    if isinstance(expires, (int, float)) and expires <= (time.time() if now is None else now):
        raise ProviderAuthError(s.NAME, f"the shoplive token in {s.TOKEN_ENV} has expired; generate a new one.")


def api_time(moment: dt.datetime, *, round_up: bool = False) -> str:
    """``YYYY-MM-DDTHH:mm:ssZ`` in UTC (DOC: no fractions); ``round_up`` lifts a fraction to the next second."""
    value = pendulum.instance(moment).in_timezone("UTC")
    if round_up and value.microsecond:
        value = value.add(seconds=1)
    return value.strftime(s.TIME_FORMAT)


class ShopliveClient:
    """Reads Shoplive's API; every call goes through the shared ``HttpClient`` (auth, limit, retries)."""

    def __init__(self, http: HttpClient, access_key: str) -> None:
        self._http = http
        self.access_key = str(access_key)

    def search(self, *, scheduled_from: dt.datetime | None = None, scheduled_to: dt.datetime | None = None,
               campaign_keys: list[str] | None = None) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Campaign objects (with the parameters of their page), one per campaignKey.

        ASSUMPTION (shoplive.md): the envelope is only ``results``; a page shorter than ``count`` is the last.
        """
        path = s.SEARCH.format(access_key=self.access_key)
        base: dict[str, Any] = {"sortAscending": "true"}
        if scheduled_from is not None:
            base["from"] = api_time(scheduled_from)
        if scheduled_to is not None:
            base["to"] = api_time(scheduled_to, round_up=True)
        if campaign_keys:
            base["campaignKeys"] = ",".join(campaign_keys)
        found: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}

        def results(response: HttpResponse, number: int) -> list[Any]:
            return self._results(response, what=f"campaign search page {number + s.FIRST_PAGE}")

        # DOC: page 1-based, count <= 20; ASSUMPTION: no total, a short page is the last
        paginator = PageNumberPaginator(base=s.FIRST_PAGE, size=s.MAX_COUNT, size_param="count")
        for page in self._http.paginate("GET", path, paginator, items=results, params=base,
                                        what="campaign search"):
            for item in page.items:
                key = _campaign_key(item)
                if key is not None:
                    found.setdefault(key, (item, page.sent))
        return list(found.values())

    def stats(self, start: dt.datetime, end: dt.datetime,
              campaign_keys: list[str] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Statistics of ``[start, end)`` (at most 7 days), for every active campaign or the given keys."""
        to = api_time(end, round_up=True)
        if _seconds(to) - _seconds(api_time(start)) > s.MAX_WINDOW_DAYS * 86400:
            to = api_time(end)   # rounding up must not push a full week past the API's maximum
        params: dict[str, Any] = {"from": api_time(start), "to": to}
        if campaign_keys:
            params["campaignKeys"] = ",".join(campaign_keys)
        what = f"campaign stats {params['from']}..{params['to']}"
        items = self._results(self._http.get(s.STATS.format(access_key=self.access_key), params=params),
                              what=what, keys=campaign_keys)
        return [i for i in items if isinstance(i, dict) and i.get("campaignKey") is not None], params

    def _results(self, response: HttpResponse, *, what: str, keys: list[str] | None = None) -> list[Any]:
        status = response.status
        if status in (401, 403):
            raise ProviderAuthError(s.NAME, f"shoplive refused the token (HTTP {status}) reading {what}; "
                                            f"check {s.TOKEN_ENV} (a JWT for {s.ACCESS_KEY_ENV}).",
                                    endpoint=_endpoint(response), status=status)
        if status == 404:
            if keys:
                raise EntitySkipped(f"shoplive does not know campaignKey {','.join(keys)} ({what}, HTTP 404)",
                                    code="not_found", status=404)
            raise ProviderAuthError(s.NAME, f"shoplive does not know the access key (HTTP 404) reading {what}; "
                                            f"check {s.ACCESS_KEY_ENV}.", endpoint=_endpoint(response), status=404)
        if status >= 400:
            raise HttpStatusError(s.NAME, f"shoplive rejected {what} (HTTP {status}).", endpoint=_endpoint(response),
                                  status=status, body=response.data)
        body = response.data
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise EntityFailed(f"shoplive answered {what} without a results list.", code="malformed_answer",
                               status=status)
        return body["results"]


def _seconds(text: str) -> float:
    return dt.datetime.strptime(text, s.TIME_FORMAT).replace(tzinfo=dt.UTC).timestamp()


def _campaign_key(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    meta = item.get("campaignMeta")
    key = meta.get("campaignKey") if isinstance(meta, dict) else item.get("campaignKey")
    return None if key is None else str(key)


def _endpoint(response: HttpResponse) -> str:
    # the path holds the access key: name the endpoint without it
    return "/v2/{accessKey}/" + response.path.split("/", 3)[-1] if response.path.count("/") >= 3 else response.path


def batches(keys: list[str], size: int = s.STATS_KEYS_PER_CALL) -> list[list[str]]:
    return [keys[i:i + size] for i in range(0, len(keys), max(1, size))] if keys else []

