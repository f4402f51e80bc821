"""GreenArrow Studio simulator: mailing lists, campaigns, details with stat_summary/content_stats, link_stats.

Faithful to the project's contract notes (``docs/providers/greenarrow.md``): the ``success/data/error_code``
envelope, HTTP Basic auth with ``<org_id>:<key>`` (sent encoded, or already-encoded keys), ``started_at__start``
and ``started_at__end`` as UNIX seconds or ISO-8601 (inclusive, only sending/finished/cancelled/failed
campaigns), link_stats paged from page 0 with ``per_page`` at most 500. The dataset is generated from a seed and
an anchor time; ``grow()`` makes counts rise as they do for days after a send; ``advance_to(moment)`` answers as
of an earlier moment (campaigns started later are not there yet, counts are those of that moment, see
``simulators.base.engagement_share``); ``truth_*`` give the figures the warehouse must end up with.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import random
from dataclasses import dataclass, field, replace
from typing import Any

from simulators.base import DatedSimApp, Faults, Request, Response, engagement_share

API = "/ga/api/v2"
DEFAULT_CREDENTIALS = "1:sim-greenarrow-key-5e96465c"

RATE_FIELDS = ("accepted_rate", "in_queue_rate", "open_rate", "click_rate", "click_to_open_rate", "unsub_rate",
               "bounce_rate", "bounce_rate_hard", "bounce_rate_soft", "bounce_rate_other", "bounce_local_rate")


@dataclass
class Link:
    link_id: int
    url: str
    weight: float


@dataclass
class Content:
    content_id: int
    name: str
    share: float


@dataclass
class Campaign:
    campaign_id: int
    list_id: int
    name: str
    state: str                       # idle, scheduled, sending, finished, cancelled, failed
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    recipients: int
    seeds: int
    open_p: float
    click_p: float
    links: list[Link] = field(default_factory=list)
    contents: list[Content] = field(default_factory=list)
    deleted: bool = False


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(raw: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(int(raw), tz=dt.UTC)
    except ValueError:
        pass
    try:
        parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class GreenArrowSim(DatedSimApp):
    """The simulator; see the module docstring."""

    name = "greenarrow"

    def __init__(self, *, now: dt.datetime | None = None, seed: int = 42, lists: int = 3,
                 campaigns_per_list: int = 10, days: int = 120, max_links: int = 1100,
                 links_per_campaign: int | None = None,
                 credentials: str = DEFAULT_CREDENTIALS, faults: Faults | None = None) -> None:
        """Generate the dataset.

        Args:
            now: the anchor time (default: now, to the second).
            seed: the generator's seed; the same arguments give the same dataset.
            lists: mailing lists (the warehouse's accounts).
            campaigns_per_list: campaigns per list, started over the last ``days`` days.
            days: how far back the campaigns started.
            max_links: the most links a many-links campaign has (every fourth campaign has over 500, so its
                link_stats span several pages).
            links_per_campaign: when set, every campaign has exactly this many links instead of the varied mix
                above (scale benchmarks: e.g. 10 lists x 2,000 campaigns x 20 links); None keeps the mix, and
                the dataset of every existing argument set unchanged.
            credentials: the ``<org_id>:<key>`` the API accepts.
            faults: faults to inject.
        """
        super().__init__(faults=faults)
        self.now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        self.anchor = self.now           # the dataset's anchor; ``now`` is the moment answered as of
        self._anchor_campaigns: dict[int, Campaign] | None = None
        self.credentials = credentials
        self.generation = 0
        self.lists = {i: f"Sim list {i}" for i in range(1, lists + 1)}
        self.campaigns: dict[int, Campaign] = {}
        rng = random.Random(seed)
        next_id = 100
        for list_id in self.lists:
            for k in range(campaigns_per_list):
                next_id += rng.randint(1, 7)
                age_days = rng.uniform(0.2, days)
                sent_at = self.now - dt.timedelta(days=age_days)
                started: dt.datetime | None = sent_at
                state = "finished"
                finished: dt.datetime | None = sent_at + dt.timedelta(minutes=rng.randint(5, 300))
                if k == 0:
                    state, started, finished = "idle", None, None
                elif age_days < 2 and k % 3 == 1:
                    state, finished = "sending", None
                elif k == 5:
                    state = "cancelled"
                if finished is not None and finished > self.now:
                    state, finished = "sending", None
                campaign = Campaign(next_id, list_id, f"List {list_id} campaign {k}", state, started, finished,
                                    recipients=rng.randint(200, 50_000), seeds=rng.randint(0, 5),
                                    open_p=rng.uniform(0.05, 0.45), click_p=rng.uniform(0.05, 0.3))
                if links_per_campaign is not None:
                    n_links = links_per_campaign
                else:
                    n_links = rng.choice([0, 1, 3, 12, 40, 120]) if k % 4 != 3 else rng.randint(501, max_links)
                campaign.links = [Link(next_id * 10_000 + j, f"https://example.test/{rng.choice('abcXYZ')}"
                                       f"/{j:04d}?c={next_id}", rng.uniform(0.1, 1.0)) for j in range(n_links)]
                if k % 4 == 2:  # split test with two contents
                    campaign.contents = [Content(next_id * 10 + 1, "Variant A", 0.5),
                                         Content(next_id * 10 + 2, "Variant B", 0.5)]
                elif state != "idle":
                    campaign.contents = [Content(next_id * 10 + 1, "multipart content", 1.0)]
                self.campaigns[next_id] = campaign
        for method, pattern, handler in (
                ("GET", f"{API}/mailing_lists", self._mailing_lists),
                ("GET", f"{API}/mailing_lists/(?P<list_id>[^/]+)/campaigns", self._list_campaigns),
                ("GET", f"{API}/campaigns/(?P<campaign_id>[^/]+)", self._campaign),
                ("GET", f"{API}/campaigns/(?P<campaign_id>[^/]+)/link_stats", self._link_stats)):
            self.route(method, pattern, handler)

    # -- controls ---------------------------------------------------------------------------------------------


    def loader_env(self, url: str) -> dict[str, str]:
        """Base URL and credentials that point the loader at this simulator served at ``url``."""
        return {"SOURCES__GREENARROW__BASE_URL": url, "SOURCES__GREENARROW__API_KEY": DEFAULT_CREDENTIALS}

    def campaigns_as_of(self, moment: dt.datetime, built: dict[int, Campaign], *,
                        first: bool) -> dict[int, Campaign]:
        """As of ``moment``: campaigns started after it are not there yet (idle ones are), one finishing after it
        is still ``sending``, and every count is the share of its anchor value reached by then."""
        shown: dict[int, Campaign] = {}
        for cid, c in built.items():
            if c.started_at is not None and c.started_at > moment:
                continue
            if c.finished_at is not None and c.finished_at > moment:
                c = replace(c, state="sending", finished_at=None)
            shown[cid] = c
        return shown

    def grow(self, steps: int = 1) -> None:
        """Counts rise as they do after a send (opens, clicks, bounces, unsubscribes keep arriving)."""
        with self._lock:
            self.generation += steps

    def delete_campaign(self, campaign_id: int) -> None:
        """The campaign stays listed but its details and link_stats answer ``not_found``."""
        with self._lock:
            self.campaigns[campaign_id].deleted = True

    # -- auth and envelope ------------------------------------------------------------------------------------

    def authorize(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        expected = base64.b64encode(self.credentials.encode()).decode()
        if header != f"Basic {expected}":
            return Response(401, _error("not_authorized", "Invalid API key"))
        return None

    def error_body(self, status: int) -> Any:
        return _error("internal_error", "simulated failure")

    def throttle_body(self) -> Any:
        return _error("internal_error", "too many requests")

    # -- data -------------------------------------------------------------------------------------------------

    def _grown(self, c: Campaign) -> float:
        """How far along its engagement curve a campaign is (0..1), given the generation."""
        if c.started_at is None:
            return 0.0
        age = (self.anchor - c.started_at).total_seconds() / 86400 + 3.0 * self.generation
        grown = 1.0 - math.exp(-age / 4.0)
        if self.now != self.anchor:   # answering as of an earlier moment: the share reached by then
            grown *= engagement_share((self.now - c.started_at).total_seconds() / 86400,
                                      (self.anchor - c.started_at).total_seconds() / 86400)
        return grown

    def stat_summary(self, c: Campaign, share: float = 1.0, *, slice_id: int | None = None) -> dict[str, Any] | None:
        if c.started_at is None:
            return None
        g = self._grown(c)
        sent_total = int(c.recipients * share)
        delivered_share = min(1.0, 0.6 + 0.1 * self.generation) if c.state == "sending" else 1.0
        messages_sent = int(sent_total * delivered_share)
        in_queue = sent_total - messages_sent
        total_messages = messages_sent + (c.seeds if share == 1.0 else 0)
        failures = int(messages_sent * 0.01)
        success = messages_sent - failures
        accepted = success
        opens_unique = int(accepted * c.open_p * g)
        opens_total = int(opens_unique * 1.6)
        clicks_unique = int(opens_unique * c.click_p)
        clicks_total = int(clicks_unique * 1.4)
        bounces_hard = int(failures * 0.6)
        bounces_soft = int(failures * 0.3)
        bounces_other = failures - bounces_hard - bounces_soft
        bounces_unique = bounces_hard + bounces_soft + bounces_other
        unsubs = int(opens_unique * 0.02)
        scomps = int(opens_unique * 0.003)
        by_code: dict[str, int] | None
        if c.campaign_id % 3 == 0:
            by_code = None
        elif bounces_unique == 0:
            by_code = {}
        else:
            by_code = {"5.1.1": bounces_hard, "4.2.2": bounces_soft}
            if bounces_other:
                by_code["5.7.1"] = bounces_other

        def rate(num: int, den: int) -> float:
            return round(num / den, 6) if den else 0.0

        summary: dict[str, Any] = {
            "messages_sent": messages_sent, "total_messages": total_messages, "total_success": success,
            "total_failure": failures, "total_failure_toolong": 0, "accepted": accepted, "in_queue": in_queue,
            "sent_text": int(messages_sent * 0.1), "sent_html": int(messages_sent * 0.2),
            "sent_multipart": messages_sent - int(messages_sent * 0.1) - int(messages_sent * 0.2),
            "messages_html": int(messages_sent * 0.2), "messages_text": int(messages_sent * 0.1),
            "skips_error": 0, "skips_request": c.campaign_id % 5,
            "opens_total": opens_total, "opens_unique": opens_unique, "duplicate_opens": opens_total - opens_unique,
            "unopened": accepted - opens_unique,
            "clicks_total": clicks_total, "clicks_unique": clicks_unique,
            "duplicate_clicks": clicks_total - clicks_unique, "unclicked": accepted - clicks_unique,
            "clicks_unique_by_link": clicks_unique + clicks_unique // 3,
            "bounces_total": bounces_unique + bounces_soft // 2, "bounces_unique": bounces_unique,
            "bounced": bounces_unique, "bounces_unique_hard": bounces_hard, "bounces_unique_soft": bounces_soft,
            "bounces_unique_other": bounces_other, "bounces_unique_local": bounces_other,
            "bounces_unique_remote": bounces_hard + bounces_soft, "duplicate_bounces": bounces_soft // 2,
            "unbounced": messages_sent - bounces_unique, "bounces_status_updated": bounces_hard,
            "bounces_unique_by_code": by_code,
            "unsubs_total": unsubs + unsubs // 4, "unsubs_unique": unsubs, "duplicate_unsubs": unsubs // 4,
            "unsubs_status_updated": unsubs,
            "scomps_total": scomps, "scomps_unique": scomps, "duplicate_scomps": 0, "scomps_status_updated": scomps,
            "max_unique_activities": max(opens_unique, clicks_unique, unsubs, scomps),
            "accepted_rate": rate(accepted, messages_sent), "in_queue_rate": rate(in_queue, sent_total),
            "open_rate": rate(opens_unique, accepted), "click_rate": rate(clicks_unique, accepted),
            "click_to_open_rate": rate(clicks_unique, opens_unique), "unsub_rate": rate(unsubs, accepted),
            "bounce_rate": rate(bounces_unique, messages_sent), "bounce_rate_hard": rate(bounces_hard, messages_sent),
            "bounce_rate_soft": rate(bounces_soft, messages_sent),
            "bounce_rate_other": rate(bounces_other, messages_sent),
            "bounce_local_rate": rate(bounces_other, messages_sent),
            "open_ratio": rate(opens_total, opens_unique),
        }
        if slice_id is None:
            summary = {"stat_id": c.campaign_id + 7, **summary}
        else:
            summary = {"stat_slice_id": slice_id, **summary}
        return summary

    def link_rows(self, c: Campaign) -> list[dict[str, Any]]:
        g = self._grown(c)
        clicks_unique = int(c.recipients * c.open_p * c.click_p * g)
        rows = []
        for link in c.links:
            unique = int(clicks_unique * link.weight / max(1, len(c.links)) * 3)
            rows.append({"link_id": link.link_id, "url": link.url, "clicks_total": int(unique * 1.4),
                         "clicks_unique": unique, "clicks_unique_by_link": unique})
        return sorted(rows, key=lambda r: (r["url"].lower(), r["link_id"]))

    def _dispatch_obj(self, c: Campaign, *, full: bool) -> dict[str, Any]:
        d: dict[str, Any] = {"state": c.state, "state_description": f"Step: {c.state}", "paused": False,
                             "begins_at": _iso(c.started_at), "started_at": _iso(c.started_at),
                             "finished_at": _iso(c.finished_at)}
        if full:
            d.update({"track_opens": True, "track_links": True, "speed": 0,
                      "autowinner_enabled": len(c.contents) > 1,
                      "autowinner_percentage": "20.0" if len(c.contents) > 1 else None,
                      "autowinner_delay_amount": 4, "autowinner_delay_unit": "hours",
                      "autowinner_metric": "opens_unique"})
        return d

    def campaign_summary(self, c: Campaign) -> dict[str, Any]:
        created = (c.started_at or self.now) - dt.timedelta(days=2)
        item = {"id": c.campaign_id, "name": c.name, "mailing_list_id": c.list_id,
                "mailing_list_name": self.lists[c.list_id], "created_at": _iso(created),
                "updated_at": _iso(created), "archived": False, "stats": None}
        if c.state != "idle":
            item["dispatch"] = self._dispatch_obj(c, full=False)
        return item

    def campaign_details(self, c: Campaign) -> dict[str, Any]:
        data = {**self.campaign_summary(c), "x_campaign_id": f"x{c.campaign_id}",
                "dispatch": self._dispatch_obj(c, full=True), "stat_summary": self.stat_summary(c)}
        data.pop("stats", None)
        data["content_stats"] = [
            {"content": {"id": ct.content_id, "name": ct.name},
             "stat_summary": self.stat_summary(c, ct.share, slice_id=ct.content_id + 3)}
            for ct in c.contents] if c.started_at is not None else []
        if len(c.contents) > 1 and c.started_at is not None:
            winner = c.contents[0]
            data["automatic_winner_selection"] = {
                "state": "finished", "winning_content": {"id": winner.content_id, "name": winner.name},
                "snapshots": [{"content": {"id": ct.content_id, "name": ct.name, "is_winner": ct is winner},
                               "snapshot": {"id": ct.content_id + 9, "snapshot_group": 1, "stat_id": c.campaign_id + 7,
                                            "stat_slice_id": ct.content_id + 3, "taken_at": _iso(c.started_at),
                                            "opens_unique": 1}} for ct in c.contents]}
        else:
            data["automatic_winner_selection"] = None
        return data

    # -- handlers ---------------------------------------------------------------------------------------------

    def _mailing_lists(self, request: Request) -> Response:
        data = [{"id": i, "name": n, "d_from_email": "news@example.test", "is_remote_list": False}
                for i, n in self.lists.items()]
        return Response(200, _ok(data))

    def _list_campaigns(self, request: Request, list_id: str) -> Response:
        try:
            lid = int(list_id)
        except ValueError:
            return Response(400, _error("validation_failed", "mailing list id must be an integer"))
        if lid not in self.lists:
            return Response(404, _error("not_found", "mailing list not found"))
        lo_raw = request.query.get("started_at__start")
        hi_raw = request.query.get("started_at__end")
        lo = _parse_time(lo_raw) if lo_raw else None
        hi = _parse_time(hi_raw) if hi_raw else None
        if (lo_raw and lo is None) or (hi_raw and hi is None):
            return Response(400, _error("validation_failed", "started_at must be a UNIX timestamp or ISO-8601"))
        out = []
        for c in self.campaigns.values():
            if c.list_id != lid:
                continue
            if lo_raw or hi_raw:
                if c.state not in ("sending", "finished", "cancelled", "failed") or c.started_at is None:
                    continue
                if lo is not None and c.started_at < lo:
                    continue
                if hi is not None and c.started_at > hi:
                    continue
            out.append(self.campaign_summary(c))
        return Response(200, _ok(out))

    def _find(self, campaign_id: str) -> Campaign | None:
        try:
            c = self.campaigns.get(int(campaign_id))
        except ValueError:
            return None
        return None if c is None or c.deleted else c

    def _campaign(self, request: Request, campaign_id: str) -> Response:
        c = self._find(campaign_id)
        if c is None:
            return Response(404, _error("not_found", "campaign not found"))
        return Response(200, _ok(self.campaign_details(c)))

    def _link_stats(self, request: Request, campaign_id: str) -> Response:
        c = self._find(campaign_id)
        if c is None:
            return Response(404, _error("not_found", "campaign not found"))
        try:
            page = int(request.query.get("page", "0"))
            per_page = int(request.query.get("per_page", "100"))
        except ValueError:
            return Response(400, _error("validation_failed", "page and per_page must be integers"))
        if per_page > 500:
            return Response(400, _error("requested_too_many", "per_page may not exceed 500"))
        if per_page < 1 or page < 0:
            return Response(400, _error("validation_failed", "page must be >= 0 and per_page >= 1"))
        rows = self.link_rows(c) if c.started_at is not None else []
        num_pages = max(1, math.ceil(len(rows) / per_page))
        body = _ok({"all_unclicked_links_recorded": True, "links": rows[page * per_page:(page + 1) * per_page]})
        body.update({"page": page, "per_page": per_page, "num_records": len(rows), "num_pages": num_pages})
        return Response(200, body)

    # -- ground truth -----------------------------------------------------------------------------------------

    def truth_fact_rows(self, *, started_from: dt.datetime | None = None) -> dict[tuple[str, ...], float]:
        """The fact rows the warehouse must hold: (account, campaign, breakdown_type, breakdown_value, metric)
        -> value, for every started, non-deleted campaign (optionally started on or after ``started_from``)."""
        truth: dict[tuple[str, ...], float] = {}
        with self._lock:
            for c in self.campaigns.values():
                if c.deleted or c.started_at is None:
                    continue
                if started_from is not None and c.started_at < started_from:
                    continue
                acct, cid = str(c.list_id), str(c.campaign_id)
                details = self.campaign_details(c)
                _summary_truth(truth, acct, cid, "total", "total", details["stat_summary"])
                for cs in details["content_stats"]:
                    _summary_truth(truth, acct, cid, "content", str(cs["content"]["id"]), cs["stat_summary"])
                for link in self.link_rows(c):
                    for metric in ("clicks_total", "clicks_unique", "clicks_unique_by_link"):
                        truth[(acct, cid, "link", str(link["link_id"]), metric)] = float(link[metric])
        return truth


def _summary_truth(truth: dict[tuple[str, ...], float], acct: str, cid: str, btype: str, bvalue: str,
                   summary: dict[str, Any] | None) -> None:
    if not summary:
        return
    for key, value in summary.items():
        if key in ("stat_id", "stat_slice_id"):
            continue
        if key == "bounces_unique_by_code":
            for code, count in (value or {}).items():
                code_type = "bounce_code" if btype == "total" else "content_bounce_code"
                code_value = code if btype == "total" else f"{bvalue}/{code}"
                truth[(acct, cid, code_type, code_value, "bounces_unique")] = float(count)
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            truth[(acct, cid, btype, bvalue, key)] = float(value)


def _ok(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data, "error_code": None, "error_message": None}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"success": False, "data": None, "error_code": code, "error_message": message}


def demo(now: dt.datetime) -> tuple[GreenArrowSim, Any]:
    """The demo's GreenArrow: three lists, thirty campaigns over 120 days, links over several pages."""
    app = GreenArrowSim(now=now)

    def config(url: str) -> dict[str, str]:
        return app.loader_env(url)

    return app, config
