"""GreenArrow Studio (email) dlt source.

Per mailing list and grid window: the campaigns started in the window; then per campaign its details
(``stat_summary``, ``content_stats``, ``automatic_winner_selection``) and every page of ``link_stats``.
Campaign figures are lifetime totals, so each campaign is one replacement scope for its details and one for its
links: the newest complete pull of a campaign replaces everything earlier pulls said about it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import dlt
from dlt.common.typing import TSecretStrValue

from core.errors import EntityError
from sources.common.source import Extraction, extraction
from sources.common.windows import Window
from sources.greenarrow import settings as s
from sources.greenarrow.client import GreenArrowClient
from sources.greenarrow.spec import SPEC

__all__ = ["SPEC", "greenarrow_source"]

# the ledger's name for one (list, window): the campaigns listed in it
WINDOW_ENDPOINT = "list_campaigns"


@dlt.source(name="greenarrow", section="greenarrow", max_table_nesting=0)
def greenarrow_source(
    base_url: str = dlt.config.value,
    api_key: TSecretStrValue = dlt.secrets.value,
    mailing_list_ids: list[str] | None = None,
    link_stats_per_page: int = s.LINK_STATS_MAX_PER_PAGE,
    http: Any = None,
    plan: Any = None,
    report: Any = None,
) -> Iterable[Any]:
    """Raw GreenArrow records for the windows and campaigns of ``plan``.

    Args:
        base_url: the Studio host (paths start with ``/ga/api/v2``).
        api_key: ``<organization_id>:<api_key>`` (or the pre-encoded form); used only when ``http`` is None.
        mailing_list_ids: lists to load; default every list of the organization.
        link_stats_per_page: link_stats page size, at most 500.
        http: the run's shared HTTP client (the runner passes it so requests are counted and limited).
        plan: what to pull (windows, refresh ids, run id); default: the last 7 days.
        report: where window outcomes are noted for the ledger.
    """
    run = extraction(SPEC, base_url=base_url, secret=str(api_key), http=http, plan=plan, report=report)
    client = GreenArrowClient(run.http, link_stats_per_page=link_stats_per_page or s.LINK_STATS_MAX_PER_PAGE)
    return run.resource("greenarrow_extract", lambda: _extract(client, run, mailing_list_ids))


def _extract(client: GreenArrowClient, run: Extraction, mailing_list_ids: list[str] | None) -> Iterator[Any]:
    writer, plan, report = run.writer, run.plan, run.report
    if mailing_list_ids:
        list_ids = [str(i) for i in mailing_list_ids]
    else:
        lists = client.mailing_lists()
        lists_fetch = writer.fetch("mailing_lists", "greenarrow|*|mailing_lists", account_id="*")
        for item in lists:
            lists_fetch.add("mailing_lists", item)
        list_ids = [str(item["id"]) for item in lists if item.get("id") is not None]
        yield from lists_fetch.rows()

    # 1. discovery: which campaigns started in which window, per list
    campaign_windows: dict[tuple[str, str], list[Window]] = {}
    listed: set[tuple[str, Window]] = set()
    for list_id in list_ids:
        for window in plan.windows:
            try:
                items, params = client.list_campaigns(list_id, window)
            except EntityError as exc:
                # a list that cannot be read leaves the window's campaigns unknown: pulled again next run
                yield writer.failed(exc, WINDOW_ENDPOINT, account_id=list_id, window=window, fails_window=True)
                continue
            fetch = writer.fetch("list_campaigns", f"greenarrow|{list_id}|list_campaigns|{window.key}",
                                 account_id=list_id, window=window, request_params=params)
            for item in items:
                if item.get("id") is None:
                    continue
                cid = str(item["id"])
                fetch.add("list_campaigns", item, campaign_id=cid)
                campaign_windows.setdefault((list_id, cid), []).append(window)
            listed.add((list_id, window))
            yield from fetch.rows()
    for list_id, ids in plan.refresh.items():
        if mailing_list_ids and list_id not in list_ids:
            continue
        for cid in ids:
            campaign_windows.setdefault((list_id, str(cid)), [])

    # 2. details and links, campaigns pulled concurrently within the provider's limits
    def pull(key: tuple[str, str]) -> tuple[tuple[str, str], list[Any], bool]:
        list_id, cid = key
        return key, *_pull_campaign(client, run, list_id, cid)

    failed_windows: set[tuple[str, Window]] = set()
    for (list_id, cid), rows, retry in run.http.map(pull, sorted(campaign_windows)):
        yield from rows
        if retry:
            failed_windows.update((list_id, window) for window in campaign_windows[(list_id, cid)])

    if not list_ids:  # an organization without lists: every window is pulled, and empty
        for window in plan.windows:
            report.window_done(WINDOW_ENDPOINT, "*", window, 0)
    for list_id, window in sorted(listed, key=lambda pair: (pair[0], pair[1].start)):
        if (list_id, window) in failed_windows:
            report.window_failed(WINDOW_ENDPOINT, list_id, window, "a campaign of this window failed; retried next run")
        else:
            records = sum(1 for (lid, _), ws in campaign_windows.items() if lid == list_id and window in ws)
            report.window_done(WINDOW_ENDPOINT, list_id, window, records)


def _pull_campaign(client: GreenArrowClient, run: Extraction, list_id: str, cid: str) -> tuple[list[Any], bool]:
    """Rows for one campaign (details fetch, links fetch or error rows) and whether its windows must be pulled
    again."""
    writer = run.writer
    rows: list[Any] = []
    details = writer.fetch("campaign", f"greenarrow|{list_id}|{cid}|details", account_id=list_id, campaign_id=cid)
    links = writer.fetch("link_stats", f"greenarrow|{list_id}|{cid}|link_stats", account_id=list_id,
                         campaign_id=cid)
    try:
        data = client.campaign(cid)
    except EntityError as exc:
        rows.append(writer.failed(exc, "campaign", account_id=list_id, campaign_id=cid))
        if exc.code == "not_found":
            # deleted upstream: empty pulls make its rows vanish from the fact instead of lingering
            rows.extend(details.rows())
            rows.extend(links.rows())
        return rows, exc.retry
    details.add("campaigns", data)
    rows.extend(details.rows())
    try:
        link_rows, meta = client.link_stats(cid)
    except EntityError as exc:
        rows.append(writer.failed(exc, "link_stats", account_id=list_id, campaign_id=cid))
        return rows, exc.retry
    links.request_params = meta
    for link in link_rows:
        links.add("link_stats", link)
    rows.extend(links.rows())
    return rows, False
