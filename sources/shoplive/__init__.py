"""Shoplive (live commerce) dlt source.

Campaign search fills the campaign dimension: every campaign scheduled from ``lookback_days`` before the first
window of the load onwards (or exactly the configured ``campaign_keys``). ``campaign/stats`` gives each window's
figures per campaign; a window is at most 7 days (the API's maximum). With ``campaign_keys`` configured, stats
are asked for those keys in batches, and a batch refused with 404 is retried key by key so one unknown key only
skips itself.

One window is one replacement scope (``shoplive|<accessKey>|stats|<window key>``) holding every stats record of
that window: a re-pull replaces it, so a campaign absent from the newer answer vanishes from the fact. A window
with a transient failure is not emitted (its earlier pull stays) and is marked failed for the next run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import dlt
from dlt.common.typing import TSecretStrValue

from core.errors import EntitySkipped, HttpStatusError, ProviderAuthError, TransientHttpError
from sources.common.http import HttpClient
from sources.common.provider import standalone
from sources.common.raw import ExtractPlan, ExtractReport, Fetch, RawWriter
from sources.common.windows import Window
from sources.shoplive import settings as s
from sources.shoplive.client import ShopliveClient, api_time, batches


@dlt.source(name="shoplive", section="shoplive", max_table_nesting=0)
def shoplive_source(
    base_url: str = dlt.config.value,
    access_key: str = dlt.config.value,
    api_token: TSecretStrValue = dlt.secrets.value,
    campaign_keys: list[str] | None = None,
    lookback_days: int = 30,
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
        lookback_days: how far before the first window the campaign search reaches (shows rescheduled or
            still drawing replay viewers).
        http: the run's shared HTTP client (the runner passes it so requests are counted and limited).
        plan: what to pull (windows, run id); default: the last 7 days.
        report: where window outcomes are noted for the ledger.
    """
    s.check_token(str(api_token), str(access_key))
    http, plan, report = standalone(s.SPEC, base_url=base_url, secret=str(api_token), http=http, plan=plan,
                                    report=report)
    client = ShopliveClient(http, str(access_key))
    writer = RawWriter(s.NAME, plan, report)
    keys = [str(k) for k in campaign_keys or [] if str(k).strip()]

    @dlt.resource(name="shoplive_extract", write_disposition="append")
    def shoplive_extract() -> Iterator[Any]:
        yield from _search(client, writer, plan, keys, lookback_days)
        yield from _stats(client, http, writer, plan, report, keys)

    return shoplive_extract


def _search(client: ShopliveClient, writer: RawWriter, plan: ExtractPlan, keys: list[str],
            lookback_days: int) -> Iterator[Any]:
    if not plan.windows and not keys:
        return
    account = client.access_key
    if keys:
        scope, ranges = f"shoplive|{account}|search|keys", [dict(campaign_keys=batch) for batch in batches(keys)]
    else:
        # Search filters on the *scheduled* start; reach back by the lookback for shows rescheduled or still
        # drawing replay viewers, and leave the end open when the load reaches now (upcoming shows).
        first, last = plan.windows[0], plan.windows[-1]
        lo = first.start.subtract(days=lookback_days)
        hi = None if last.end >= plan.now or last.is_clamped else last.end
        scope = f"shoplive|{account}|search|{lo.format('YYYY-MM-DD')}"
        ranges = [dict(scheduled_from=lo, scheduled_to=hi)]
    fetch = writer.fetch("campaigns", scope, account_id=account,
                         request_params={"campaignKeys": ",".join(keys)} if keys else {
                             "from": api_time(ranges[0]["scheduled_from"])})
    try:
        for arguments in ranges:
            for item, params in client.search(**arguments):
                meta = item.get("campaignMeta") if isinstance(item.get("campaignMeta"), dict) else item
                fetch.add("campaigns", item, campaign_id=str(meta.get("campaignKey")), request_params=params)
    except ProviderAuthError:
        raise
    except (EntitySkipped, HttpStatusError, TransientHttpError) as exc:
        yield writer.error("campaigns", account_id=account, reason=str(exc), http_status=getattr(exc, "status", None))
        return
    yield from fetch.rows()


def _stats(client: ShopliveClient, http: HttpClient, writer: RawWriter, plan: ExtractPlan, report: ExtractReport,
           keys: list[str]) -> Iterator[Any]:
    account = client.access_key
    unknown: set[str] = set()    # keys a 404 refused: skipped (and recorded) once per load, not per window

    def pull(window: Window) -> tuple[Window, Fetch, list[Any], str | None]:
        fetch = writer.fetch("campaign_stats", f"shoplive|{account}|stats|{window.key}", account_id=account,
                             window=window)
        errors: list[Any] = []
        try:
            if not keys:
                items, params = client.stats(window.start, window.end)
                fetch.request_params = params
                for item in items:
                    fetch.add("campaign_stats", item, campaign_id=str(item["campaignKey"]), request_params=params)
            else:
                for batch in batches([k for k in keys if k not in unknown]):
                    _keyed(client, writer, fetch, errors, window, batch, unknown)
        except ProviderAuthError:
            raise
        except (HttpStatusError, TransientHttpError, EntitySkipped) as exc:
            errors.append(writer.error("campaign_stats", account_id=account, window=window, reason=str(exc),
                                       http_status=getattr(exc, "status", None)))
            return window, fetch, errors, str(exc)
        return window, fetch, errors, None

    for window, fetch, errors, failure in http.map(pull, plan.windows):
        yield from errors
        if failure is not None:
            report.window_failed("campaign_stats", account, window, failure)
            continue
        yield from fetch.rows()
        report.window_done("campaign_stats", account, window, len(fetch))


def _keyed(client: ShopliveClient, writer: RawWriter, fetch: Fetch, errors: list[Any], window: Window,
           batch: list[str], unknown: set[str]) -> None:
    """Stats of one batch of keys; on 404 each key alone, so an unknown key skips only itself."""
    try:
        items, params = client.stats(window.start, window.end, batch)
    except EntitySkipped as exc:
        if len(batch) == 1:
            unknown.add(batch[0])
            errors.append(writer.error("campaign_stats", account_id=client.access_key, campaign_id=batch[0],
                                       window=window, reason=str(exc), http_status=exc.status))
            return
        for key in batch:
            _keyed(client, writer, fetch, errors, window, [key], unknown)
        return
    fetch.request_params = {k: v for k, v in params.items() if k != "campaignKeys"}
    for item in items:
        fetch.add("campaign_stats", item, campaign_id=str(item["campaignKey"]), request_params=params)
