"""Insider One (web push) dlt source.

Per grid window: overall-metrics lists the campaigns active in the window with their window totals; then
campaign-metrics, one call per listed campaign, adds the device and unsuccessful-message breakdowns. Both
endpoints share one budget of 30 requests per minute, which the shared limiter spends at full rate while
``HttpClient.map`` keeps several requests in flight.

One window is one replacement scope (``insider|<partner>|overall|<window key>``) holding the overall list and
every campaign-metrics answer of that window: a re-pull of the window replaces all of it, so a campaign or a
device that vanished from the newer answers vanishes from the fact. A window is emitted only when its list and
every campaign call either succeeded or ended in a recorded skip (424, 406, an uncurable 400); a transient
failure keeps the window's earlier pull in place and marks the window failed for the next run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dlt
from dlt.common.typing import TSecretStrValue

from core.errors import EntityError
from sources.common.raw import Fetch, RawBatch
from sources.common.source import Extraction, extraction
from sources.common.windows import Window
from sources.insider.client import CampaignMetrics, InsiderClient, OverallRecord, created_date
from sources.insider.spec import SPEC

__all__ = ["SPEC", "insider_rows", "insider_source"]


@dlt.source(name="insider", section="insider", max_table_nesting=0)
def insider_source(
    base_url: str = dlt.config.value,
    partner_id: str = dlt.config.value,
    api_key: TSecretStrValue = dlt.secrets.value,
    http: Any = None,
    plan: Any = None,
    report: Any = None,
) -> Iterable[Any]:
    """Raw Insider records for the windows of ``plan``.

    Args:
        base_url: the statistics host (``https://web-push.api.useinsider.com``).
        partner_id: the partner id, sent as a string in every body; the warehouse's account_id.
        api_key: the Web Push API key (Bearer); used only when ``http`` is None.
        http: the run's shared HTTP client (the runner passes it so requests are counted and limited).
        plan: what to pull (windows, run id); default: the last 7 days.
        report: where window outcomes are noted for the ledger.
    """
    run = extraction(SPEC, base_url=base_url, secret=str(api_key), http=http, plan=plan, report=report)
    return run.resource("insider_extract", lambda: insider_rows(run, partner_id=str(partner_id)))


@dataclass
class _WindowPull:
    window: Window
    fetch: Fetch
    records: list[OverallRecord] = field(default_factory=list)
    metrics: list[CampaignMetrics] = field(default_factory=list)
    errors: list[RawBatch] = field(default_factory=list)
    failed: bool = False            # a failure to retry: keep the earlier pull, pull again next run
    skipped: bool = False           # 406: nothing to load, nothing to replace


def insider_rows(run: Extraction, *, partner_id: str) -> Iterator[RawBatch]:
    """Every raw row of the plan: each window's campaign list and its campaigns' metrics, as one fetch per window,
    emitted (and the window closed) as soon as the window's last call is in."""
    client = InsiderClient(run.http, partner_id)
    writer = run.writer
    partner = client.partner_id

    # 1. every window's campaign list, windows concurrently (each pages on its own)
    def list_window(window: Window) -> _WindowPull:
        # the fetch starts now, so its fetched_at (the rows' observed_at) is when the pull began
        fetch = writer.fetch("overall_metrics", f"insider|{partner}|overall|{window.key}", account_id=partner,
                             window=window, request_params={
                                 "partner_id": partner, "start_date": window.start.date().isoformat(),
                                 "end_date": window.last_day.isoformat(), "page": 1, "per_page": client.per_page})
        pull = _WindowPull(window, fetch)
        try:
            pull.records = client.overall(window.start.date(), window.last_day)
        except EntityError as exc:  # 406 (older than the API keeps) is skipped; the rest is pulled again
            pull.errors.append(writer.failed(exc, "overall_metrics", account_id=partner, window=window))
            pull.failed, pull.skipped = exc.retry, not exc.retry
        return pull

    pulls = list(run.http.map(list_window, run.plan.windows))

    # 2. campaign-metrics for every listed campaign of every window, within the shared budget, in window order
    tasks = [(index, record) for index, pull in enumerate(pulls) if not pull.failed and not pull.skipped
             for record in pull.records]
    remaining = [sum(1 for index, _ in tasks if index == i) for i in range(len(pulls))]

    def campaign(task: tuple[int, OverallRecord]) -> tuple[int, CampaignMetrics | None, Any, bool]:
        index, record = task
        window = pulls[index].window
        try:
            metrics = client.campaign_metrics(record.builder_id, window.start.date(), window.last_day,
                                              created=created_date(record.item))
        except EntityError as exc:  # 424 twice, 406, an uncurable 400: recorded; anything else retried
            return index, None, writer.failed(exc, "campaign_metrics", account_id=partner,
                                              campaign_id=record.builder_id, window=window), exc.retry
        return index, metrics, None, False

    emitted = 0
    for index, metrics, error, retry in run.http.map(campaign, tasks):
        pull = pulls[index]
        if metrics is not None:
            pull.metrics.append(metrics)
        if error is not None:
            pull.errors.append(error)
        pull.failed = pull.failed or retry
        remaining[index] -= 1
        while emitted < len(pulls) and remaining[emitted] == 0:
            yield from _emit(run, pulls[emitted], partner)
            emitted += 1
    for pull in pulls[emitted:]:
        yield from _emit(run, pull, partner)


def _emit(run: Extraction, pull: _WindowPull, partner: str) -> Iterator[RawBatch]:
    """One window's complete fetch, or its errors (a failed window is already reported), then close it."""
    yield from pull.errors
    if pull.skipped:
        run.report.window_done("overall_metrics", partner, pull.window, 0)
    elif not pull.failed:
        fetch = pull.fetch
        for record in pull.records:
            fetch.add("overall_metrics", record.item, campaign_id=record.builder_id, request_params=record.request)
        for metrics in pull.metrics:
            fetch.add("campaign_metrics", metrics.data, campaign_id=metrics.builder_id,
                      request_params=metrics.request)
        yield from fetch.rows()
        run.report.window_done("overall_metrics", partner, pull.window, len(fetch))
    run.report.close_window(pull.window)
