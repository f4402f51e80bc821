"""Shoplive (live commerce) dlt source.

Campaign search fills the campaign dimension: every campaign scheduled from ``lookback_days`` (the plan's)
before the first window of the load onwards (or exactly the configured ``campaign_keys``). ``campaign/stats``
gives each window's figures per campaign; a window is at most 7 days (the API's maximum). With ``campaign_keys``
configured, stats are asked for those keys in batches, and a batch refused with 404 is retried key by key so one
unknown key only skips itself.

One window is one replacement scope (``shoplive|<accessKey>|stats|<window key>``) holding every stats record of
that window: a re-pull replaces it, so a campaign absent from the newer answer vanishes from the fact. A window
with a transient failure is not emitted (its earlier pull stays) and is marked failed for the next run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import dlt
from dlt.common.typing import TSecretStrValue

from core.errors import EntityError, EntitySkipped
from sources.common.parsing import as_object
from sources.common.raw import Fetch, RawBatch, RawWriter
from sources.common.source import Extraction, extraction
from sources.common.windows import Window
from sources.shoplive.client import ShopliveClient, api_time, batches, check_token
from sources.shoplive.spec import SPEC

__all__ = ["SPEC", "shoplive_rows", "shoplive_source"]


@dlt.source(name="shoplive", section="shoplive", max_table_nesting=0)
def shoplive_source(
    base_url: str = dlt.config.value,
    access_key: str = dlt.config.value,
    api_token: TSecretStrValue = dlt.secrets.value,
    campaign_keys: list[str] | None = None,
    http: Any = None,
    plan: Any = None,
    report: Any = None,
) -> Iterable[Any]:
    """Raw Shoplive records for the windows of ``plan``.

    Args:
        base_url: the API host (``https://private.shopliveapi.com``).
        access_key: the account's access key; the warehouse's account_id.
        api_token: the Bearer JWT (HS256, claim ``accessKey``); used only when ``http`` is None.
        campaign_keys: limit search and stats to these campaignKeys; default every campaign.
        http: the run's shared HTTP client (the runner passes it so requests are counted and limited).
        plan: what to pull (windows, run id, lookback: how far before the first window the campaign search
            reaches, for shows rescheduled or still drawing replay viewers); default: the last 7 days.
        report: where window outcomes are noted for the ledger.
    """
    check_token(str(api_token), str(access_key))
    run = extraction(SPEC, base_url=base_url, secret=str(api_token), http=http, plan=plan, report=report)
    return run.resource("shoplive_extract", lambda: shoplive_rows(run, access_key=str(access_key),
                                                                  campaign_keys=campaign_keys))


def shoplive_rows(run: Extraction, *, access_key: str, campaign_keys: list[str] | None = None) -> Iterator[RawBatch]:
    """Every raw row of the plan: the campaign search, then each window's stats (the window closed with them)."""
    client = ShopliveClient(run.http, access_key)
    keys = [str(k) for k in campaign_keys or [] if str(k).strip()]
    yield from _search(client, run, keys)
    yield from _stats(client, run, keys)


def _search(client: ShopliveClient, run: Extraction, keys: list[str]) -> Iterator[RawBatch]:
    plan, writer = run.plan, run.writer
    if not plan.windows and not keys:
        return
    account = client.access_key
    searches: list[Callable[[], list[tuple[dict[str, Any], dict[str, Any]]]]]
    if keys:
        scope, request = f"shoplive|{account}|search|keys", {"campaignKeys": ",".join(keys)}
        searches = [functools.partial(client.search, campaign_keys=batch) for batch in batches(keys)]
    else:
        # Search filters on the *scheduled* start; reach back by the lookback for shows rescheduled or still
        # drawing replay viewers, and leave the end open when the load reaches now (upcoming shows).
        first, last = plan.windows[0], plan.windows[-1]
        lo = first.start.subtract(days=plan.lookback_days)
        hi = None if last.end >= plan.now or last.is_clamped else last.end
        scope, request = f"shoplive|{account}|search|{lo.format('YYYY-MM-DD')}", {"from": api_time(lo)}
        searches = [functools.partial(client.search, scheduled_from=lo, scheduled_to=hi)]
    fetch = writer.fetch("campaigns", scope, account_id=account, request_params=request)
    try:
        for search in searches:
            for item, params in search():
                meta = as_object(item.get("campaignMeta")) or item
                fetch.add("campaigns", item, campaign_id=str(meta.get("campaignKey")), request_params=params)
    except EntityError as exc:  # the search only feeds the dimension: its earlier pull stays
        yield writer.failed(exc, "campaigns", account_id=account)
        return
    yield from fetch.rows()


def _stats(client: ShopliveClient, run: Extraction, keys: list[str]) -> Iterator[RawBatch]:
    writer = run.writer
    account = client.access_key
    unknown: set[str] = set()    # keys a 404 refused: skipped (and recorded) once per load, not per window

    def pull(window: Window) -> tuple[Window, Fetch, list[RawBatch], bool]:
        fetch = writer.fetch("campaign_stats", f"shoplive|{account}|stats|{window.key}", account_id=account,
                             window=window)
        errors: list[RawBatch] = []
        try:
            if not keys:
                items, params = client.stats(window.start, window.end)
                fetch.request_params = params
                for item in items:
                    fetch.add("campaign_stats", item, campaign_id=str(item["campaignKey"]), request_params=params)
            else:
                for batch in batches([k for k in keys if k not in unknown]):
                    _keyed(client, writer, fetch, errors, window, batch, unknown)
        except EntityError as exc:
            # whatever went wrong, this window's earlier pull stays and the window is pulled again
            errors.append(writer.failed(exc, "campaign_stats", account_id=account, window=window,
                                        fails_window=True))
            return window, fetch, errors, False
        return window, fetch, errors, True

    for window, fetch, errors, complete in run.http.map(pull, run.plan.windows):
        yield from errors
        if complete:
            yield from fetch.rows()
            run.report.window_done("campaign_stats", account, window, len(fetch))
        run.report.close_window(window)


def _keyed(client: ShopliveClient, writer: RawWriter, fetch: Fetch, errors: list[RawBatch], window: Window,
           batch: list[str], unknown: set[str]) -> None:
    """Stats of one batch of keys; on 404 each key alone, so an unknown key skips only itself."""
    try:
        items, params = client.stats(window.start, window.end, batch)
    except EntitySkipped as exc:
        if len(batch) == 1:
            unknown.add(batch[0])
            errors.append(writer.failed(exc, "campaign_stats", account_id=client.access_key, campaign_id=batch[0],
                                        window=window))
            return
        for key in batch:
            _keyed(client, writer, fetch, errors, window, [key], unknown)
        return
    fetch.request_params = {k: v for k, v in params.items() if k != "campaignKeys"}
    for item in items:
        fetch.add("campaign_stats", item, campaign_id=str(item["campaignKey"]), request_params=params)
