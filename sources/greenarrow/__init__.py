"""GreenArrow Studio (email) dlt source.

Per mailing list and grid window: the campaigns started in the window; then per campaign its details
(``stat_summary``, ``content_stats``, ``automatic_winner_selection``) and every page of ``link_stats``.
Campaign figures are lifetime totals, so each campaign is one replacement scope for its details and one for its
links: the newest complete pull of a campaign replaces everything earlier pulls said about it. A nightly leaves out
a listed campaign that settled (``plan.settled``: it finished a settle period before its last two pulls, which
agree on its details, the newer less than ``recheck_days`` old) while the listing still shows it finished.

The extraction streams: every (list, window) listing is read concurrently, then the campaigns are pulled window
by window through the shared HTTP client's bounded pool, and a window is closed (its rows all yielded, so the
runner may mark it done once they are loaded) as soon as its last campaign is in. Campaigns due again whatever
their window (still sending) come last.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dlt
from dlt.common.typing import TSecretStrValue

from core.errors import EntityError
from sources.common.raw import RawBatch
from sources.common.source import Extraction, extraction
from sources.common.windows import Window
from sources.greenarrow import settings as s
from sources.greenarrow.client import GreenArrowClient
from sources.greenarrow.spec import SPEC

__all__ = ["SPEC", "greenarrow_rows", "greenarrow_source"]

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
        http: an HTTP client to share (requests are counted and limited there).
        plan: what to pull (windows, refresh ids, run id); default: the last 7 days.
        report: where window outcomes are noted for the ledger.
    """
    run = extraction(SPEC, base_url=base_url, secret=str(api_key), http=http, plan=plan, report=report)
    return run.resource("greenarrow_extract", lambda: greenarrow_rows(
        run, mailing_list_ids=mailing_list_ids, link_stats_per_page=link_stats_per_page))


@dataclass
class _WindowState:
    """A window's listings, campaigns still to pull and whether one of them must be pulled again."""

    window: Window
    listed: list[str] = field(default_factory=list)          # lists whose campaigns of the window are known
    campaigns: dict[tuple[str, str], bool] = field(default_factory=dict)   # (list, campaign) -> pulled
    retry: bool = False


def greenarrow_rows(run: Extraction, *, mailing_list_ids: list[str] | None = None,
                    link_stats_per_page: int | None = None) -> Iterator[RawBatch]:
    """Every raw row of the plan: lists, each window's listings, then its campaigns' details and links."""
    client = GreenArrowClient(run.http, link_stats_per_page=link_stats_per_page or s.LINK_STATS_MAX_PER_PAGE)
    writer, plan = run.writer, run.plan
    if mailing_list_ids:
        list_ids = [str(i) for i in mailing_list_ids]
    else:
        lists = client.mailing_lists()
        lists_fetch = writer.fetch("mailing_lists", "greenarrow|*|mailing_lists", account_id="*")
        for item in lists:
            lists_fetch.add("mailing_lists", item)
        list_ids = [str(item["id"]) for item in lists if item.get("id") is not None]
        yield from lists_fetch.rows()

    # 1. discovery: which campaigns started in which window, per list; every listing concurrently
    states = [_WindowState(window) for window in plan.windows]
    listings = [(state, list_id) for state in states for list_id in list_ids]

    def listing(pair: tuple[_WindowState, str]) -> tuple[list[dict[str, Any]], dict[str, Any]] | EntityError:
        try:
            return client.list_campaigns(pair[1], pair[0].window)
        except EntityError as exc:
            return exc

    seen: set[tuple[str, str]] = set()
    settled = {(list_id, str(cid)) for list_id, ids in plan.settled.items() for cid in ids}
    for (state, list_id), answer in zip(listings, run.http.map(listing, listings), strict=True):
        window = state.window
        if isinstance(answer, EntityError):
            # a list that cannot be read leaves the window's campaigns unknown: pulled again next run
            yield writer.failed(answer, WINDOW_ENDPOINT, account_id=list_id, window=window, fails_window=True)
            continue
        items, params = answer
        fetch = writer.fetch("list_campaigns", f"greenarrow|{list_id}|list_campaigns|{window.key}",
                             account_id=list_id, window=window, request_params=params)
        for item in items:
            if item.get("id") is None:
                continue
            cid = str(item["id"])
            fetch.add("list_campaigns", item, campaign_id=cid)
            if (list_id, cid) not in seen:  # a campaign is pulled once, for the first window that lists it
                seen.add((list_id, cid))
                if (list_id, cid) in settled and _dispatch_state(item) in s.FINAL_STATES:
                    run.report.add(settled=1)   # its figures stopped moving, and it still shows finished
                    continue
                state.campaigns[(list_id, cid)] = False
        state.listed.append(list_id)
        yield from fetch.rows()
    refresh = [(list_id, str(cid)) for list_id, ids in plan.refresh.items()
               if not mailing_list_ids or list_id in list_ids for cid in ids if (list_id, str(cid)) not in seen]

    # 2. details and links, window by window through the bounded pool; a window closes with its last campaign
    order = [(index, key) for index, state in enumerate(states) for key in state.campaigns]
    order += [(-1, key) for key in refresh]

    def pull(task: tuple[int, tuple[str, str]]) -> tuple[list[RawBatch], bool]:
        return _pull_campaign(client, run, *task[1])

    closed = 0
    for (index, key), (rows, retry) in zip(order, run.http.map(pull, order), strict=True):
        yield from rows
        if index < 0:
            continue
        state = states[index]
        state.campaigns[key] = True
        state.retry = state.retry or retry
        while closed < len(states) and all(states[closed].campaigns.values()):
            _close(run, states[closed], list_ids)
            closed += 1
    for state in states[closed:]:
        _close(run, state, list_ids)


def _dispatch_state(item: dict[str, Any]) -> str | None:
    dispatch = item.get("dispatch")
    return dispatch.get("state") if isinstance(dispatch, dict) else None


def _close(run: Extraction, state: _WindowState, list_ids: list[str]) -> None:
    report, window = run.report, state.window
    if not list_ids:  # an organization without lists: the window is pulled, and empty
        report.window_done(WINDOW_ENDPOINT, "*", window, 0)
    for list_id in state.listed:
        if state.retry:
            report.window_failed(WINDOW_ENDPOINT, list_id, window, "a campaign of this window failed; retried next run")
        else:
            records = sum(1 for lid, _ in state.campaigns if lid == list_id)
            report.window_done(WINDOW_ENDPOINT, list_id, window, records)
    report.close_window(window)


def _pull_campaign(client: GreenArrowClient, run: Extraction, list_id: str, cid: str) -> tuple[list[RawBatch], bool]:
    """Rows for one campaign (details fetch, links fetch or error rows) and whether its windows must be pulled
    again."""
    writer = run.writer
    rows: list[RawBatch] = []
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
