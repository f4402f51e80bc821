"""Experiture Public API v1 simulator: campaign listing, summary, status and pipeline metrics.

Faithful to the project's notes (``docs/providers/experiture.md``): the ``success/data/correlationId`` envelope,
Bearer tokens carrying scopes (``campaigns:read`` for list/summary/status, ``analytics:read`` for metrics),
offset pagination (``limit`` clamped to ``max_page_limit``, ``pagination.total/limit/offset``), ``sortBy``
``createdAt`` or ``updatedAt``, 409 ``TYPE_UNSUPPORTED`` for journey campaigns, 404 for deleted ones, 403 when
the token lacks a scope and 429 with ``Retry-After`` through ``Faults``.

Tokens: a ready token (``token``) is always accepted, as before. With ``client_id`` and ``client_secret`` the
simulator also serves the OAuth 2.0 client-credentials grant (DOC: tokens come from it; the endpoint itself is
not public, so its path, ``token_path``, is an ASSUMPTION and configurable) at ``POST /oauth/token`` on the same
server, per RFC 6749 §4.4: a form ``grant_type=client_credentials``, the client authenticated with HTTP Basic
(§2.3.1, form-urlencoded id and secret) or with ``client_id`` / ``client_secret`` in the form (§2.3.1 allows it);
the answer ``{"access_token", "token_type": "Bearer", "expires_in"}``, errors ``{"error": "invalid_client"}`` (401)
and ``invalid_request`` / ``unsupported_grant_type`` (400). Issued tokens live ``token_lifetime`` seconds; the API
answers 401 to an expired or revoked one (``revoke_tokens()``), as the real API does to any token it no longer
accepts (INFERRED: "missing/invalid/expired token").

The dataset is generated from a seed and a ``now`` anchor. Campaigns can be created or deleted at any time,
including in the middle of a listing (``after_list_request``), to exercise offset drift. ``grow()`` makes
running campaigns progress; ``advance_to(moment)`` answers as of an earlier moment (campaigns created later are
not there yet, one not sent by then is scheduled, executions started later have not run and one still running
then has processed its share of the audience). ``truth_fact_rows()`` and ``truth_dim()`` give what the warehouse
must end up with.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from simulators.base import DatedSimApp, Faults, Request, Response, SimApp

API = "/public/v1"
DEFAULT_TOKEN = "sim-experiture-token-3f0c9a71"
# ASSUMPTION: the token endpoint's path (the console shows the real URL); configurable with ``token_path``
TOKEN_PATH = "/oauth/token"
DEFAULT_CLIENT_ID = "sim-experiture-client"
DEFAULT_CLIENT_SECRET = "sim-experiture-client-secret-8d2e41b7"
ALL_SCOPES = frozenset({"campaigns:read", "analytics:read"})
COUNT_KEYS = ("scheduled", "hydrated", "composed", "injected", "sent", "failed")
CHANNELS = ("email", "sms", "push", "direct_mail")
TIMEZONES = ("America/New_York", "Europe/Istanbul", "UTC", "America/Los_Angeles")
FINAL_STATES = frozenset({"completed", "failed"})


@dataclass
class Execution:
    execution_id: str
    started_at: dt.datetime
    completed_at: dt.datetime | None
    status: str                      # running, completed, failed
    audience: int
    progress: float = 1.0            # share of the audience processed (running executions grow)

    def counts(self, generation: int) -> dict[str, int]:
        share = self.progress if self.status != "running" else min(1.0, self.progress + 0.15 * generation)
        scheduled = int(self.audience * share)
        hydrated = scheduled - scheduled // 997
        composed = hydrated - hydrated // 1499
        injected = composed - composed // 2003
        sent = injected - injected // 331
        if self.status == "failed":
            injected = int(composed * 0.4)
            sent = int(injected * 0.9)
        # DOC: the counts do not reconcile exactly (failed is not scheduled - sent); reproduce that.
        failed = max(0, scheduled - sent - 1) if scheduled else 0
        return {"scheduled": scheduled, "hydrated": hydrated, "composed": composed, "injected": injected,
                "sent": sent, "failed": failed}


@dataclass
class Campaign:
    campaign_id: str
    name: str
    campaign_type: str               # broadcast, journey
    channel: str
    authoring_status: str            # draft, published
    created_at: dt.datetime
    updated_at: dt.datetime
    send_at: dt.datetime | None
    timezone: str
    state: str                       # not_scheduled, scheduled, pending_or_overdue, running, completed, failed
    reach: int
    executions: list[Execution] = field(default_factory=list)
    deleted: bool = False
    listed: bool = True              # a deleted campaign may linger in the listing index


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _whole(value: Any) -> Any:
    """Timestamps on whole seconds, so the warehouse can be compared with the truth exactly."""
    return None if value is None else value.replace(microsecond=0)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class ExperitureSim(DatedSimApp):
    """The simulator; see the module docstring.

    Args:
        now: the anchor every generated timestamp is relative to.
        seed: dataset seed.
        campaigns: how many campaigns to generate.
        days: campaigns are created within this many days before ``now``.
        journeys: generate journey campaigns (409 on status/metrics/summary).
        token: the ready Bearer token the simulator accepts (None: only issued tokens).
        scopes: scopes every token carries.
        max_page_limit: ``limit`` values above this are clamped (100 in the API).
        client_id, client_secret: the API client of the client-credentials grant; None serves no grant.
        token_path: where the token endpoint is served.
        token_lifetime: seconds an issued token is accepted (``expires_in``).
    """

    name = "experiture"

    def __init__(self, *, now: dt.datetime | None = None, seed: int = 11, campaigns: int = 24, days: int = 90,
                 journeys: bool = True, token: str | None = DEFAULT_TOKEN,
                 scopes: frozenset[str] | set[str] = ALL_SCOPES, max_page_limit: int = 100,
                 faults: Faults | None = None, client_id: str | None = None, client_secret: str | None = None,
                 token_path: str = TOKEN_PATH, token_lifetime: int = 3600) -> None:
        super().__init__(faults=faults)
        self.now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
        self.anchor = self.now           # the dataset's anchor; ``now`` is the moment answered as of
        self._anchor_campaigns: dict[str, Campaign] | None = None
        self.token = token
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_path = token_path
        self.token_lifetime = token_lifetime
        self.issued: dict[str, float] = {}      # token -> monotonic instant it expires
        self.revoked: set[str] = set()
        self.token_requests = 0                 # every request to the token endpoint
        self.grant_refusals = 0                 # token requests refused (bad client, bad grant)
        self.expired_refusals = 0               # API requests refused because their token had expired
        self.revoked_refusals = 0               # API requests refused because their token was revoked
        self.scopes = frozenset(scopes)
        self.max_page_limit = max_page_limit
        self.generation = 0
        self.campaigns: dict[str, Campaign] = {}
        self._data_rng = random.Random(seed)
        self._list_requests = 0
        self._list_hooks: dict[int, list[Callable[[ExperitureSim], None]]] = {}
        self._hook_lock = threading.Lock()
        for k in range(campaigns):
            self._generate(k, days, journeys)
        for pattern, handler in (
                (f"{API}/campaigns", self._list),
                (f"{API}/campaigns/(?P<campaign_id>[^/]+)/summary", self._summary),
                (f"{API}/campaigns/(?P<campaign_id>[^/]+)/status", self._status),
                (f"{API}/campaigns/(?P<campaign_id>[^/]+)/metrics", self._metrics)):
            self.route("GET", pattern, handler)
        if client_id is not None and client_secret is not None:
            self.route("POST", token_path, self._token)

    # -- dataset ----------------------------------------------------------------------------------------------


    def loader_env(self, url: str) -> dict[str, str]:
        """Base URL and credentials that point the loader at this simulator served at ``url``: the grant's keys when
        it serves one, else the ready token."""
        if self.client_id is not None and self.client_secret is not None:
            return {"SOURCES__EXPERITURE__BASE_URL": f"{url}{API}",
                    "SOURCES__EXPERITURE__TOKEN_URL": f"{url}{self.token_path}",
                    "SOURCES__EXPERITURE__CLIENT_ID": self.client_id,
                    "SOURCES__EXPERITURE__CLIENT_SECRET": self.client_secret}
        return {"SOURCES__EXPERITURE__BASE_URL": f"{url}{API}", "SOURCES__EXPERITURE__ACCESS_TOKEN": DEFAULT_TOKEN}

    def _generate(self, k: int, days: int, journeys: bool) -> Campaign:
        rng = self._data_rng
        cid = _uuid(rng)
        channel = CHANNELS[k % len(CHANNELS)]
        created = self.now - dt.timedelta(days=rng.uniform(3, days), minutes=k)
        updated = created + dt.timedelta(hours=rng.randint(1, 30))
        reach = rng.randint(500, 40_000)
        tz = TIMEZONES[k % len(TIMEZONES)]
        send_at: dt.datetime | None = updated + dt.timedelta(days=rng.uniform(0.2, 2))
        campaign_type = "journey" if journeys and k % 7 == 6 else "broadcast"
        authoring = "published"
        state = "completed"
        executions: list[Execution] = []
        if k % 11 == 3:
            authoring, state, send_at = "draft", "not_scheduled", None
        elif k % 9 == 4:
            state = "failed"
        elif k % 8 == 5:
            # sending right now: created recently, started an hour ago
            created = self.now - dt.timedelta(days=rng.uniform(1, 2))
            updated = created + dt.timedelta(hours=1)
            send_at = self.now - dt.timedelta(hours=1)
            state = "running"
        elif k % 10 == 7:
            created = self.now - dt.timedelta(days=rng.uniform(1, 3))
            updated = created
            send_at = self.now + dt.timedelta(days=rng.uniform(1, 5))
            state = "scheduled"
        elif k % 13 == 8:
            created = self.now - dt.timedelta(days=rng.uniform(2, 4))
            updated = created
            send_at = self.now - dt.timedelta(hours=rng.randint(2, 20))
            state = "pending_or_overdue"
        if state in ("completed", "failed", "running") and send_at is not None:
            runs = 2 if (k % 5 == 0 and state == "completed") else 1
            start = send_at
            for r in range(runs):
                is_last = r == runs - 1
                status = state if is_last else "completed"
                started = start + dt.timedelta(seconds=rng.randint(1, 20))
                completed = None if status == "running" else started + dt.timedelta(minutes=rng.randint(5, 240))
                progress = rng.uniform(0.3, 0.6) if status == "running" else 1.0
                executions.append(Execution(f"exec-{_uuid(rng)}", started, completed, status,
                                            audience=reach if r == 0 else int(reach * 0.35), progress=progress))
                start = start + dt.timedelta(days=7)
                if start > self.now - dt.timedelta(hours=2):
                    break
            if executions and executions[-1].status != state:
                state = executions[-1].status
        for execution in executions:
            execution.started_at = _whole(execution.started_at)
            execution.completed_at = _whole(execution.completed_at)
        c = Campaign(cid, f"Experiture {channel} campaign {k}", campaign_type, channel, authoring, _whole(created),
                     _whole(updated), _whole(send_at), tz, state, reach, executions)
        if campaign_type == "journey":
            c.executions = []
        self.campaigns[cid] = c
        return c

    # -- controls ---------------------------------------------------------------------------------------------

    def campaigns_as_of(self, moment: dt.datetime, built: dict[str, Campaign], *,
                        first: bool) -> dict[str, Campaign]:
        """As of ``moment``: campaigns created after it are not there yet, one whose send is after it is
        ``scheduled``, executions started after it have not run, and one that completes after it is ``running``,
        its audience processed in proportion to the time it has run."""
        return {cid: view for cid, c in built.items() if (view := self._as_of(c, moment)) is not None}

    @staticmethod
    def _as_of(c: Campaign, moment: dt.datetime) -> Campaign | None:
        """The campaign as it was at ``moment`` (None: not created yet)."""
        if c.created_at > moment:
            return None
        updated = min(c.updated_at, moment)
        if c.send_at is None or c.campaign_type != "broadcast":
            return replace(c, updated_at=updated)
        if c.send_at > moment:
            return replace(c, updated_at=updated, state="scheduled", executions=[])
        executions = []
        for e in c.executions:
            if e.started_at > moment:
                break
            if e.completed_at is not None and e.completed_at > moment:
                ran = (moment - e.started_at) / (e.completed_at - e.started_at)
                e = replace(e, completed_at=None, status="running", progress=max(0.01, e.progress * ran))
            executions.append(e)
        state = executions[-1].status if executions else "pending_or_overdue"
        return replace(c, updated_at=updated, state=state, executions=executions)

    def grow(self, steps: int = 1) -> None:
        """Running executions progress (their counts rise)."""
        with self._lock:
            self.generation += steps

    def create_campaign(self, *, created_at: dt.datetime | None = None, channel: str = "email",
                        campaign_type: str = "broadcast", executed: bool = True) -> Campaign:
        """A new campaign (default: created now, one completed execution) that appears in later listings."""
        with self._lock:
            rng = self._data_rng
            created = _whole(created_at or self.now)
            k = len(self.campaigns)
            reach = rng.randint(500, 5000)
            send_at = created + dt.timedelta(minutes=5)
            executions = []
            if executed and campaign_type == "broadcast":
                started = send_at + dt.timedelta(seconds=3)
                executions = [Execution(f"exec-{_uuid(rng)}", started, started + dt.timedelta(minutes=30),
                                        "completed", reach)]
            c = Campaign(_uuid(rng), f"Experiture {channel} campaign {k} (new)", campaign_type, channel,
                         "published", created, created, send_at, "UTC",
                         "completed" if executions else "scheduled", reach, executions)
            self.campaigns[c.campaign_id] = c
            return c

    def delete_campaign(self, campaign_id: str, *, keep_listed: bool = False) -> None:
        """The campaign answers 404 from now on; with ``keep_listed`` it still shows up in listings."""
        with self._lock:
            c = self.campaigns[campaign_id]
            c.deleted = True
            c.listed = keep_listed

    def after_list_request(self, n: int, hook: Callable[[ExperitureSim], None]) -> None:
        """Run ``hook(self)`` once, right after the ``n``-th listing request (counted from now) is answered."""
        with self._hook_lock:
            self._list_hooks.setdefault(self._list_requests + n, []).append(hook)

    @property
    def list_requests(self) -> int:
        return self._list_requests

    # -- auth and envelope ------------------------------------------------------------------------------------

    @property
    def tokens_issued(self) -> int:
        with self._lock:
            return len(self.issued)

    def revoke_tokens(self) -> None:
        """Every token issued so far is refused from now on (401), as after a key rotation in the console."""
        with self._lock:
            self.revoked.update(self.issued)

    def authorize(self, request: Request) -> Response | None:
        if request.path == self.token_path and request.method == "POST":
            return None        # the token endpoint authenticates the client itself
        header = request.headers.get("authorization", "")
        token = header[len("Bearer "):] if header.startswith("Bearer ") else None
        if token is not None and self.token is not None and token == self.token:
            return None
        with self._lock:
            expires = self.issued.get(token) if token is not None else None
            if expires is not None and token in self.revoked:
                self.revoked_refusals += 1
            elif expires is not None and time.monotonic() >= expires:
                self.expired_refusals += 1
            elif expires is not None:
                return None
        # ASSUMPTION (shared): one code for missing, invalid, expired and revoked tokens
        return Response(401, _error("CDP_ETL.AUTH.INVALID_TOKEN", "The access token is missing, invalid or "
                                    "expired.", remediation="Request a new token with client credentials."))

    def _token(self, request: Request) -> Response:
        """RFC 6749 §4.4.2-4.4.3 / §5.1-5.2: a client-credentials token, or the grant's error."""
        with self._lock:
            self.token_requests += 1
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            return self._grant_error(400, "invalid_request", "The body must be application/x-www-form-urlencoded.")
        form = dict(parse_qsl(request.raw_body.decode("utf-8", errors="replace"), keep_blank_values=True))
        header = request.headers.get("authorization", "")
        basic = header.startswith("Basic ")
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if basic:
            try:
                pair = base64.b64decode(header[len("Basic "):], validate=True).decode()
                raw_id, raw_secret = pair.split(":", 1)
            except ValueError:
                return self._grant_error(401, "invalid_client", "Malformed Basic credentials.", basic=True)
            client_id, client_secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        if form.get("grant_type") != "client_credentials":
            return self._grant_error(400, "unsupported_grant_type", "Only client_credentials is supported.")
        if client_id != self.client_id or client_secret != self.client_secret:
            # §5.2: 401 (with WWW-Authenticate) when the client used the Authorization header, else 400 may be used
            return self._grant_error(401 if basic or client_id is None else 400, "invalid_client",
                                     "Client authentication failed.", basic=basic or client_id is None)
        token = _jwt_like(self.client_id or "", self.token_lifetime)
        with self._lock:
            self.issued[token] = time.monotonic() + self.token_lifetime
        return Response(200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime,
                              "scope": " ".join(sorted(self.scopes))},
                        {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _grant_error(self, status: int, code: str, description: str, *, basic: bool = False) -> Response:
        with self._lock:
            self.grant_refusals += 1
        headers = {"WWW-Authenticate": 'Basic realm="experiture"'} if status == 401 and basic else {}
        return Response(status, {"error": code, "error_description": description}, headers)

    def error_body(self, status: int) -> Any:
        return _error("CDP_ETL.INTERNAL.UNAVAILABLE", "Simulated failure.")

    def throttle_body(self) -> Any:
        retry = self.faults.retry_after
        return _error("CDP_ETL.RATE.LIMITED", f"Rate limit exceeded. Retry after {retry or 1:g}s.")

    def _need(self, scope: str) -> Response | None:
        if scope in self.scopes:
            return None
        return Response(403, _error("CDP_ETL.AUTH.INSUFFICIENT_SCOPE", f"The token lacks the {scope} scope.",
                                    details={"requiredScope": scope},
                                    remediation=f"Grant {scope} to the API client and request a new token."))

    # -- payloads ---------------------------------------------------------------------------------------------

    def list_item(self, c: Campaign) -> dict[str, Any]:
        return {"campaignId": c.campaign_id, "name": c.name, "campaignType": c.campaign_type,
                "channel": c.channel, "authoringStatus": c.authoring_status,
                "createdAt": _iso(c.created_at), "updatedAt": _iso(c.updated_at)}

    def _schedule(self, c: Campaign) -> dict[str, Any] | None:
        if c.send_at is None:
            return None
        return {"scheduleId": f"sch-{c.campaign_id[:8]}", "kind": "digital_send", "sendAt": _iso(c.send_at),
                "timezone": c.timezone, "active": c.state in ("scheduled", "pending_or_overdue", "running")}

    def summary(self, c: Campaign) -> dict[str, Any]:
        last = c.executions[-1] if c.executions else None
        return {**self.list_item(c), "schedule": self._schedule(c),
                "audience": {"estimatedReach": c.reach, "memberCount": "redacted"},
                "latestExecution": None if last is None else {
                    "executionId": last.execution_id, "status": last.status,
                    "counts": last.counts(self.generation)}}

    def status(self, c: Campaign) -> dict[str, Any]:
        last = c.executions[-1] if c.executions else None
        return {"campaignId": c.campaign_id, "name": c.name, "authoringStatus": c.authoring_status,
                "schedule": self._schedule(c),
                "execution": {"state": c.state, "lastExecution": None if last is None else {
                    "executionId": last.execution_id, "startedAt": _iso(last.started_at),
                    "completedAt": _iso(last.completed_at), "status": last.status,
                    "counts": last.counts(self.generation)}}}

    def lifetime_counts(self, c: Campaign) -> dict[str, int] | None:
        if not c.executions:
            return None
        total = dict.fromkeys(COUNT_KEYS, 0)
        for execution in c.executions:
            for key, value in execution.counts(self.generation).items():
                total[key] += value
        return total

    def metrics(self, c: Campaign) -> dict[str, Any]:
        return {"campaignId": c.campaign_id, "counts": self.lifetime_counts(c)}

    # -- handlers ---------------------------------------------------------------------------------------------

    def _list(self, request: Request) -> Response:
        denied = self._need("campaigns:read")
        if denied is not None:
            return denied
        try:
            limit = int(request.query.get("limit", "50"))
            offset = int(request.query.get("offset", "0"))
        except ValueError:
            return Response(400, _error("CDP_ETL.REQUEST.INVALID", "limit and offset must be integers."))
        sort_by = request.query.get("sortBy", "updatedAt")
        direction = request.query.get("sortDirection", "desc")
        if limit < 1 or offset < 0 or sort_by not in ("createdAt", "updatedAt") or direction not in ("asc", "desc"):
            return Response(400, _error("CDP_ETL.REQUEST.INVALID", "Invalid pagination or sort parameters."))
        limit = min(limit, self.max_page_limit)
        with self._lock:
            items = [c for c in self.campaigns.values() if c.listed]
            if request.query.get("status"):
                items = [c for c in items if c.authoring_status == request.query["status"]]
            if request.query.get("channel"):
                items = [c for c in items if c.channel == request.query["channel"]]
            key = (lambda c: (c.created_at, c.campaign_id)) if sort_by == "createdAt" else \
                (lambda c: (c.updated_at, c.campaign_id))
            items.sort(key=key, reverse=direction == "desc")
            page = [self.list_item(c) for c in items[offset:offset + limit]]
            correlation = _correlation()
            body = {"success": True, "data": page, "correlationId": correlation,
                    "pagination": {"total": len(items), "limit": limit, "offset": offset}}
        with self._hook_lock:
            self._list_requests += 1
            hooks = self._list_hooks.pop(self._list_requests, [])
        for hook in hooks:
            hook(self)
        return Response(200, body, {"x-correlation-id": correlation})

    def _campaign(self, campaign_id: str, *, summary: bool) -> tuple[Campaign | None, Response | None]:
        c = self.campaigns.get(campaign_id)
        if c is None or c.deleted:
            return None, Response(404, _error("CDP_ETL.CAMPAIGN.NOT_FOUND", f"Campaign {campaign_id} not found."))
        if c.campaign_type != "broadcast":
            code = "SUMMARY_TYPE_UNSUPPORTED" if summary else "TYPE_UNSUPPORTED"
            return None, Response(409, _error(code, f"Campaign type {c.campaign_type} is not supported by public "
                                                    "v1", details={"campaignType": c.campaign_type}))
        return c, None

    def _answer(self, campaign_id: str, scope: str, build: Callable[[Campaign], dict[str, Any]], *,
                summary: bool = False) -> Response:
        denied = self._need(scope)
        if denied is not None:
            return denied
        with self._lock:
            c, error = self._campaign(campaign_id, summary=summary)
            if error is not None:
                return error
            assert c is not None
            data = build(c)
        correlation = _correlation()
        return Response(200, {"success": True, "data": data, "correlationId": correlation},
                        {"x-correlation-id": correlation})

    def _summary(self, request: Request, campaign_id: str) -> Response:
        return self._answer(campaign_id, "campaigns:read", self.summary, summary=True)

    def _status(self, request: Request, campaign_id: str) -> Response:
        return self._answer(campaign_id, "campaigns:read", self.status)

    def _metrics(self, request: Request, campaign_id: str) -> Response:
        return self._answer(campaign_id, "analytics:read", self.metrics)

    # -- ground truth -----------------------------------------------------------------------------------------

    def loadable(self) -> list[Campaign]:
        """Campaigns the loader can read: broadcast and not deleted."""
        with self._lock:
            return [c for c in self.campaigns.values() if not c.deleted and c.campaign_type == "broadcast"]

    def journeys(self) -> list[Campaign]:
        with self._lock:
            return [c for c in self.campaigns.values() if not c.deleted and c.campaign_type != "broadcast"]

    def truth_fact_rows(self) -> dict[tuple[str, ...], float]:
        """(account, campaign, breakdown_type, breakdown_value, metric) -> value for every readable campaign."""
        truth: dict[tuple[str, ...], float] = {}
        with self._lock:
            for c in self.loadable():
                for metric, value in (self.lifetime_counts(c) or {}).items():
                    truth[("default", c.campaign_id, "total", "total", metric)] = float(value)
        return truth

    def truth_dim(self) -> dict[str, dict[str, Any]]:
        """campaign id -> the dim_campaign fields the warehouse must show for every readable campaign."""
        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            for c in self.loadable():
                last = c.executions[-1] if c.executions else None
                out[c.campaign_id] = {
                    "campaign_name": c.name, "channel": c.channel, "status": c.state,
                    "started_at": None if last is None else last.started_at.replace(tzinfo=None),
                    "finished_at": None if last is None or last.completed_at is None
                    else last.completed_at.replace(tzinfo=None),
                    "scheduled_at": None if c.send_at is None else c.send_at.replace(tzinfo=None)}
        return out


def _correlation() -> str:
    return str(uuid.uuid4())


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt_like(client_id: str, lifetime: int) -> str:
    """A token shaped like the JWT RS256 the API issues (DOC); the signature is random, nobody verifies it here."""
    header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    claims = _b64url(json.dumps({"sub": client_id, "scope": " ".join(sorted(ALL_SCOPES)),
                                 "exp": int(time.time()) + lifetime, "jti": secrets.token_hex(8)}).encode())
    return f"{header}.{claims}.{_b64url(secrets.token_bytes(32))}"


def _error(code: str, message: str, *, details: dict[str, Any] | None = None,
           remediation: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "details": details or {}}
    if remediation:
        error["remediation"] = remediation
    return {"success": False, "correlationId": _correlation(), "error": error}


def demo(now: dt.datetime) -> tuple[SimApp, Callable[[str], dict[str, str]]]:
    """The demo dataset (broadcast campaigns only, so the demo run has nothing to skip) and its loader env."""
    app = ExperitureSim(now=now, campaigns=16, days=60, journeys=False)

    def config(base_url: str) -> dict[str, str]:
        return {**app.loader_env(base_url),
                # a loopback simulator: no need for the real API's 10 requests/s courtesy limit
                "SOURCES__EXPERITURE__RATE_LIMIT_REQUESTS": "100"}

    return app, config
