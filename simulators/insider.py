"""Insider One web push statistics simulator: overall-metrics and campaign-metrics.

Faithful to the project's notes (``docs/providers/insider.md``): POST with a JSON body, ``Authorization: Bearer``,
``partner_id`` as a string, dates ``YYYY-MM-DD`` read as inclusive UTC days, overall-metrics paged with ``page``
(1-based) and ``per_page`` (at most 20) and ``total``, campaign-metrics keyed by ``builderId`` with display strings
(``"1,234"``, ``"12.50%"``, ``"2,480 TRY"``). A rolling limit of 30 requests per period per token answers 429
(``Retry-After`` optional) or, in legacy mode, 403 "Request limit exceeded". 400 for bad bodies, ``per_page`` > 20
and a campaign-metrics start before the campaign's create date; 406 for windows older than a year; 424 for an
unknown campaign (or one switched to fail).

The dataset is generated from a seed and a ``now`` anchor: campaigns send on consecutive days from their create
date; late deliveries, clicks and conversions keep arriving for a few days (``grow()`` moves that along;
``advance_to(moment)`` answers as of an earlier moment: campaigns created later are not there yet, days after it
have no sends, and a day's late events are the share arrived by then, see ``simulators.base.engagement_share``).
The ``truth_*`` methods give the fact rows the warehouse must hold for the windows the loader asked for.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulators.base import DatedSimApp, Faults, Request, Response, RollingLimit, engagement_share

OVERALL_PATH = "/v1/statistics/overall-metrics"
CAMPAIGN_PATH = "/v1/statistics/campaign-metrics"
DEFAULT_PARTNER_ID = "10000123"
DEFAULT_API_KEY = "sim-insider-key-7c41d2e9a0"
MAX_PER_PAGE = 20
DROP_LABELS = ("frequencyCapped", "silentHours", "unsubscriptions", "serviceProviderErrors", "internalErrors")
UNDELIVERED_LABELS = ("offlineRecipients", "other")
# overall-metrics fields that describe a campaign rather than measure it
OVERALL_DESCRIPTIVE = frozenset({"id", "builderId", "campName", "type", "status", "tags", "sendDate", "startDate",
                                 "endDate", "messageLink", "firstButtonLink", "secondButtonLink"})


@dataclass
class InsiderCampaign:
    record_id: int
    builder_id: int
    name: str
    kind: str                      # Bulk or Recurring
    tags: list[str]
    created_at: dt.datetime
    send_days: int                 # consecutive days with sends, from the create date
    daily_targeted: int
    drop_p: float
    deliver_p: float
    click_p: float
    conv_p: float
    order_value: float
    devices: list[tuple[str, float]]
    drop_shares: list[float]
    offline_share: float
    deleted: bool = False
    fail_424: bool = False
    garbled: bool = False

    @property
    def first_day(self) -> dt.date:
        return self.created_at.date()

    @property
    def last_day(self) -> dt.date:
        return self.first_day + dt.timedelta(days=self.send_days - 1)


@dataclass
class DayFigures:
    targeted: int = 0
    sent: int = 0
    dropped: int = 0
    delivered: int = 0
    undelivered: int = 0
    clicks: int = 0
    conversions: int = 0
    revenue: float = 0.0
    days_active: int = 0

    def add(self, other: DayFigures) -> None:
        for name in ("targeted", "sent", "dropped", "delivered", "undelivered", "clicks", "conversions",
                     "days_active"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.revenue += other.revenue


@dataclass
class LoggedCall:
    endpoint: str
    body: dict[str, Any]
    status: int


class InsiderSim(DatedSimApp):
    """The simulator; see the module docstring."""

    name = "insider"

    def __init__(self, *, now: dt.datetime | None = None, seed: int = 11, campaigns: int = 12, days: int = 60,
                 partner_id: str = DEFAULT_PARTNER_ID, api_key: str = DEFAULT_API_KEY, currency: str = "TRY",
                 rate_limit: int = 30, rate_period: float = 60.0, limit_retry_after: bool = True,
                 legacy_throttle: bool = False, faults: Faults | None = None) -> None:
        super().__init__(faults=faults)
        self.now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
        self.anchor = self.now           # the dataset's anchor; ``now`` is the moment answered as of
        self._anchor_campaigns: dict[int, InsiderCampaign] | None = None
        self.partner_id = partner_id
        self.api_key = api_key
        self.currency = currency
        self.limit = RollingLimit(rate_limit, rate_period)
        self.limit_retry_after = limit_retry_after
        self.legacy_throttle = legacy_throttle
        self.generation = 0
        self.extra_fields = False        # unknown new fields appear (numeric and not)
        self.stale_start_dates = False   # overall startDate one day before the create date (local-day quirk)
        self.calls: list[LoggedCall] = []
        self.arrivals: list[tuple[float, bool]] = []   # (monotonic time the limit was checked, admitted)
        self.campaigns: dict[int, InsiderCampaign] = {}
        rng = random.Random(seed)
        builder = 11_000
        for k in range(campaigns):
            builder += rng.randint(1, 40)
            recurring = k % 3 == 0
            age = rng.uniform(0.1, days)
            created = (self.now - dt.timedelta(days=age)).replace(second=0, microsecond=0)
            devices = [("Desktop", rng.uniform(0.2, 0.45)), ("Mobile", 0.0)]
            if k % 4 == 1:
                devices.insert(1, ("Tablet", 0.06))
            shares = [rng.uniform(0.1, 1.0) for _ in DROP_LABELS]
            total = sum(shares)
            self.campaigns[builder] = InsiderCampaign(
                record_id=40_000 + k * 7 + rng.randint(0, 6), builder_id=builder,
                name=f"{created:%d.%m.%Y}-{rng.choice(['BabyCare', 'Summer', 'Flash', 'Cart'])}-{k}",
                kind="Recurring" if recurring else "Bulk", tags=[rng.choice(["Baby", "Sale", "News"])],
                created_at=created, send_days=rng.randint(8, 30) if recurring else rng.randint(1, 3),
                daily_targeted=rng.randint(300, 60_000), drop_p=rng.uniform(0.0, 0.05),
                deliver_p=rng.uniform(0.3, 0.95), click_p=rng.uniform(0.002, 0.05),
                conv_p=rng.uniform(0.0, 0.2), order_value=round(rng.uniform(50, 900), 2), devices=devices,
                drop_shares=[s / total for s in shares], offline_share=rng.uniform(0.7, 0.95))
        self.route("POST", OVERALL_PATH, self._overall)
        self.route("POST", CAMPAIGN_PATH, self._campaign_metrics)

    # -- controls ---------------------------------------------------------------------------------------------


    def loader_env(self, url: str) -> dict[str, str]:
        """Base URL and credentials that point the loader at this simulator served at ``url``."""
        return {"SOURCES__INSIDER__BASE_URL": url, "SOURCES__INSIDER__PARTNER_ID": self.partner_id,
                "SOURCES__INSIDER__API_KEY": self.api_key}

    def campaigns_as_of(self, moment: dt.datetime, built: dict[int, InsiderCampaign], *,
                        first: bool) -> dict[int, InsiderCampaign]:
        """As of ``moment``: campaigns created after it are not there yet, the days after its day have no sends,
        and late events are the share arrived by then."""
        return {builder: c for builder, c in built.items() if c.created_at <= moment}

    def grow(self, steps: int = 1) -> None:
        """Late deliveries, clicks and conversions arrive (recent days change most)."""
        with self._lock:
            self.generation += steps

    def delete_campaign(self, builder_id: int) -> None:
        """The campaign disappears from overall-metrics; campaign-metrics answers 424."""
        with self._lock:
            self.campaigns[builder_id].deleted = True

    def fail_campaign(self, builder_id: int) -> None:
        """campaign-metrics answers 424 for this campaign (overall-metrics still lists it)."""
        with self._lock:
            self.campaigns[builder_id].fail_424 = True

    def garble_campaign(self, builder_id: int) -> None:
        """campaign-metrics sends an unreadable Desktop ``clicks`` value for this campaign."""
        with self._lock:
            self.campaigns[builder_id].garbled = True

    # -- auth, limit, errors ----------------------------------------------------------------------------------

    def authorize(self, request: Request) -> Response | None:
        if request.headers.get("authorization", "") != f"Bearer {self.api_key}":
            return Response(401, {"message": "Unauthorized"})
        return None

    def dispatch(self, request: Request) -> Response | None:
        denied = self.authorize(request)
        if denied is not None:
            return denied
        allowed, wait = self.limit.allow(self.api_key)
        with self._lock:
            self.arrivals.append((time.monotonic(), allowed))
        if not allowed:
            if self.legacy_throttle:
                return Response(403, {"status_code": 403,
                                      "message": f"Request limit exceeded. {self.limit.limit} Requests/minute "
                                                 f"is allowed."})
            headers = {}
            if self.limit_retry_after:
                headers["Retry-After"] = (str(math.ceil(wait)) if self.limit.period >= 10
                                          else f"{max(wait, 0.001):.3f}")
            return Response(429, self.throttle_body(), headers)
        return super().dispatch(request)

    def error_body(self, status: int) -> Any:
        return {"message": f"Service unavailable ({status})"}

    # -- data -------------------------------------------------------------------------------------------------

    def _late(self, day: dt.date) -> float:
        """Share of late events arrived for a send day: rises with the day's age and with ``generation``."""
        age = (self.anchor.date() - day).days
        late = 1.0 - 0.4 * 0.5 ** (max(age, 0) + 2 * self.generation)
        if self.now != self.anchor:   # answering as of an earlier moment: the share arrived by then
            late *= engagement_share((self.now.date() - day).days, age)
        return late

    def day_figures(self, c: InsiderCampaign, day: dt.date) -> DayFigures:
        if day < c.first_day or day > c.last_day or day > self.now.date():
            return DayFigures()
        rnd = random.Random(f"{c.builder_id}:{day.isoformat()}")
        late = self._late(day)
        targeted = int(c.daily_targeted * rnd.uniform(0.6, 1.4))
        dropped = int(targeted * c.drop_p)
        sent = targeted - dropped
        delivered = int(sent * c.deliver_p * late)
        clicks = int(delivered * c.click_p * late)
        conversions = int(clicks * c.conv_p * late)
        return DayFigures(targeted, sent, dropped, delivered, sent - delivered, clicks, conversions,
                          conversions * c.order_value, 1)

    def window_figures(self, c: InsiderCampaign, start: dt.date, end: dt.date) -> DayFigures:
        total = DayFigures()
        day = max(start, c.first_day)
        while day <= min(end, c.last_day, self.now.date()):
            total.add(self.day_figures(c, day))
            day += dt.timedelta(days=1)
        return total

    def listed(self, start: dt.date, end: dt.date) -> list[InsiderCampaign]:
        """Campaigns overall-metrics lists for a window: not deleted, with sends in it (builderId order)."""
        return [c for _, c in sorted(self.campaigns.items())
                if not c.deleted and self.window_figures(c, start, end).days_active > 0]

    def overall_item(self, c: InsiderCampaign, start: dt.date, end: dt.date) -> dict[str, Any]:
        f = self.window_figures(c, start, end)
        shown_start = c.created_at - dt.timedelta(days=1) if self.stale_start_dates else c.created_at
        item: dict[str, Any] = {
            "id": c.record_id, "builderId": c.builder_id, "campName": c.name, "type": c.kind,
            "status": "Active" if c.last_day >= self.now.date() else "Completed", "tags": list(c.tags),
            "sendDate": (c.created_at + dt.timedelta(minutes=15)).strftime("%Y-%m-%d %H:%M:%S"),
            "startDate": shown_start.strftime("%Y-%m-%d %H:%M:%S"),
            "endDate": dt.datetime.combine(c.last_day, c.created_at.time()).strftime("%Y-%m-%d %H:%M:%S"),
            "daysActive": f.days_active, "messageLink": f"https://shop.example.test/p/{c.builder_id}",
            "firstButtonLink": "N/A", "secondButtonLink": "N/A",
            "targeted": f.targeted, "sent": f.sent, "dropped": f.dropped,
            "deliveryRate": _rate(f.delivered, f.sent), "delivered": f.delivered, "undelivered": f.undelivered,
            "ctr": _rate(f.clicks, f.delivered), "clicks": f.clicks,
            "conversionRate": _rate(f.conversions, f.clicks), "conversions": f.conversions,
            "revenue": round(f.revenue, 2),
        }
        if self.extra_fields:
            item["uniqueClicks"] = int(f.clicks * 0.9)
            item["channelName"] = "web push"
        return item

    def campaign_body(self, c: InsiderCampaign, start: dt.date, end: dt.date) -> dict[str, Any]:
        f = self.window_figures(c, start, end)
        cur = self.currency
        devices = []
        for name, counts in _split_devices(c, f):
            d_sent, d_delivered, d_clicks, d_conv, d_revenue = counts
            revenue = f"{_round_half_up(d_revenue):,} {cur}"
            if d_conv == 0 and c.builder_id % 2 == 1:
                revenue = cur   # DOC (older sample): a bare currency code, no amount
            device: dict[str, Any] = {
                "device": name, "sent": f"{d_sent:,}", "delivered": f"{d_delivered:,}",
                "deliveryRate": _pct(d_delivered, d_sent), "clicks": f"{d_clicks:,}",
                "ctr": _pct(d_clicks, d_delivered), "conversions": f"{d_conv:,}",
                "conversionRate": _pct(d_conv, d_clicks), "revenue": revenue,
            }
            if self.extra_fields:
                device["impressions"] = f"{int(d_delivered * 1.3):,}"
                device["platform"] = name.lower()
            if c.garbled and name == "Desktop":
                device["clicks"] = "12,34x"
            devices.append(device)
        dropped = _split(f.dropped, c.drop_shares)
        undelivered = _split(f.undelivered, [c.offline_share, 1 - c.offline_share])
        as_text = c.builder_id % 2 == 1   # DOC: percentage is a number in one sample, a string in another

        def reasons(labels: tuple[str, ...], counts: list[int], total: int) -> list[dict[str, Any]]:
            out = []
            for label, count in zip(labels, counts, strict=True):
                pct = round(100 * count / total, 2) if total else 0
                out.append({"label": label, "count": f"{count:,}", "percentage": f"{pct:.2f}" if as_text else pct})
            return out

        overview: dict[str, Any] = {
            "total": {"targeted": f"{f.targeted:,}", "deliveryRate": _pct(f.delivered, f.sent),
                      "ctr": _pct(f.clicks, f.delivered), "conversionRate": _pct(f.conversions, f.clicks)},
            "targeted": {"sent": f"{f.sent:,}", "dropped": f"{f.dropped:,}"},
            "deliveryRate": {"delivered": f"{f.delivered:,}", "undelivered": f"{f.undelivered:,}"},
            "ctr": {"clicks": f"{f.clicks:,}"}, "conversionRate": {"conversions": f"{f.conversions:,}"},
            "revenue": f"{_round_half_up(f.revenue):,} {cur}",
        }
        if self.extra_fields:
            overview["total"]["reach"] = f"{int(f.delivered * 1.1):,}"
            overview["total"]["segmentName"] = "All users"
        return {
            "success": True, "message": "", "name": c.name,
            "statusName": "running" if c.last_day >= self.now.date() else "completed", "status": 1,
            "workingStatus": 3, "sendType": 0, "primaryGoal": "salesFromClick",
            "startDate": f"{start.isoformat()}T00:00:00.000000Z", "endDate": f"{end.isoformat()}T23:59:59.999999Z",
            "isRecurring": c.kind == "Recurring", "alias": "bulk" if c.kind == "Bulk" else "single",
            "preferredCurrency": cur, "personalizationStatus": "Active",
            "isTTLEnded": (self.now.date() - end).days > 3,
            "goalMenu": {"salesFromClick": "Sales from click"},
            "overview": overview, "deviceMetrics": devices,
            "unsuccessfulMessages": {"dropped": reasons(DROP_LABELS, dropped, f.dropped),
                                     "undelivered": reasons(UNDELIVERED_LABELS, undelivered, f.undelivered)},
            "comparisonData": [],
        }

    # -- handlers ---------------------------------------------------------------------------------------------

    def _log_call(self, endpoint: str, body: Any, status: int) -> None:
        with self._lock:
            self.calls.append(LoggedCall(endpoint, body if isinstance(body, dict) else {}, status))

    def _dates(self, body: Any) -> tuple[dt.date, dt.date] | Response:
        if not isinstance(body, dict):
            return Response(400, {"message": "The request body must be a JSON object."})
        partner = body.get("partner_id")
        if not isinstance(partner, str):
            return Response(400, {"message": "The partner id field is required and must be a string."})
        if partner != self.partner_id:
            return Response(400, {"message": "The partner id is invalid."})
        dates = []
        for key in ("start_date", "end_date"):
            raw = body.get(key)
            if not isinstance(raw, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                return Response(400, {"message": f"The {key} does not match the format Y-m-d."})
            try:
                dates.append(dt.date.fromisoformat(raw))
            except ValueError:
                return Response(400, {"message": f"The {key} does not match the format Y-m-d."})
        start, end = dates
        if start > end:
            return Response(400, {"message": "The start date must be a date before or equal to end date."})
        if start < self.now.date() - dt.timedelta(days=365):
            return Response(406, {"message": "Analytics data is available for the last 1 year only"})
        return start, end

    def _overall(self, request: Request) -> Response:
        body = request.body
        parsed = self._dates(body)
        if isinstance(parsed, Response):
            self._log_call("overall", body, parsed.status)
            return parsed
        start, end = parsed
        try:
            page = int(body.get("page", 1))
            per_page = int(body.get("per_page", 10))
        except (TypeError, ValueError):
            self._log_call("overall", body, 400)
            return Response(400, {"message": "The page and per page fields must be integers."})
        if per_page > MAX_PER_PAGE or per_page < 1 or page < 1:
            self._log_call("overall", body, 400)
            return Response(400, {"message": f"The per page may not be greater than {MAX_PER_PAGE}."})
        with self._lock:
            listed = self.listed(start, end)
            data = [self.overall_item(c, start, end) for c in listed[(page - 1) * per_page:page * per_page]]
        self._log_call("overall", body, 200)
        return Response(200, {"page": page, "per_page": per_page, "total": len(listed), "data": data})

    def _campaign_metrics(self, request: Request) -> Response:
        body = request.body
        parsed = self._dates(body)
        if isinstance(parsed, Response):
            self._log_call("campaign", body, parsed.status)
            return parsed
        start, end = parsed
        raw_id = body.get("campaign_id")
        if not isinstance(raw_id, str) or not raw_id.strip():
            self._log_call("campaign", body, 400)
            return Response(400, {"message": "The campaign id field is required."})
        with self._lock:
            c = self.campaigns.get(int(raw_id)) if raw_id.isdigit() else None
            if c is None or c.deleted or c.fail_424:
                self._log_call("campaign", body, 424)
                return Response(424, {"message": "SERVICE:-Campaign not found"})
            if start < c.first_day:
                self._log_call("campaign", body, 400)
                return Response(400, {"message": f"The start date may not be earlier than the campaign create "
                                                 f"date {c.first_day.isoformat()}."})
            answer = self.campaign_body(c, start, end)
        self._log_call("campaign", body, 200)
        return Response(200, answer)

    # -- ground truth -----------------------------------------------------------------------------------------

    def requested_windows(self, since: int = 0) -> list[tuple[dt.date, dt.date]]:
        """The distinct (start_date, end_date) windows overall-metrics answered, oldest first (from call
        ``since``, an index into ``calls``)."""
        with self._lock:
            seen = {(c.body["start_date"], c.body["end_date"]): None for c in self.calls[since:]
                    if c.endpoint == "overall" and c.status == 200}
        return sorted((dt.date.fromisoformat(a), dt.date.fromisoformat(b)) for a, b in seen)

    def truth_fact_rows(self, windows: list[tuple[dt.date, dt.date]] | None = None
                        ) -> dict[tuple[Any, ...], float]:
        """(partner, builderId, breakdown_type, breakdown_value, metric, period_start) -> value for every window
        (default: the windows the loader asked for), as the warehouse must hold them."""
        truth: dict[tuple[Any, ...], float] = {}
        with self._lock:
            for start, end in windows if windows is not None else self.requested_windows():
                period = dt.datetime(start.year, start.month, start.day)
                for c in self.listed(start, end):
                    acct, cid = self.partner_id, str(c.builder_id)
                    item = self.overall_item(c, start, end)
                    owned = {_snake(k) for k in item}
                    for key, value in item.items():
                        if key in OVERALL_DESCRIPTIVE or not _is_number(value):
                            continue
                        truth[(acct, cid, "total", "total", _snake(key), period)] = float(value)
                    if c.fail_424:
                        continue
                    body = self.campaign_body(c, max(start, c.first_day), end)
                    for leaf, value in _leaves(body["overview"]):
                        parsed = _display_number(value)
                        if _snake(leaf) not in owned and parsed is not None:
                            truth[(acct, cid, "total", "total", _snake(leaf), period)] = parsed
                    for device in body["deviceMetrics"]:
                        for key, value in device.items():
                            parsed = _display_number(value)
                            if key != "device" and parsed is not None:
                                truth[(acct, cid, "device", device["device"], _snake(key), period)] = parsed
                    for group, btype in (("dropped", "drop_reason"), ("undelivered", "undelivered_reason")):
                        for entry in body["unsuccessfulMessages"][group]:
                            count = _display_number(entry["count"])
                            if count is not None:
                                truth[(acct, cid, btype, entry["label"], "count", period)] = count
                            truth[(acct, cid, btype, entry["label"], "percentage", period)] = (
                                float(entry["percentage"]) / 100)
        return truth

    def truth_units(self) -> dict[str, str]:
        """metric -> unit for the metrics this simulator produces."""
        units = {m: "count" for m in ("targeted", "sent", "dropped", "delivered", "undelivered", "clicks",
                                      "conversions", "unique_clicks", "impressions", "reach", "count")}
        units.update({m: "ratio" for m in ("delivery_rate", "ctr", "conversion_rate", "percentage")})
        units.update({"revenue": "currency", "days_active": "days"})
        return units


# -- helpers ------------------------------------------------------------------------------------------------------

def _rate(num: int, den: int) -> float | int:
    return num / den if den else 0


def _pct(num: int, den: int) -> str:
    return f"{100 * num / den:.2f}%" if den else "0.00%"


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _split(total: int, shares: list[float]) -> list[int]:
    parts = [int(total * s) for s in shares[:-1]]
    return [*parts, total - sum(parts)]


def _split_devices(c: InsiderCampaign, f: DayFigures) -> list[tuple[str, tuple[int, int, int, int, float]]]:
    """Per device: sent split by the device shares; delivered, clicks and conversions follow the window's own
    ratios, so a device never delivers more than it sent (device figures need not add up to the totals)."""
    shares = [share for _, share in c.devices[:-1]]
    shares.append(1.0 - sum(shares))
    out = []
    for (name, _), sent in zip(c.devices, _split(f.sent, shares), strict=True):
        delivered = int(sent * f.delivered / f.sent) if f.sent else 0
        clicks = int(delivered * f.clicks / f.delivered) if f.delivered else 0
        conversions = int(clicks * f.conversions / f.clicks) if f.clicks else 0
        out.append((name, (sent, delivered, clicks, conversions, conversions * c.order_value)))
    return out


def _snake(name: str) -> str:
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _leaves(obj: dict[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in obj.items():
        if isinstance(value, dict):
            out.extend(_leaves(value))
        else:
            out.append((key, value))
    return out


_COUNT = re.compile(r"[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?")


def _display_number(value: Any) -> float | None:
    """The simulator's own reading of its display strings (independent of the loader's parser)."""
    if _is_number(value):
        return float(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith("%") and _COUNT.fullmatch(text[:-1]):
        return float(text[:-1].replace(",", "")) / 100
    money = re.fullmatch(r"(.*?)\s*([A-Z]{3})", text)
    if money:
        return float(money.group(1).replace(",", "")) if _COUNT.fullmatch(money.group(1)) else None
    return float(text.replace(",", "")) if _COUNT.fullmatch(text) else None


def demo(now: dt.datetime) -> tuple[InsiderSim, Callable[[str], dict[str, str]]]:
    """A small account for ``campaign-etl demo``: eight campaigns over three weeks at the real 30 requests/min.

    Three weekly windows cost about 3 overall-metrics calls plus one campaign-metrics call per active campaign
    and window, well inside one minute's budget, so the demo never waits on the limit.
    """
    app = InsiderSim(now=now, seed=5, campaigns=8, days=18)

    def config(base_url: str) -> dict[str, str]:
        return {**app.loader_env(base_url),
                "SOURCES__INSIDER__START_DATE": (now - dt.timedelta(days=14)).strftime("%Y-%m-%d")}

    return app, config


if __name__ == "__main__":  # pragma: no cover - manual use
    from simulators.base import SimServer

    sim, env = demo(dt.datetime.now(dt.UTC))
    with SimServer(sim, port=8765) as server:
        for key, val in env(server.url).items():
            print(f"export {key}={val}")
        while True:
            time.sleep(3600)
