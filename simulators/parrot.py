"""Parrot (SMS) simulator: post campaigns and their asynchronously refreshed metrics.

Faithful to the project's notes (``docs/providers/parrot.md``): Bearer auth, ``me`` or the account id in the
path, the post-campaign list paged by ``page`` (1-based) / ``page_size`` (at most 100) with ``meta.total_pages``,
Phoenix-style error bodies, and the metrics refresh cycle:

* metrics never computed -> ``starting`` with placeholder zeros and ``updated_at: null``; a refresh job starts;
* stored metrics older than ``stale_after`` seconds -> ``updating`` with the old values; a refresh job starts;
* a job finishes ``refresh_delay`` seconds after it started; later requests answer ``ready`` with the values of
  that moment and a new ``updated_at``.

``hold(id)`` freezes a campaign's refresh job (it stays ``starting`` or ``updating``); ``grow()`` makes the
counters rise; ``truth_*`` give what the warehouse must hold after one run. Timestamps are anchored at ``now``
and advance with the real clock, so ``updated_at`` is deterministic up to the time the test takes.
``advance_to(moment)`` answers as of an earlier moment: campaigns inserted later are not there yet, one published
later is ``scheduled``, clicks and opt-outs are the share arrived by then (``simulators.base.engagement_share``),
and metrics refreshed at an earlier moment are out of date (``updating``) until refreshed again.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from simulators.base import DatedSimApp, Faults, Request, Response, SimApp, engagement_share

API = "/api/v1"
DEFAULT_TOKEN = "sim-parrot-token-81d2c4e0"
DEFAULT_ACCOUNT = "acct_4821"
COUNTERS = ("recipients", "sent", "delivered", "failed", "clicks", "opt_outs")
MAX_PAGE_SIZE = 100

Warmth = Literal["cold", "stale", "fresh"]


@dataclass
class PostCampaign:
    campaign_id: str
    name: str
    status: str                              # draft, scheduled, published
    inserted_at: dt.datetime
    updated_at: dt.datetime
    published_at: dt.datetime | None
    recipients: int
    click_p: float
    snapshot: dict[str, int] | None = None   # the stored (last refreshed) counters
    snapshot_at: dt.datetime | None = None   # their updated_at
    job_until: float | None = None           # monotonic time the running refresh job finishes
    held: bool = False
    deleted: bool = False
    listed: bool = True


def _iso(value: dt.datetime | None, *, micro: bool = False) -> str | None:
    if value is None:
        return None
    value = value.astimezone(dt.UTC)
    if micro:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


class ParrotSim(DatedSimApp):
    """The simulator; see the module docstring.

    Args:
        now: anchor of every generated timestamp.
        seed: dataset seed.
        campaigns: how many post campaigns to generate (about 1 in 6 draft or scheduled).
        warmth: initial metrics state of published campaigns, ``cold`` (never computed -> starting),
            ``stale`` (computed long ago -> updating) or ``fresh`` (ready); default a mix.
        refresh_delay: seconds a refresh job takes (DOC-ish: about 5 s; tests use e.g. 0.2 s).
        stale_after: stored metrics older than this many seconds trigger a refresh (DOC: 60 s).
        drafts: generate draft and scheduled campaigns among the others.
    """

    name = "parrot"

    def __init__(self, *, now: dt.datetime | None = None, seed: int = 5, campaigns: int = 18, days: int = 60,
                 warmth: Warmth | None = None, refresh_delay: float = 5.0, stale_after: float = 60.0,
                 drafts: bool = True, token: str = DEFAULT_TOKEN, account_id: str = DEFAULT_ACCOUNT,
                 faults: Faults | None = None) -> None:
        super().__init__(faults=faults)
        self.now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
        self.anchor = self.now           # the dataset's anchor; ``now`` is the moment answered as of
        self._anchor_campaigns: dict[str, PostCampaign] | None = None   # as built (copies), once advanced
        self._t0 = time.monotonic()
        self.token = token
        self.account_id = account_id
        self.refresh_delay = refresh_delay
        self.stale_after = stale_after
        self.generation = 0
        self.campaigns: dict[str, PostCampaign] = {}
        rng = random.Random(seed)
        alphabet = string.ascii_letters + string.digits
        for k in range(campaigns):
            cid = "pc_" + "".join(rng.choice(alphabet) for _ in range(6))
            inserted = (self.now - dt.timedelta(days=rng.uniform(1, days))).replace(microsecond=0)
            status = "published"
            published: dt.datetime | None = inserted + dt.timedelta(hours=rng.randint(1, 20))
            if drafts and k % 6 == 4:
                status, published = "draft", None
            elif drafts and k % 6 == 5:
                status, published = "scheduled", None
            if published is not None and published > self.now:
                published = self.now - dt.timedelta(minutes=5)
            c = PostCampaign(cid, f"Parrot SMS drop {k}", status, inserted, published or inserted, published,
                             recipients=rng.randint(300, 20_000), click_p=rng.uniform(0.05, 0.25))
            if status == "published":
                state = warmth or ("cold", "stale", "fresh")[k % 3]
                if state == "stale":
                    c.snapshot = self.values(c, version=-1)
                    c.snapshot_at = self.now - dt.timedelta(hours=rng.randint(2, 48))
                elif state == "fresh":
                    c.snapshot = self.values(c, version=0)
                    c.snapshot_at = self.now - dt.timedelta(seconds=5)
            self.campaigns[cid] = c
        self.route("GET", f"{API}/accounts/(?P<account_id>[^/]+)/post_campaigns", self._list)
        self.route("GET", f"{API}/accounts/(?P<account_id>[^/]+)/post_campaigns/(?P<campaign_id>[^/]+)/metrics",
                   self._metrics)

    # -- clock and data ---------------------------------------------------------------------------------------


    def loader_env(self, url: str) -> dict[str, str]:
        """Base URL and credentials that point the loader at this simulator served at ``url``."""
        return {"SOURCES__PARROT__BASE_URL": f"{url}{API}", "SOURCES__PARROT__ACCOUNT_ID": "me",
                "SOURCES__PARROT__API_TOKEN": DEFAULT_TOKEN}
    def clock(self, at: float | None = None) -> dt.datetime:
        """The simulated wall clock: the anchor plus the real time elapsed since the simulator was built."""
        elapsed = (time.monotonic() if at is None else at) - self._t0
        return self.now + dt.timedelta(seconds=elapsed)

    def values(self, c: PostCampaign, *, version: int | None = None) -> dict[str, int]:
        """The counters a refresh computes at ``version`` (default: the current generation)."""
        v = self.generation if version is None else version
        g = 1.0 - 0.5 ** (v + 2)            # engagement still arriving: -1 -> 0.5, 0 -> 0.75, 1 -> 0.875
        if self.now != self.anchor and c.published_at is not None:   # as of an earlier moment: arrived by then
            g *= engagement_share((self.now - c.published_at).total_seconds() / 86400,
                                  (self.anchor - c.published_at).total_seconds() / 86400)
        recipients = c.recipients
        sent = recipients - recipients // 50
        delivered = sent - sent // 40
        return {"recipients": recipients, "sent": sent, "delivered": delivered, "failed": recipients - delivered,
                "clicks": int(delivered * c.click_p * g), "opt_outs": math.ceil(delivered * 0.004 * g)}

    # -- controls ---------------------------------------------------------------------------------------------

    def kept_at_anchor(self) -> dict[str, PostCampaign]:
        """Copies of the campaigns as built: the campaigns answered as of a moment are changed in place."""
        return {cid: replace(c) for cid, c in self.campaigns.items()}

    def campaigns_at_anchor(self, built: dict[str, PostCampaign]) -> dict[str, PostCampaign]:
        """The dataset as built, refresh state included (so the last of a series of loads finds what a single load
        finds); a held campaign stays held. The simulated clock runs on from the anchor."""
        previous = self.campaigns
        self._t0 = time.monotonic()
        return {cid: replace(c, held=previous[cid].held if cid in previous else c.held) for cid, c in built.items()}

    def campaigns_as_of(self, moment: dt.datetime, built: dict[str, PostCampaign], *,
                        first: bool) -> dict[str, PostCampaign]:
        """As of ``moment`` (the simulated clock runs on from it): campaigns inserted after it are not there yet,
        one published after it is ``scheduled``, and metrics stored at an earlier moment are out of date, so a
        request finds them ``updating`` (never computed: ``starting``) and the refresh gives the counters of the
        moment. A held campaign keeps its stored metrics."""
        previous = self.campaigns
        self._t0 = time.monotonic()
        shown: dict[str, PostCampaign] = {}
        for cid, anchor_campaign in built.items():
            if anchor_campaign.inserted_at > moment:
                continue
            c = previous.get(cid) if not first else None
            c = replace(anchor_campaign) if c is None else c
            if anchor_campaign.published_at is not None and anchor_campaign.published_at > moment:
                c.status, c.published_at, c.updated_at = "scheduled", None, anchor_campaign.inserted_at
            else:
                c.status, c.published_at, c.updated_at = (anchor_campaign.status, anchor_campaign.published_at,
                                                          anchor_campaign.updated_at)
            if c.held:   # its stored metrics stay, dated before the moment
                c.snapshot = anchor_campaign.snapshot
                c.snapshot_at = None if anchor_campaign.snapshot_at is None else min(
                    anchor_campaign.snapshot_at, moment - dt.timedelta(hours=2))
            elif first or c.status != "published":
                c.snapshot, c.snapshot_at, c.job_until = None, None, None
            else:         # refreshed at an earlier moment (or never): out of date now
                c.job_until = None
            shown[cid] = c
        return shown

    def grow(self, steps: int = 1) -> None:
        """Clicks and opt-outs keep arriving; the next refresh of each campaign shows them."""
        with self._lock:
            self.generation += steps

    def hold(self, campaign_id: str, held: bool = True) -> None:
        """Freeze (or release) the campaign's refresh: it keeps answering ``starting``/``updating``."""
        with self._lock:
            self.campaigns[campaign_id].held = held

    def expire(self, campaign_id: str | None = None) -> None:
        """Make stored metrics old (one campaign or all), so the next request starts a refresh."""
        with self._lock:
            for c in self.campaigns.values():
                if campaign_id in (None, c.campaign_id) and c.snapshot_at is not None:
                    c.snapshot_at = self.clock() - dt.timedelta(seconds=self.stale_after + 1)

    def delete_campaign(self, campaign_id: str, *, keep_listed: bool = False) -> None:
        with self._lock:
            c = self.campaigns[campaign_id]
            c.deleted = True
            c.listed = keep_listed

    def published(self) -> list[PostCampaign]:
        with self._lock:
            return [c for c in self.campaigns.values() if c.status == "published" and not c.deleted]

    # -- auth and bodies --------------------------------------------------------------------------------------

    def authorize(self, request: Request) -> Response | None:
        if request.headers.get("authorization", "") != f"Bearer {self.token}":
            return Response(401, {"errors": {"detail": "Unauthorized"}})
        return None

    def error_body(self, status: int) -> Any:
        return {"errors": {"detail": "Service Unavailable" if status == 503 else "Internal Server Error"}}

    def throttle_body(self) -> Any:
        return {"errors": {"detail": "Too Many Requests"}}

    def _account_denied(self, account_id: str) -> Response | None:
        if account_id in ("me", self.account_id):
            return None
        return Response(403, {"errors": {"detail": "Forbidden"}})

    def list_item(self, c: PostCampaign) -> dict[str, Any]:
        return {"id": c.campaign_id, "name": c.name, "status": c.status, "published_at": _iso(c.published_at),
                "inserted_at": _iso(c.inserted_at), "updated_at": _iso(c.updated_at)}

    # -- handlers ---------------------------------------------------------------------------------------------

    def _list(self, request: Request, account_id: str) -> Response:
        denied = self._account_denied(account_id)
        if denied is not None:
            return denied
        try:
            page = int(request.query.get("page", "1"))
            page_size = int(request.query.get("page_size", "50"))
        except ValueError:
            return Response(400, {"errors": {"detail": "page and page_size must be integers"}})
        if page < 1 or page_size < 1:
            return Response(400, {"errors": {"detail": "page and page_size must be positive"}})
        page_size = min(page_size, MAX_PAGE_SIZE)
        with self._lock:
            items = sorted((c for c in self.campaigns.values() if c.listed),
                           key=lambda c: (c.inserted_at, c.campaign_id))
            total_pages = max(1, math.ceil(len(items) / page_size))
            data = [self.list_item(c) for c in items[(page - 1) * page_size:page * page_size]]
        return Response(200, {"data": data, "meta": {"page": page, "page_size": page_size,
                                                     "total_pages": total_pages, "total_entries": len(items)}})

    def _metrics(self, request: Request, account_id: str, campaign_id: str) -> Response:
        denied = self._account_denied(account_id)
        if denied is not None:
            return denied
        with self._lock:
            c = self.campaigns.get(campaign_id)
            if c is None or c.deleted or c.status != "published":
                return Response(404, {"errors": {"detail": "Not Found"}})
            status = self._refresh(c)
            if c.snapshot is None:
                metrics: dict[str, Any] = {"updated_at": None, **dict.fromkeys(COUNTERS, 0)}
            else:
                metrics = {"updated_at": _iso(c.snapshot_at, micro=True), **c.snapshot}
        return Response(200, {"data": {"id": campaign_id, "status": status, "metrics": metrics}})

    def _refresh(self, c: PostCampaign) -> str:
        """Advance the campaign's refresh job as of now and return the status a request sees."""
        now = time.monotonic()
        if c.job_until is not None and not c.held and now >= c.job_until:
            c.snapshot = self.values(c)
            c.snapshot_at = self.clock(c.job_until)
            c.job_until = None
        if c.job_until is None:
            age = math.inf if c.snapshot_at is None else (self.clock(now) - c.snapshot_at).total_seconds()
            if c.snapshot is None or age > self.stale_after:
                c.job_until = now + self.refresh_delay
        if c.job_until is None:
            return "ready"
        return "starting" if c.snapshot is None else "updating"

    # -- ground truth -----------------------------------------------------------------------------------------

    def _expected(self, c: PostCampaign) -> tuple[dict[str, int] | None, bool]:
        """(values the loader ends up with, whether they are stale), assuming it waits out unheld refreshes."""
        if c.held:
            return c.snapshot, c.snapshot is not None
        fresh = c.snapshot is not None and c.job_until is None and c.snapshot_at is not None and \
            (self.clock() - c.snapshot_at).total_seconds() <= self.stale_after
        return (c.snapshot if fresh else self.values(c)), False

    def truth_fact_rows(self, account_id: str = "me") -> dict[tuple[str, ...], float]:
        """(account, campaign, breakdown_type, breakdown_value, metric) -> value after one loader run."""
        truth: dict[tuple[str, ...], float] = {}
        with self._lock:
            for c in self.published():
                values, _ = self._expected(c)
                for metric, value in (values or {}).items():
                    truth[(account_id, c.campaign_id, "total", "total", metric)] = float(value)
        return truth

    def truth_stale(self) -> set[str]:
        """Campaigns the loader must load with stale values (held while ``updating``)."""
        with self._lock:
            return {c.campaign_id for c in self.published() if self._expected(c)[1]}

    def truth_not_ready(self) -> set[str]:
        """Campaigns that never leave ``starting`` (held, never computed): no metric rows, one error each."""
        with self._lock:
            return {c.campaign_id for c in self.published() if c.held and c.snapshot is None}


def demo(now: dt.datetime) -> tuple[SimApp, Callable[[str], dict[str, str]]]:
    """The demo dataset and its loader env: refreshes take 0.3 s and the loader re-polls every 0.3 s, so the
    async cycle adds about a second to the demo; one campaign stays ``updating`` and is loaded flagged stale."""
    app = ParrotSim(now=now, campaigns=14, refresh_delay=0.3)
    stale = [c for c in app.published()
             if c.snapshot_at is not None and (app.clock() - c.snapshot_at).total_seconds() > app.stale_after]
    if stale:
        app.hold(stale[0].campaign_id)

    def config(base_url: str) -> dict[str, str]:
        return {**app.loader_env(base_url),
                "SOURCES__PARROT__POLL_INTERVAL_SECONDS": "0.3",
                "SOURCES__PARROT__MAX_POLL_ATTEMPTS": "3",
                "SOURCES__PARROT__MAX_POLL_SECONDS": "5",
                # a loopback simulator: no need for the real API's 5 requests/s courtesy limit
                "SOURCES__PARROT__RATE_LIMIT_REQUESTS": "100"}

    return app, config
