"""Parrot (SMS) dlt source.

Each run lists every post campaign of the account (cheap), then reads the metrics of the published ones that were
published inside one of the plan's windows or are due again (``plan.refresh``: loaded stale, not ready, failed, or
last pulled over a week ago). A nightly leaves out a settled campaign (``plan.settled``: published at least
``settle_days`` before its last two ready pulls, whose counters agree, the newer made less than ``recheck_days``
ago) unless the listing shows it updated since ``plan.settled_since``. Metrics refresh asynchronously;
``ParrotClient.poll_metrics`` waits for them from one scheduler. Per campaign:

* ``ready`` -> one metrics record (replacement scope ``parrot|<account>|<id>|metrics``);
* still ``updating`` after the wait -> the previous values, loaded with ``_poll.stale = true``;
* still ``starting`` -> no metric record at all (its zeros are placeholders) and a ``metrics_not_ready`` error;
* 404 -> an error and an empty pull of its scope, so a deleted campaign's rows vanish.

Every polled campaign also gets a ``raw.parrot_polls`` record (statuses seen, polls, wait, outcome).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import dlt
import pendulum
from dlt.common.typing import TSecretStrValue

from sources.common.raw import RawBatch, RawWriter
from sources.common.source import Extraction, extraction
from sources.common.windows import parse_time
from sources.parrot import settings as s
from sources.parrot.client import ParrotClient, PollResult
from sources.parrot.spec import SPEC

__all__ = ["SPEC", "parrot_rows", "parrot_source"]


@dlt.source(name="parrot", section="parrot", max_table_nesting=0)
def parrot_source(
    base_url: str = dlt.config.value,
    api_token: TSecretStrValue = dlt.secrets.value,
    account_id: str = s.DEFAULT_ACCOUNT_ID,
    page_size: int = s.MAX_PAGE_SIZE,
    poll_interval_seconds: float = s.POLL_INTERVAL_SECONDS,
    max_poll_attempts: int = s.MAX_POLL_ATTEMPTS,
    max_poll_seconds: float = s.MAX_POLL_SECONDS,
    http: Any = None,
    plan: Any = None,
    report: Any = None,
) -> Iterable[Any]:
    """Raw Parrot records for the windows and campaigns of ``plan``.

    Args:
        base_url: the API root the ``/accounts/...`` paths are relative to.
        api_token: the Bearer token; used only when ``http`` is None.
        account_id: the account id, or ``me`` for the token's own account.
        page_size: post campaigns per page (at most 100).
        poll_interval_seconds: wait between two metrics requests of a refreshing campaign.
        max_poll_attempts: re-polls of a refreshing campaign before its last answer is taken.
        max_poll_seconds: total wait for refreshing campaigns in one run.
        http: the run's shared HTTP client (the runner passes it so requests are counted and limited).
        plan: what to pull (windows, refresh ids, run id); default: the last 7 days.
        report: where window outcomes are noted for the ledger.
    """
    run = extraction(SPEC, base_url=base_url, secret=str(api_token), http=http, plan=plan, report=report)
    return run.resource("parrot_extract", lambda: parrot_rows(
        run, account_id=account_id, page_size=page_size, poll_interval_seconds=poll_interval_seconds,
        max_poll_attempts=max_poll_attempts, max_poll_seconds=max_poll_seconds))


def parrot_rows(run: Extraction, *, account_id: str | None = None, page_size: int | None = None,
                poll_interval_seconds: float | None = None, max_poll_attempts: int | None = None,
                max_poll_seconds: float | None = None) -> Iterator[RawBatch]:
    """Every raw row of the plan: the listing, then the metrics of the campaigns in scope (windows close at the
    end)."""
    client = ParrotClient(
        run.http, account_id=account_id or s.DEFAULT_ACCOUNT_ID, page_size=page_size or s.MAX_PAGE_SIZE,
        poll_interval=s.POLL_INTERVAL_SECONDS if poll_interval_seconds is None else poll_interval_seconds,
        max_poll_attempts=s.MAX_POLL_ATTEMPTS if max_poll_attempts is None else max_poll_attempts,
        max_poll_seconds=s.MAX_POLL_SECONDS if max_poll_seconds is None else max_poll_seconds)
    yield from _extract(client, run)


def _extract(client: ParrotClient, run: Extraction) -> Iterator[RawBatch]:
    writer, plan, report = run.writer, run.plan, run.report
    account = client.account_id
    items, paging = client.post_campaigns()
    listing = writer.fetch("post_campaigns", f"{s.NAME}|{account}|post_campaigns", account_id=account,
                           request_params=paging)
    for item in items:
        listing.add("post_campaigns", item, campaign_id=str(item["id"]))
    yield from listing.rows()

    by_id = {str(item["id"]): item for item in items}
    refresh = {str(c) for c in plan.refresh.get(account, [])}
    settled = set(plan.settled.get(account, []))
    published_at: dict[str, pendulum.DateTime | None] = {}
    selected: list[str] = []
    for cid, item in by_id.items():
        if item.get("status") != s.PUBLISHED:   # DOC: only published campaigns have metrics
            continue
        published_at[cid] = parse_time(item.get("published_at"))
        moment = published_at[cid]
        if cid in settled and not _changed_since(item, plan.settled_since):
            report.add(settled=1)   # counters stopped moving, and the listing shows no change: not pulled
            continue
        if cid in refresh or (moment is not None and any(w.contains(moment) for w in plan.windows)):
            selected.append(cid)
    # due again but no longer listed: probe it; a 404 then empties its scope
    selected.extend(sorted(refresh - set(by_id)))

    for result in client.poll_metrics(selected):
        yield from _result_rows(writer, account, result)

    for window in plan.windows:
        records = sum(1 for cid in selected
                      if (moment := published_at.get(cid)) is not None and window.contains(moment))
        report.window_done("post_campaigns", account, window, records)


def _changed_since(item: dict[str, Any], since: pendulum.DateTime | None) -> bool:
    """Whether the listing shows the campaign touched since ``since`` (an unreadable time counts as a change)."""
    if since is None:
        return True
    moments = [parse_time(item.get(key)) for key in ("updated_at", "published_at")]
    return any(moment is None or moment >= since for moment in moments)


def _result_rows(writer: RawWriter, account: str, result: PollResult) -> Iterator[RawBatch]:
    cid = result.campaign_id
    poll = result.summary()
    polls = writer.fetch("polls", f"{s.NAME}|{account}|{cid}|polls", account_id=account, campaign_id=cid)
    polls.add("polls", {"campaign_id": cid, **poll})
    yield from polls.rows()
    scope = f"{s.NAME}|{account}|{cid}|metrics"
    if result.outcome in ("ready", "stale"):
        fetch = writer.fetch("metrics", scope, account_id=account, campaign_id=cid)
        fetch.add("metrics", {**(result.body or {}), "_poll": poll})
        yield from fetch.rows()
    elif result.outcome == "not_ready":
        # DOC: starting carries placeholder zeros; no rows, and the scope keeps whatever real values it had
        yield writer.error("metrics", account_id=account, campaign_id=cid, code=s.NOT_READY_REASON,
                           reason=f"{s.NOT_READY_REASON}: post campaign {cid} still "
                                  f"{(result.statuses or ['starting'])[-1]} after {result.polls} requests over "
                                  f"{result.waited_seconds:.1f}s; placeholder zeros not loaded")
    elif result.error is not None:
        yield writer.failed(result.error, "metrics", account_id=account, campaign_id=cid)
        if result.outcome == "not_found":  # deleted upstream: an empty pull of its scope removes its rows
            yield from writer.fetch("metrics", scope, account_id=account, campaign_id=cid).rows()
