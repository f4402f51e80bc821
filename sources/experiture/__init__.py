"""Experiture (omnichannel: email, SMS, push, direct mail) dlt source.

Each run lists every campaign of the workspace (offset pages, read until two readings agree), then reads the
``/status`` of each listed broadcast campaign. A campaign is pulled (``/status`` + ``/summary`` + ``/metrics``,
one replacement scope ``experiture|default|<uuid>|metrics``) when it is still executing (scheduled, pending or
running), or when it was created, updated, scheduled, started or completed inside one of the plan's windows.
Campaigns the warehouse holds that the listing no longer shows (``plan.refresh``) are probed: a 404 means deleted
and empties their scope. A nightly does not probe a settled campaign (``plan.settled``: its last execution ended
at least ``settle_days`` before its last two pulls, which agree, the newer made less than ``recheck_days`` ago)
unless the listing shows it created or updated since ``plan.settled_since``; nor a dormant one (``plan.dormant``:
it ended before the first window and its newest pull was made a settle period after that, or it never executed
(``not_scheduled``), and that pull is less than ``recheck_days`` old) while the listing shows no change since that
pull; a dormant one whose newest pull is older (``plan.dormant_due``) is pulled whole, its re-check; nor a draft
never pulled that the listing shows untouched inside the windows. Figures are lifetime totals, so the
newest pull replaces everything earlier pulls said.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dlt
import pendulum
from dlt.common.typing import TSecretStrValue

from core.errors import ConfigError, EntityError
from sources.common.parsing import as_object
from sources.common.raw import RawBatch, RawWriter
from sources.common.source import Extraction, extraction
from sources.common.windows import Window, parse_time, utc
from sources.experiture import settings as s
from sources.experiture.client import ExperitureClient, Listing, grant
from sources.experiture.spec import SPEC

__all__ = ["SPEC", "experiture_rows", "experiture_source"]


@dlt.source(name="experiture", section="experiture", max_table_nesting=0)
def experiture_source(
    base_url: str = dlt.config.value,
    access_token: TSecretStrValue | None = None,
    page_size: int = s.MAX_PAGE_LIMIT,
    max_listings: int = s.MAX_LISTINGS,
    token_url: str | None = None,
    client_id: str | None = None,
    client_secret: TSecretStrValue | None = None,
    http: Any = None,
    plan: Any = None,
    report: Any = None,
) -> Iterable[Any]:
    """Raw Experiture records for the windows and campaigns of ``plan``.

    Args:
        base_url: the API root, e.g. ``https://api.experiture.ai/public/v1``.
        access_token: a ready Bearer token (JWT); used only when ``http`` is None and the grant is not given.
        page_size: campaigns per listing page (the API clamps to 100).
        max_listings: bound on re-reading a changing campaign list.
        token_url, client_id, client_secret: the OAuth 2.0 client-credentials grant; given, it wins over
            ``access_token`` and its tokens renew themselves.
        http: the run's shared HTTP client (the runner passes it so requests are counted and limited).
        plan: what to pull (windows, refresh ids, run id); default: the last 7 days.
        report: where window outcomes are noted for the ledger.
    """
    auth = None
    secret = str(access_token or "")
    if http is None and token_url and client_id and client_secret:
        auth, secret = grant(str(token_url), str(client_id), str(client_secret)), str(client_secret)
    elif http is None and not access_token:
        raise ConfigError(f"experiture needs {s.SECRET_ENV}, or {s.TOKEN_URL_ENV}, {s.CLIENT_ID_ENV} and "
                          f"{s.CLIENT_SECRET_ENV}.")
    run = extraction(SPEC, base_url=base_url, secret=secret, http=http, plan=plan, report=report, auth=auth)
    return run.resource("experiture_extract", lambda: experiture_rows(run, page_size=page_size,
                                                                      max_listings=max_listings,
                                                                      token_url=token_url if auth else None))


def experiture_rows(run: Extraction, *, page_size: int | None = None, max_listings: int | None = None,
                    token_url: str | None = None, client_id: str | None = None) -> Iterator[RawBatch]:
    """Every raw row of the plan: the listing, then the campaigns in scope (the windows close at the end).

    ``token_url`` is set only when the client-credentials grant is in use (the runner resolves it so), which
    changes only which keys a refused token names; ``client_id`` is the grant's and not used here.
    """
    client = ExperitureClient(run.http, page_size=page_size or s.MAX_PAGE_LIMIT,
                              max_listings=max_listings or s.MAX_LISTINGS, grant=bool(token_url))
    yield from _extract(client, run)


@dataclass
class _Outcome:
    rows: list[RawBatch] = field(default_factory=list)
    activity: list[pendulum.DateTime] | None = None     # set when the campaign was pulled


def _extract(client: ExperitureClient, run: Extraction) -> Iterator[RawBatch]:
    writer, plan, report = run.writer, run.plan, run.report
    account = s.ACCOUNT_ID
    listing = client.list_campaigns()
    yield from _listing_rows(writer, client, listing)

    known = [str(c) for c in plan.refresh.get(account, [])]
    candidates = list(listing.items) + sorted(set(known) - set(listing.items))

    settled = set(plan.settled.get(account, []))
    dormant = plan.dormant.get(account, {})
    due = plan.dormant_due.get(account, {})
    since = plan.settled_since

    def pull(cid: str) -> _Outcome:
        item = listing.items.get(cid)
        list_times = _times((item or {}).get("createdAt"), (item or {}).get("updatedAt"))
        if cid in settled and item is not None and since is not None and not any(
                moment >= since for moment in list_times):
            report.add(settled=1)   # final, and two pulls since agree; the listing shows no change: not probed
            return _Outcome()
        if item is not None and cid in dormant and _unchanged_since(list_times, dormant[cid]):
            report.add(settled=1)   # could not move since its recent pull, and the listing shows no change since
            return _Outcome()
        draft = item is not None and item.get("authoringStatus") == s.DRAFT
        if plan.settle and draft and not _in_windows(plan.windows, list_times):
            # ASSUMPTION: a draft is not scheduled and has no execution until it is published, which the listing
            # shows (authoringStatus, updatedAt); a nightly leaves it unprobed meanwhile, --recheck probes it
            report.add(settled=1)
            return _Outcome()
        whole = item is not None and cid in due and _unchanged_since(list_times, due[cid])
        return _pull_campaign(client, writer, plan.windows, cid, item, whole=whole)

    pulled: list[list[pendulum.DateTime]] = []
    for outcome in run.http.map(pull, candidates):
        yield from outcome.rows
        if outcome.activity is not None:
            pulled.append(outcome.activity)
    for window in plan.windows:
        records = sum(1 for times in pulled if any(window.contains(t) for t in times))
        report.window_done("campaigns", account, window, records)


def _listing_rows(writer: RawWriter, client: ExperitureClient, listing: Listing) -> Iterator[RawBatch]:
    fetch = writer.fetch("campaigns", f"{s.NAME}|{s.ACCOUNT_ID}|campaigns", account_id=s.ACCOUNT_ID,
                         request_params={**s.LIST_SORT, "limit": client.page_size, "readings": listing.readings,
                                         "stable": listing.stable, "pages": listing.requests})
    for cid, item in listing.items.items():
        fetch.add("campaigns", item, campaign_id=cid)
    yield from fetch.rows()


def _pull_campaign(client: ExperitureClient, writer: RawWriter, windows: list[Window], cid: str,
                   item: dict[str, Any] | None, *, whole: bool = False) -> _Outcome:
    """One campaign: status, then (when in scope, or ``whole``: a dormant campaign's re-check) summary and metrics
    as one fetch; or error rows."""
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
        execution = as_object(status.get("execution"))
        last = as_object(execution.get("lastExecution"))
        schedule = as_object(status.get("schedule"))
        times = list_times + _times(schedule.get("sendAt"), last.get("startedAt"), last.get("completedAt"))
        # counts still move until the execution is final; an unknown state counts as moving
        still_moving = execution.get("state") not in s.SETTLED_STATES
        if listed and not still_moving and not whole and not _in_windows(windows, times):
            return _Outcome()
        endpoint = "summary"
        summary = client.summary(cid)
        endpoint = "metrics"
        metrics = client.metrics(cid)
    except EntityError as exc:
        if exc.retry:
            raise  # DOC (experiture.md): a campaign that exhausts its retries fails the Experiture run
        rows = [writer.failed(exc, endpoint, account_id=account, campaign_id=cid)]
        if exc.code == "not_found":
            # deleted upstream: an empty pull of its scope removes its rows from the fact
            rows.extend(fetch.rows())
        return _Outcome(rows)
    fetch.add("statuses", status)
    fetch.add("summaries", summary)
    fetch.add("metrics", metrics)
    return _Outcome(list(fetch.rows()), times)


def _unchanged_since(list_times: list[pendulum.DateTime], pulled_at: dt.datetime) -> bool:
    """Whether the listing's times (created, updated) are all before the pull made at ``pulled_at`` (naive UTC,
    as the fetch log keeps it), with a margin for the two clocks; no readable time counts as a change."""
    if not list_times:
        return False
    before = utc(pulled_at) - dt.timedelta(seconds=s.PULL_CLOCK_MARGIN_SECONDS)
    return all(moment < before for moment in list_times)


def _times(*values: Any) -> list[pendulum.DateTime]:
    return [moment for moment in map(parse_time, values) if moment is not None]


def _in_windows(windows: list[Window], times: list[pendulum.DateTime]) -> bool:
    return any(w.contains(t) for w in windows for t in times)
