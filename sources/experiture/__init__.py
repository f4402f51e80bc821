"""Experiture (omnichannel: email, SMS, push, direct mail) dlt source.

Each run lists every campaign of the workspace (offset pages, read until two readings agree), then reads the
``/status`` of each listed broadcast campaign. A campaign is pulled (``/status`` + ``/summary`` + ``/metrics``,
one replacement scope ``experiture|default|<uuid>|metrics``) when it is still executing (scheduled, pending or
running), or when it was created, updated, scheduled, started or completed inside one of the plan's windows.
Campaigns the warehouse holds that the listing no longer shows (``plan.refresh``) are probed: a 404 means deleted
and empties their scope. Figures are lifetime totals, so the newest pull replaces everything earlier pulls said.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dlt
import pendulum
from dlt.common.typing import TSecretStrValue

from core.errors import EntitySkipped, HttpStatusError, ProviderAuthError
from sources.common.http import HttpClient
from sources.common.provider import standalone
from sources.common.raw import ExtractPlan, ExtractReport, RawWriter
from sources.common.windows import Window
from sources.experiture import settings as s
from sources.experiture.client import ExperitureClient, Listing


@dlt.source(name="experiture", section="experiture", max_table_nesting=0)
def experiture_source(
    base_url: str = dlt.config.value,
    access_token: TSecretStrValue = dlt.secrets.value,
    page_size: int = s.MAX_PAGE_LIMIT,
    max_listings: int = s.MAX_LISTINGS,
    http: Any = None,
    plan: Any = None,
    report: Any = None,
) -> Iterable[Any]:
    """Raw Experiture records for the windows and campaigns of ``plan``.

    Args:
        base_url: the API root, e.g. ``https://api.experiture.ai/public/v1``.
        access_token: the Bearer token (JWT); used only when ``http`` is None.
        page_size: campaigns per listing page (the API clamps to 100).
        max_listings: bound on re-reading a changing campaign list.
        http: the run's shared HTTP client (the runner passes it so requests are counted and limited).
        plan: what to pull (windows, refresh ids, run id); default: the last 7 days.
        report: where window outcomes are noted for the ledger.
    """
    http, plan, report = standalone(s.SPEC, base_url=base_url, secret=str(access_token), http=http, plan=plan,
                                    report=report)
    client = ExperitureClient(http, page_size=page_size, max_listings=max_listings)
    writer = RawWriter(s.NAME, plan, report)

    @dlt.resource(name="experiture_extract", write_disposition="append")
    def experiture_extract() -> Iterator[Any]:
        yield from _extract(client, http, writer, plan, report)

    return experiture_extract


@dataclass
class _Outcome:
    rows: list[Any] = field(default_factory=list)
    activity: list[pendulum.DateTime] | None = None     # set when the campaign was pulled


def _extract(client: ExperitureClient, http: HttpClient, writer: RawWriter, plan: ExtractPlan,
             report: ExtractReport) -> Iterator[Any]:
    account = s.ACCOUNT_ID
    listing = client.list_campaigns()
    yield from _listing_rows(writer, client, listing)

    known = [str(c) for c in plan.refresh.get(account, [])]
    candidates = list(listing.items) + sorted(set(known) - set(listing.items))

    def pull(cid: str) -> _Outcome:
        return _pull_campaign(client, writer, plan.windows, cid, listing.items.get(cid))

    pulled: list[list[pendulum.DateTime]] = []
    for outcome in http.map(pull, candidates):
        yield from outcome.rows
        if outcome.activity is not None:
            pulled.append(outcome.activity)
    for window in plan.windows:
        records = sum(1 for times in pulled if any(_inside(window, t) for t in times))
        report.window_done("campaigns", account, window, records)


def _listing_rows(writer: RawWriter, client: ExperitureClient, listing: Listing) -> Iterator[Any]:
    fetch = writer.fetch("campaigns", f"{s.NAME}|{s.ACCOUNT_ID}|campaigns", account_id=s.ACCOUNT_ID,
                         request_params={**s.LIST_SORT, "limit": client.page_size, "readings": listing.readings,
                                         "stable": listing.stable, "pages": listing.requests})
    for cid, item in listing.items.items():
        fetch.add("campaigns", item, campaign_id=cid)
    yield from fetch.rows()


def _pull_campaign(client: ExperitureClient, writer: RawWriter, windows: list[Window], cid: str,
                   item: dict[str, Any] | None) -> _Outcome:
    """One campaign: status, then (when in scope) summary and metrics as one fetch; or error rows."""
    account = s.ACCOUNT_ID
    listed = item is not None
    list_times = _times((item or {}).get("createdAt"), (item or {}).get("updatedAt"))
    in_windows = _in_windows(windows, list_times)
    if listed and (item or {}).get("campaignType") not in (None, "broadcast") and not in_windows:
        # public v1 serves broadcast only (DOC: 409); a journey is asked for, and reported, while it is in a window
        return _Outcome()
    fetch = writer.fetch("campaign", f"{s.NAME}|{account}|{cid}|metrics", account_id=account, campaign_id=cid)
    endpoint = "status"
    try:
        status = client.status(cid)
        execution = status.get("execution") if isinstance(status.get("execution"), dict) else {}
        last = execution.get("lastExecution") if isinstance(execution.get("lastExecution"), dict) else {}
        schedule = status.get("schedule") if isinstance(status.get("schedule"), dict) else {}
        times = list_times + _times(schedule.get("sendAt"), last.get("startedAt"), last.get("completedAt"))
        # counts still move until the execution is final; an unknown state counts as moving
        still_moving = execution.get("state") not in s.SETTLED_STATES
        if listed and not still_moving and not _in_windows(windows, times):
            return _Outcome()
        endpoint = "summary"
        summary = client.summary(cid)
        endpoint = "metrics"
        metrics = client.metrics(cid)
    except ProviderAuthError:
        raise
    except EntitySkipped as exc:
        rows = [writer.error(endpoint, account_id=account, campaign_id=cid, reason=str(exc), http_status=exc.status)]
        if exc.status == 404:
            # deleted upstream: an empty pull of its scope removes its rows from the fact
            rows.extend(fetch.rows())
        return _Outcome(rows)
    except HttpStatusError as exc:
        return _Outcome([writer.error(endpoint, account_id=account, campaign_id=cid, reason=str(exc),
                                      http_status=exc.status)])
    fetch.add("statuses", status)
    fetch.add("summaries", summary)
    fetch.add("metrics", metrics)
    return _Outcome(list(fetch.rows()), times)


def _times(*values: Any) -> list[pendulum.DateTime]:
    out = []
    for value in values:
        if not isinstance(value, str) or not value:
            continue
        try:
            parsed = pendulum.parse(value, tz=pendulum.UTC)
        except Exception:
            continue
        if isinstance(parsed, pendulum.DateTime):
            out.append(parsed.in_timezone(pendulum.UTC))
    return out


def _inside(window: Window, moment: pendulum.DateTime) -> bool:
    return window.start <= moment < window.end


def _in_windows(windows: list[Window], times: list[pendulum.DateTime]) -> bool:
    return any(_inside(w, t) for w in windows for t in times)
