"""Shoplive API v2 simulator: campaign search and campaign statistics per date range.

Faithful to the project's notes (``docs/providers/shoplive.md``): paths ``/v2/{accessKey}/campaign`` and
``/v2/{accessKey}/campaign/stats``, ``Authorization: Bearer`` with either the configured token or an HS256 JWT
signed with the account's base64 secret whose ``accessKey`` claim matches the path; search paged with ``page``
(1-based) and ``count`` (at most 20) in a bare ``{"results": [...]}`` envelope, filtered on ``scheduledStartAt``
(``from`` inclusive, ``to`` exclusive); stats for ``from``/``to`` given as ``YYYY-MM-DDTHH:mm:ssZ``, ``to``
exclusive, at most 7 days, optionally limited to ``campaignKeys``. Every 4xx carries the body ``{}``: 400 for bad
parameters, 401 for a bad token, 404 for an unknown access key or campaign key.

Activity is hourly: live hours between a campaign's start and end, then replay hours that fade over days. A
window's figures sum the hours that start inside it (averages and peaks are per window); ``grow()`` makes
recent hours gain viewers, as replays do; ``advance_to(moment)`` answers as of an earlier moment (shows created
later are not there yet, a show not started by then is ``READY``, one not ended ``ONAIR``, and only the hours
before it have activity). ``truth_*`` give what the warehouse must hold.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import math
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from simulators.base import DatedSimApp, Faults, Request, Response, RollingLimit

DEFAULT_ACCESS_KEY = "a1b2c3d4sim"
DEFAULT_TOKEN = "sim-shoplive-token-4f0e9b7a"
# base64 of the HMAC key, the form Shoplive hands out
DEFAULT_SECRET_B64 = base64.b64encode(b"sim-shoplive-secret-2c9d1a3b5e7f").decode()
MAX_COUNT = 20
MAX_WINDOW_SECONDS = 7 * 24 * 3600
STAT_IDS = ("campaignId", "campaignKey", "accessKey", "title", "scheduledAt", "startedAt", "endedAt")
_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


@dataclass
class LiveCampaign:
    campaign_id: str
    key: str
    title: str
    scheduled_start: dt.datetime
    scheduled_end: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    created_at: dt.datetime
    base_viewers: int
    replay_days: int
    login_p: float
    new_login_p: float
    watch_seconds: int
    like_p: float
    chat_p: float
    click_p: float
    banner_p: float
    deleted: bool = False
    garbled: bool = False


@dataclass
class Slot:
    viewers: int = 0
    login: int = 0
    new_login: int = 0
    peak: int = 0
    viewing_time: int = 0
    likes: int = 0
    like_viewers: int = 0
    chats: int = 0
    chat_viewers: int = 0
    product_clicks: int = 0
    product_click_viewers: int = 0
    banner_clicks: int = 0


@dataclass
class StatsCall:
    start: dt.datetime
    end: dt.datetime
    keys: tuple[str, ...] | None
    status: int


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(raw: str | None) -> dt.datetime | None:
    if raw is None or not _TIME_RE.fullmatch(raw):
        return None
    try:
        return dt.datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def make_jwt(access_key: str, secret_b64: str = DEFAULT_SECRET_B64, *, ttl_days: int = 3 * 365,
             issued_at: int | None = None) -> str:
    """An HS256 token as the Shoplive docs describe: claims accessKey, iat, exp; key = base64-decoded secret."""
    now = int(time.time()) if issued_at is None else issued_at
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = _b64url(json.dumps({"accessKey": access_key, "iat": now, "exp": now + ttl_days * 86400},
                                separators=(",", ":")).encode())
    signature = hmac.new(base64.b64decode(secret_b64), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{_b64url(signature)}"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ShopliveSim(DatedSimApp):
    """The simulator; see the module docstring."""

    name = "shoplive"

    def __init__(self, *, now: dt.datetime | None = None, seed: int = 23, campaigns: int = 10, days: int = 30,
                 access_key: str = DEFAULT_ACCESS_KEY, token: str = DEFAULT_TOKEN,
                 secret_b64: str = DEFAULT_SECRET_B64, rate_limit: int | None = None, rate_period: float = 1.0,
                 faults: Faults | None = None) -> None:
        super().__init__(faults=faults)
        self.now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
        self.anchor = self.now           # the dataset's anchor; ``now`` is the moment answered as of
        self._anchor_campaigns: dict[str, LiveCampaign] | None = None
        self.access_key = access_key
        self.token = token
        self.secret_b64 = secret_b64
        self.limit = RollingLimit(rate_limit, rate_period) if rate_limit else None
        self.generation = 0
        self.extra_fields = False     # unknown new fields appear in stats (one numeric, one not)
        self.string_numbers = False   # averages arrive as numeric strings ("2.9")
        self.stats_calls: list[StatsCall] = []
        self._slot_cache: dict[tuple[str, int, dt.datetime], dict[dt.datetime, Slot]] = {}
        self.search_calls: list[dict[str, str]] = []
        self.campaigns: dict[str, LiveCampaign] = {}
        rng = random.Random(seed)
        number = 1230
        for k in range(campaigns):
            number += rng.randint(1, 9)
            key = hashlib.sha1(f"{seed}:{k}".encode()).hexdigest()[:12]
            if k == campaigns - 1:     # one upcoming show: READY, no activity yet
                scheduled = (self.now + dt.timedelta(days=2)).replace(minute=0, second=0)
            else:
                scheduled = (self.now - dt.timedelta(days=rng.uniform(0.2, days))).replace(minute=30, second=0)
            duration = dt.timedelta(minutes=rng.choice([45, 90, 180, 60 * 26]))
            started: dt.datetime | None = scheduled + dt.timedelta(minutes=rng.randint(-10, 15))
            ended: dt.datetime | None = started + duration if started else None
            if started is not None and started > self.now:
                started = ended = None
            elif ended is not None and ended > self.now:
                ended = None
            self.campaigns[key] = LiveCampaign(
                campaign_id=str(number), key=key, title=f"Live show {k} - {rng.choice(['Beauty', 'Tech', 'Home'])}",
                scheduled_start=scheduled, scheduled_end=scheduled + duration, started_at=started, ended_at=ended,
                created_at=scheduled - dt.timedelta(days=rng.randint(1, 5)),
                base_viewers=rng.randint(40, 4000), replay_days=rng.randint(2, 12),
                login_p=rng.uniform(0.3, 0.9), new_login_p=rng.uniform(0.05, 0.4), watch_seconds=rng.randint(30, 900),
                like_p=rng.uniform(0.1, 0.6), chat_p=rng.uniform(0.02, 0.3), click_p=rng.uniform(0.05, 0.4),
                banner_p=rng.uniform(0.0, 0.1))
        prefix = "/v2/(?P<access_key>[^/]+)"
        self.route("GET", f"{prefix}/campaign", self._search)
        self.route("GET", f"{prefix}/campaign/stats", self._stats)

    # -- controls ---------------------------------------------------------------------------------------------


    def loader_env(self, url: str) -> dict[str, str]:
        """Base URL and credentials that point the loader at this simulator served at ``url``."""
        return {"SOURCES__SHOPLIVE__BASE_URL": url, "SOURCES__SHOPLIVE__ACCESS_KEY": self.access_key,
                "SOURCES__SHOPLIVE__API_TOKEN": make_jwt(self.access_key, self.secret_b64)}

    def campaigns_as_of(self, moment: dt.datetime, built: dict[str, LiveCampaign], *,
                        first: bool) -> dict[str, LiveCampaign]:
        """As of ``moment``: shows created after it are not there yet, a show started after it is ``READY`` and
        one ended after it ``ONAIR``, and only the hours before it have activity (an hour's figures are the same
        whenever they are asked for)."""
        shown: dict[str, LiveCampaign] = {}
        for key, c in built.items():
            if c.created_at > moment:
                continue
            if c.started_at is not None and c.started_at > moment:
                c = replace(c, started_at=None, ended_at=None)
            elif c.ended_at is not None and c.ended_at > moment:
                c = replace(c, ended_at=None)
            shown[key] = c
        return shown

    def grow(self, steps: int = 1) -> None:
        """Replays keep drawing viewers: recent hours gain activity."""
        with self._lock:
            self.generation += steps

    def delete_campaign(self, key: str) -> None:
        """Gone from search and stats; asking stats for its key answers 404."""
        with self._lock:
            self.campaigns[key].deleted = True

    def garble_campaign(self, key: str) -> None:
        """Stats send an unreadable ``totalViewingTime`` for this campaign."""
        with self._lock:
            self.campaigns[key].garbled = True

    def active_keys(self) -> list[str]:
        return [k for k, c in self.campaigns.items() if c.started_at is not None and not c.deleted]

    # -- auth -------------------------------------------------------------------------------------------------

    def authorize(self, request: Request) -> Response | None:
        match = re.match(r"^/v2/([^/]+)/", request.path + "/")
        path_key = match.group(1) if match else ""
        header = request.headers.get("authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        if path_key != self.access_key:
            return Response(404, {})
        if token == self.token or self._valid_jwt(token, path_key):
            return None
        return Response(401, {})

    def _valid_jwt(self, token: str, access_key: str) -> bool:
        parts = token.split(".")
        if len(parts) != 3:
            return False
        try:
            header = json.loads(_b64url_decode(parts[0]))
            claims = json.loads(_b64url_decode(parts[1]))
            signature = _b64url_decode(parts[2])
        except ValueError:
            return False
        expected = hmac.new(base64.b64decode(self.secret_b64), f"{parts[0]}.{parts[1]}".encode(),
                            hashlib.sha256).digest()
        return (isinstance(header, dict) and header.get("alg") == "HS256" and hmac.compare_digest(signature, expected)
                and isinstance(claims, dict) and claims.get("accessKey") == access_key
                and isinstance(claims.get("exp"), (int, float)) and claims["exp"] > time.time())

    def dispatch(self, request: Request) -> Response | None:
        if self.limit is not None and self.authorize(request) is None:
            allowed, wait = self.limit.allow(self.access_key)
            if not allowed:
                return Response(429, {}, {"Retry-After": f"{max(wait, 0.001):.3f}"})
        return super().dispatch(request)

    def error_body(self, status: int) -> Any:
        return {}

    def throttle_body(self) -> Any:
        return {}

    # -- data -------------------------------------------------------------------------------------------------

    def slots(self, c: LiveCampaign) -> dict[dt.datetime, Slot]:
        """Hourly activity of a campaign up to ``now`` (hours start on the hour)."""
        if c.started_at is None or c.deleted:
            return {}
        cached = self._slot_cache.get((c.key, self.generation, self.now))
        if cached is not None:
            return cached
        out: dict[dt.datetime, Slot] = {}
        live_end = c.ended_at or self.now
        hour = c.started_at.replace(minute=0, second=0)
        replay_end = live_end + dt.timedelta(days=c.replay_days) if c.ended_at else live_end
        while hour < min(replay_end, self.now):
            rnd = random.Random(f"{c.key}:{hour.isoformat()}")
            live = hour < live_end
            age_days = (self.now - hour).total_seconds() / 86400
            growth = 1 + 0.5 * self.generation * 0.5 ** age_days
            if live:
                scale = rnd.uniform(0.5, 1.5)
            else:
                scale = 0.25 * math.exp(-(hour - live_end).total_seconds() / (36 * 3600)) * rnd.uniform(0.5, 1.5)
            viewers = int(c.base_viewers * scale * growth)
            like_viewers = int(viewers * c.like_p)
            chat_viewers = int(viewers * c.chat_p)
            click_viewers = int(viewers * c.click_p)
            login = int(viewers * c.login_p)
            out[hour] = Slot(viewers=viewers, login=login, new_login=int(login * c.new_login_p),
                             peak=int(viewers * rnd.uniform(0.2, 0.6)) if live else int(viewers * 0.1),
                             viewing_time=viewers * c.watch_seconds, likes=like_viewers * rnd.randint(1, 8),
                             like_viewers=like_viewers, chats=chat_viewers * rnd.randint(1, 4),
                             chat_viewers=chat_viewers, product_clicks=click_viewers * rnd.randint(1, 3),
                             product_click_viewers=click_viewers, banner_clicks=int(viewers * c.banner_p))
            hour += dt.timedelta(hours=1)
        self._slot_cache[(c.key, self.generation, self.now)] = out
        return out

    def has_activity(self, c: LiveCampaign, start: dt.datetime, end: dt.datetime) -> bool:
        return any(start <= h < end for h in self.slots(c))

    def stats_item(self, c: LiveCampaign, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
        total = Slot()
        for hour, slot in self.slots(c).items():
            if not start <= hour < end:
                continue
            for name in ("viewers", "login", "new_login", "viewing_time", "likes", "like_viewers", "chats",
                         "chat_viewers", "product_clicks", "product_click_viewers", "banner_clicks"):
                setattr(total, name, getattr(total, name) + getattr(slot, name))
            total.peak = max(total.peak, slot.peak)

        def avg(num: int, den: int) -> float | str:
            value = round(num / den, 1) if den else 0.0
            return f"{value:.1f}" if self.string_numbers else value

        item: dict[str, Any] = {
            "campaignId": c.campaign_id, "campaignKey": c.key, "accessKey": self.access_key, "title": c.title,
            "scheduledAt": _iso(c.scheduled_start), "startedAt": _iso(c.started_at), "endedAt": _iso(c.ended_at),
            "totalViewers": total.viewers, "totalLoginViewers": total.login, "newLoginViewers": total.new_login,
            "peakConcurrentViewers": total.peak, "totalViewingTime": total.viewing_time,
            "averageViewingTime": round(total.viewing_time / total.viewers) if total.viewers else 0,
            "likes": total.likes, "likeViewers": total.like_viewers,
            "averageLikes": avg(total.likes, total.like_viewers),
            "chats": total.chats, "chatViewers": total.chat_viewers,
            "averageChats": avg(total.chats, total.chat_viewers),
            "productClicks": total.product_clicks, "productClickViewers": total.product_click_viewers,
            "averageProductClicks": avg(total.product_clicks, total.product_click_viewers),
            "bannerClicks": total.banner_clicks,
        }
        if self.extra_fields:
            item["replayViewers"] = total.viewers // 3
            item["streamType"] = "LIVE"
        if c.garbled:
            item["totalViewingTime"] = "n/a"
        return item

    def campaign_object(self, c: LiveCampaign) -> dict[str, Any]:
        if c.started_at is None:
            status = "READY"
        elif c.ended_at is None:
            status = "ONAIR"
        else:
            status = "ENDED"
        viewers = sum(s.viewers for s in self.slots(c).values())
        meta = {
            "campaignId": c.campaign_id, "campaignKey": c.key, "accessKey": self.access_key, "title": c.title,
            "description": f"{c.title} description", "campaignStatus": status, "rerun": False,
            "userCount": None if status == "READY" else viewers,
            "likeCount": None if status == "READY" else viewers // 4,
            "scheduledStartAt": _iso(c.scheduled_start), "scheduledEndAt": _iso(c.scheduled_end),
            "campaignStartedAt": _iso(c.started_at), "campaignEndedAt": _iso(c.ended_at),
            "createdAt": _iso(c.created_at), "updatedAt": _iso(c.started_at or c.created_at),
        }
        return {"campaignMeta": meta, "stream": {"streamType": "LIVE"}, "campaignProductList": [],
                "seller": {"sellerId": 7, "name": "Sim seller"}, "serveReplay": True}

    # -- handlers ---------------------------------------------------------------------------------------------

    def _search(self, request: Request, access_key: str) -> Response:
        q = request.query
        with self._lock:
            self.search_calls.append(dict(q))
        try:
            page = int(q.get("page", "1"))
            count = int(q.get("count", "10"))
        except ValueError:
            return Response(400, {})
        if page < 1 or count < 1 or count > MAX_COUNT:
            return Response(400, {})
        lo = _parse(q["from"]) if "from" in q else None
        hi = _parse(q["to"]) if "to" in q else None
        if ("from" in q and lo is None) or ("to" in q and hi is None):
            return Response(400, {})
        keys = {k for k in q.get("campaignKeys", "").split(",") if k} or None
        status = q.get("campaignStatus", "").upper() or None
        with self._lock:
            found = []
            for c in self.campaigns.values():
                if c.deleted or (keys is not None and c.key not in keys):
                    continue
                if (lo is not None and c.scheduled_start < lo) or (hi is not None and c.scheduled_start >= hi):
                    continue
                obj = self.campaign_object(c)
                if status and obj["campaignMeta"]["campaignStatus"] != status:
                    continue
                found.append(obj)
        ascending = q.get("sortAscending", "false").lower() == "true"
        found.sort(key=lambda o: (o["campaignMeta"]["scheduledStartAt"], o["campaignMeta"]["campaignId"]),
                   reverse=not ascending)
        return Response(200, {"results": found[(page - 1) * count:page * count]})

    def _stats(self, request: Request, access_key: str) -> Response:
        q = request.query
        lo, hi = _parse(q.get("from")), _parse(q.get("to"))
        keys = tuple(k for k in q.get("campaignKeys", "").split(",") if k) or None
        if lo is None or hi is None or hi <= lo or (hi - lo).total_seconds() > MAX_WINDOW_SECONDS:
            return self._stats_answer(lo, hi, keys, Response(400, {}))
        with self._lock:
            if keys is not None:
                chosen = [self.campaigns.get(k) for k in keys]
                if any(c is None or c.deleted for c in chosen):
                    return self._stats_answer(lo, hi, keys, Response(404, {}))
                results = [self.stats_item(c, lo, hi) for c in chosen if c is not None]
            else:
                results = [self.stats_item(c, lo, hi) for c in self.campaigns.values()
                           if self.has_activity(c, lo, hi)]
        return self._stats_answer(lo, hi, keys, Response(200, {"results": results}))

    def _stats_answer(self, lo: dt.datetime | None, hi: dt.datetime | None, keys: tuple[str, ...] | None,
                      response: Response) -> Response:
        if lo is not None and hi is not None:
            with self._lock:
                self.stats_calls.append(StatsCall(lo, hi, keys, response.status))
        return response

    # -- ground truth -----------------------------------------------------------------------------------------

    def requested_windows(self, since: int = 0) -> list[tuple[dt.datetime, dt.datetime, tuple[str, ...] | None]]:
        """Distinct stats windows answered 200 (from call ``since``, an index into ``stats_calls``), oldest
        first, with the union of keys asked (None: all campaigns)."""
        merged: dict[tuple[dt.datetime, dt.datetime], set[str] | None] = {}
        with self._lock:
            for call in self.stats_calls[since:]:
                if call.status != 200:
                    continue
                span = (call.start, call.end)
                if call.keys is None:
                    merged[span] = None
                elif span not in merged or merged[span] is not None:
                    merged[span] = (merged.get(span) or set()) | set(call.keys)
        return [(a, b, None if k is None else tuple(sorted(k))) for (a, b), k in sorted(merged.items())]

    def truth_fact_rows(self, windows: list[tuple[dt.datetime, dt.datetime, tuple[str, ...] | None]] | None = None
                        ) -> dict[tuple[Any, ...], float]:
        """(accessKey, campaignKey, 'total', 'total', metric, period_start) -> value for the given windows
        (default: those the loader asked for)."""
        truth: dict[tuple[Any, ...], float] = {}
        with self._lock:
            for start, end, keys in windows if windows is not None else self.requested_windows():
                if keys is None:
                    chosen = [c for c in self.campaigns.values() if self.has_activity(c, start, end)]
                else:
                    chosen = [self.campaigns[k] for k in keys]
                period = start.replace(tzinfo=None)
                for c in chosen:
                    for field, value in self.stats_item(c, start, end).items():
                        if field in STAT_IDS:
                            continue
                        number = _number(value)
                        if number is not None:
                            truth[(self.access_key, c.key, "total", "total", _snake(field), period)] = number
        return truth

    def truth_dim(self) -> dict[str, dict[str, Any]]:
        """campaignKey -> the campaignMeta search returns, for every campaign not deleted."""
        with self._lock:
            return {c.key: self.campaign_object(c)["campaignMeta"] for c in self.campaigns.values() if not c.deleted}


def _snake(name: str) -> str:
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?", value.strip()):
        return float(value.replace(",", ""))
    return None


def demo(now: dt.datetime) -> tuple[ShopliveSim, Callable[[str], dict[str, str]]]:
    """A small account for ``campaign-etl demo``: eight shows over two weeks; the token is a signed JWT."""
    app = ShopliveSim(now=now, seed=3, campaigns=8, days=12)

    def config(base_url: str) -> dict[str, str]:
        return {**app.loader_env(base_url),
                "SOURCES__SHOPLIVE__START_DATE": (now - dt.timedelta(days=14)).strftime("%Y-%m-%d")}

    return app, config


if __name__ == "__main__":  # pragma: no cover - manual use
    from simulators.base import SimServer

    sim, env = demo(dt.datetime.now(dt.UTC))
    with SimServer(sim, port=8766) as server:
        for key, val in env(server.url).items():
            print(f"export {key}={val}")
        while True:
            time.sleep(3600)
