"""Parrot post campaigns and their asynchronously refreshed metrics, over the shared HTTP layer.

The metrics endpoint answers at once but may only *start* a refresh: ``starting`` (placeholder zeros, no
``updated_at``), ``updating`` (the previous values) or ``ready``. ``ParrotClient.poll_metrics`` asks every
campaign once, then re-asks the refreshing ones from a single scheduler: each round sends the campaigns that are
due (concurrently, within the shared limits) and sleeps until the next one is due, so many campaigns cost about
one poll interval per round, not one per campaign. The sleep is the protocol's documented wait, not a retry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from core import interrupt
from core.errors import EntityError, EntitySkipped, HttpStatusError, ProviderAuthError, ProviderError
from sources.common.http import HttpClient, HttpResponse
from sources.common.paging import PageNumberPaginator
from sources.common.parsing import as_object
from sources.parrot import settings as s

log = logging.getLogger("campaign_etl.parrot")

def auth_headers(secret: str, settings: object = None) -> dict[str, str]:
    """ASSUMPTION A1: ``Authorization: Bearer <API token>``."""
    return {"Authorization": f"Bearer {secret}", "Accept": "application/json"}


Outcome = Literal["ready", "stale", "not_ready", "not_found", "failed"]


@dataclass
class PollResult:
    """How one campaign's metrics ended up.

    Attributes:
        outcome: ``ready`` (current values), ``stale`` (still ``updating`` after the wait: the previous values),
            ``not_ready`` (still ``starting``: no values at all), ``not_found`` (404) or ``failed`` (retries
            exhausted or an unexpected answer).
        body: the last metrics answer (None unless ready or stale).
        statuses: every ``data.status`` seen, in order.
        polls: requests made.
        waited_seconds: from the first request to the last answer.
        error: the exception behind ``not_found`` / ``failed``.
    """

    campaign_id: str
    outcome: Outcome
    body: dict[str, Any] | None
    statuses: list[str]
    polls: int
    waited_seconds: float
    error: EntityError | None = None

    @property
    def stale(self) -> bool:
        return self.outcome == "stale"

    def summary(self) -> dict[str, Any]:
        """The poll record kept in raw (``_poll`` of a metrics row, and ``raw.parrot_polls``)."""
        data = as_object(as_object(self.body).get("data"))
        metrics = as_object(data.get("metrics"))
        return {"outcome": self.outcome, "stale": self.stale, "status": data.get("status"),
                "metrics_updated_at": metrics.get("updated_at"), "statuses": self.statuses, "polls": self.polls,
                "waited_seconds": round(self.waited_seconds, 3),
                "error": None if self.error is None else str(self.error)}


@dataclass
class _Poll:
    campaign_id: str
    polls: int = 0
    first_at: float | None = None
    statuses: list[str] = field(default_factory=list)
    body: dict[str, Any] | None = None


class ParrotClient:
    """Reads Parrot's API; every call goes through the shared ``HttpClient`` (auth, retries, limits).

    Args:
        http: the run's HTTP client.
        account_id: the account id, or ``me`` for the token's own account.
        page_size: post campaigns per page (at most 100).
        poll_interval: seconds between two requests for the same refreshing campaign (DOC: about 5 s).
        max_poll_attempts: re-polls of a refreshing campaign before its last answer is taken.
        max_poll_seconds: the most a run waits for refreshing campaigns, counted from the first request.
        clock, sleep: injectable for tests (the default ``sleep`` raises ``interrupt.Interrupted`` soon after a
            stop request).
    """

    def __init__(self, http: HttpClient, *, account_id: str = s.DEFAULT_ACCOUNT_ID,
                 page_size: int = s.MAX_PAGE_SIZE, poll_interval: float = s.POLL_INTERVAL_SECONDS,
                 max_poll_attempts: int = s.MAX_POLL_ATTEMPTS, max_poll_seconds: float = s.MAX_POLL_SECONDS,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = interrupt.sleep) -> None:
        self._http = http
        self.account_id = account_id or s.DEFAULT_ACCOUNT_ID
        self.page_size = max(1, min(int(page_size), s.MAX_PAGE_SIZE))
        self.poll_interval = max(0.0, float(poll_interval))
        self.max_poll_attempts = max(0, int(max_poll_attempts))
        self.max_poll_seconds = max(0.0, float(max_poll_seconds))
        self._clock = clock
        self._sleep = sleep

    # -- listing ----------------------------------------------------------------------------------------------

    def post_campaigns(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Every post campaign of the account (pages 1..total_pages, de-duplicated by id) and the paging used."""
        path = s.POST_CAMPAIGNS.format(account_id=self.account_id)
        what = f"the post campaigns of account {self.account_id}"
        seen: dict[str, dict[str, Any]] = {}

        def campaigns(response: HttpResponse, number: int) -> list[Any]:
            body = self._body(response, what=what, listing=True)
            data, meta = body.get("data"), body.get("meta")
            if not isinstance(data, list) or not isinstance(meta, dict):
                raise ProviderError(s.NAME, "parrot: the post campaign list answer has no data array or no meta.",
                                    endpoint=path)
            return data

        # ASSUMPTION: page 1-based, page_size <= 100, meta.total_pages; an answer without it is the last page
        paginator = PageNumberPaginator(base=1, size=self.page_size, size_param="page_size",
                                        total_pages_path="meta.total_pages", stop_without_total=True,
                                        max_pages=s.MAX_PAGES)
        pages = 0
        for page in self._http.paginate("GET", path, paginator, items=campaigns, what="the post campaign list"):
            pages += 1
            for item in page.items:
                if isinstance(item, dict) and item.get("id") is not None:
                    seen.setdefault(str(item["id"]), item)
        return list(seen.values()), {"page_size": self.page_size, "pages": pages}

    # -- metrics ----------------------------------------------------------------------------------------------

    def metrics(self, campaign_id: str) -> dict[str, Any]:
        """One metrics answer (whatever its status)."""
        path = s.METRICS.format(account_id=self.account_id, campaign_id=campaign_id)
        body = self._body(self._http.get(path), what=f"the metrics of post campaign {campaign_id}")
        data = body.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
            raise EntitySkipped(f"malformed_answer: the metrics of post campaign {campaign_id} have no "
                                "data.metrics object", code="malformed_answer")
        return body

    def poll_metrics(self, campaign_ids: Iterable[str]) -> Iterator[PollResult]:
        """Metrics of many campaigns, waiting out refreshes from one scheduler; results in completion order.

        DOC: ``starting`` / ``updating`` -> ask again in about ``poll_interval`` seconds; a campaign is never asked
        again sooner than that after its previous answer, and at most ``max_poll_attempts`` times, and not past
        ``max_poll_seconds`` from the start. Raises ProviderAuthError at once (the whole run needs the token).
        """
        ids = list(dict.fromkeys(str(c) for c in campaign_ids))
        start = self._clock()
        deadline = start + self.max_poll_seconds
        polls = {cid: _Poll(cid) for cid in ids}
        due = {cid: start for cid in ids}
        while due:
            now = self._clock()
            batch = [cid for cid, at in due.items() if at <= now]
            if not batch:
                pause = max(0.0, min(due.values()) - now)
                with self._http.stats.waiting("metrics not ready", pause):
                    self._sleep(pause)
                continue
            for cid in batch:
                del due[cid]
            for cid, (answer, error, answered_at) in zip(batch, self._http.map(self._ask, batch), strict=True):
                poll = polls[cid]
                poll.polls += 1
                if poll.first_at is None:
                    poll.first_at = answered_at
                result = self._settle(poll, answer, error, answered_at, deadline)
                if result is None:
                    due[cid] = answered_at + self.poll_interval
                else:
                    yield result

    def _ask(self, campaign_id: str) -> tuple[dict[str, Any] | None, EntityError | None, float]:
        try:
            body = self.metrics(campaign_id)
        except EntityError as exc:
            return None, exc, self._clock()
        # stamped after the answer, so the next request of this campaign is at least a full interval later
        return body, None, self._clock()

    def _settle(self, poll: _Poll, body: dict[str, Any] | None, error: EntityError | None, answered_at: float,
                deadline: float) -> PollResult | None:
        """The campaign's final result, or None when it should be asked again."""
        waited = answered_at - (poll.first_at or answered_at)
        if error is not None:
            outcome: Outcome = "not_found" if error.code == "not_found" else "failed"
            return PollResult(poll.campaign_id, outcome, None, poll.statuses, poll.polls, waited, error)
        assert body is not None
        data = body["data"]
        status = str(data.get("status"))
        updated_at = data["metrics"].get("updated_at")
        poll.statuses.append(status)
        poll.body = body
        if status == s.READY and updated_at is not None:
            return PollResult(poll.campaign_id, "ready", body, poll.statuses, poll.polls, waited)
        # DOC: starting (or no updated_at) holds placeholder zeros; updating holds the previous values
        placeholder = status == s.STARTING or updated_at is None
        if poll.polls <= self.max_poll_attempts and answered_at + self.poll_interval <= deadline:
            return None
        if placeholder:
            return PollResult(poll.campaign_id, "not_ready", None, poll.statuses, poll.polls, waited)
        log.info("parrot: post campaign %s still %s after %d polls; loading its values of %s flagged stale",
                 poll.campaign_id, status, poll.polls, updated_at)
        return PollResult(poll.campaign_id, "stale", body, poll.statuses, poll.polls, waited)

    # -- envelope ---------------------------------------------------------------------------------------------

    def _body(self, response: HttpResponse, *, what: str, listing: bool = False) -> dict[str, Any]:
        status = response.status
        if status == 401:
            raise ProviderAuthError(s.NAME, f"parrot refused the API token (HTTP 401) reading {what}; check "
                                            f"{s.SECRET_ENV}.", endpoint=response.path, status=status)
        if status == 403:
            raise ProviderAuthError(s.NAME, f"parrot: the API token may not access account '{self.account_id}' "
                                            f"(HTTP 403) reading {what}; check {s.ACCOUNT_ENV} and {s.SECRET_ENV}.",
                                    endpoint=response.path, status=status)
        body = response.data if isinstance(response.data, dict) else None
        detail = _detail(body)
        if status == 404:
            if listing:
                raise ProviderError(s.NAME, f"parrot: account '{self.account_id}' was not found (HTTP 404) reading "
                                            f"{what}; check {s.ACCOUNT_ENV}.", endpoint=response.path, status=status)
            raise EntitySkipped(f"not_found: {what} answered 404 (unknown, deleted or not published)",
                                code="not_found", status=404)
        if status >= 400:
            raise HttpStatusError(s.NAME, f"parrot answered HTTP {status} reading {what}: {detail}",
                                  endpoint=response.path, status=status, body=body)
        if body is None:
            raise EntitySkipped(f"malformed_answer: {what} (HTTP {status}) is not a JSON object",
                                code="malformed_answer", status=status)
        return body


def _detail(body: dict[str, Any] | None) -> str:
    errors = (body or {}).get("errors")
    if isinstance(errors, dict) and errors.get("detail"):
        return str(errors["detail"])
    return "no detail"
