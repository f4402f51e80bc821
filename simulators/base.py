"""What every provider simulator shares: a real threaded HTTP server on loopback, routing, auth and faults.

A simulator is a ``SimApp`` subclass that registers routes and holds a deterministic dataset plus its ground
truth; ``SimServer`` serves it on a free loopback port in a background thread. Faults are switched on per test:
429 bursts with ``Retry-After`` (seconds or HTTP date), a share of 5xx answers, slow answers, dropped
connections and answers dripped one byte at a time, all drawn from a seeded generator so a failing test can be
replayed. ``SimApp.latency`` adds a fixed delay before every routed answer, as a distant server would (not a
fault: it is the same for every request and draws nothing from the generator).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import email.utils
import json
import random
import re
import socket
import socketserver
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Faults:
    """Switchable faults; shares are probabilities per request (after auth)."""

    share_5xx: float = 0.0
    status_5xx: int = 503
    share_429: float = 0.0
    burst_429: int = 0                  # the next N requests answer 429
    retry_after: float | None = 1.0     # seconds in Retry-After; None omits the header
    retry_after_as_date: bool = False
    share_slow: float = 0.0
    slow_seconds: float = 0.5
    share_drop: float = 0.0             # close the connection without an answer
    # Write the answer one byte per ``drip_interval`` seconds (a slowloris server): the body only, or with
    # ``drip_headers`` the status line and headers too. Each byte alone is quick, so only a whole-request
    # deadline on the client ends such a request.
    share_drip: float = 0.0
    drip_interval: float = 1.0
    drip_headers: bool = False
    seed: int = 7


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    query_list: list[tuple[str, str]]
    headers: dict[str, str]
    body: Any
    raw_body: bytes


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # set by the drip fault (a ``mutate`` hook may set it too): the handler writes this answer byte by byte
    drip: bool = False


Handler = Callable[..., Response]


class RollingLimit:
    """Answers whether a request fits ``limit`` per rolling ``period`` seconds (simulators' own limits)."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> tuple[bool, float]:
        """(allowed, seconds until a slot frees)."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] >= self.period:
                hits.popleft()
            if len(hits) < self.limit:
                hits.append(now)
                return True, 0.0
            return False, self.period - (now - hits[0])


# How long after a send the counts that keep arriving (opens, clicks, late deliveries, opt-outs) take to reach the
# values a simulator gives at its anchor, when it answers as of an earlier moment (``SimApp.advance_to``). At most
# the loader's ``settle_days`` (7) less a day: whatever a nightly leaves out as settled was, on both pulls, at its
# anchor values already, so a history of loads ends with exactly what one load at the anchor finds.
MATURE_DAYS = 6.0


def engagement_share(age_days: float, anchor_age_days: float) -> float:
    """The share of its anchor value a still-growing count has reached when its send is ``age_days`` old, the send
    being ``anchor_age_days`` old at the anchor: 1.0 at the anchor and from ``MATURE_DAYS`` on, rising along a
    concave curve before (a send answered on its own day shows 30 % of what it shows once mature)."""
    if age_days >= anchor_age_days or age_days >= MATURE_DAYS:
        return 1.0

    def curve(age: float) -> float:
        return 1.0 - 0.7 * (1.0 - min(max(age, 0.0), MATURE_DAYS) / MATURE_DAYS) ** 2

    return curve(age_days) / curve(anchor_age_days)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` (a pendulum datetime too) as a plain aware UTC datetime to the second (naive means UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return dt.datetime.fromtimestamp(int(aware.timestamp()), tz=dt.UTC)


class SimApp:
    """Base of every simulator: routes, auth, faults, request log.

    A simulator's dataset is anchored at a moment (``now`` when it is built) and it answers as of that moment.
    ``advance_to(moment)`` makes it answer as of an earlier moment instead (campaigns not sent by then are not
    there yet or scheduled, counts are those of that moment) and, called with the anchor, as of the anchor again:
    the demo loads a history night after night with it. A simulator never advanced answers exactly as before.
    """

    name = "sim"

    def __init__(self, *, faults: Faults | None = None, latency: float = 0.0) -> None:
        """Create the app.

        Args:
            faults: the faults to inject (none by default).
            latency: seconds added before every routed answer; a plain attribute, so it may be changed while
                the app is served (a request already waiting keeps the value it read).
        """
        self.faults = faults or Faults()
        self.latency = latency
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._rng = random.Random(self.faults.seed)
        self._lock = threading.RLock()
        self.log: list[tuple[float, str, str, int]] = []   # (monotonic time, method, path, status)
        # tests may rewrite answers (bad values, odd shapes): mutate(request, response) -> response
        self.mutate: Callable[[Request, Response], Response] | None = None

    # -- configuration ----------------------------------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Register ``handler(request, **groups)`` for ``method`` and a path regex with named groups."""
        self._routes.append((method.upper(), re.compile(f"^{pattern}$"), handler))

    def set_faults(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults
            self._rng = random.Random(faults.seed)

    def loader_env(self, url: str) -> dict[str, str]:
        """The environment that points the loader at this simulator served at ``url`` (base URL, credentials)."""
        raise NotImplementedError

    def advance_to(self, moment: dt.datetime) -> None:
        """Answer as of ``moment``, at most the anchor (see the class docstring); ``DatedSimApp`` does it for a
        simulator with a dated dataset."""
        raise NotImplementedError(f"the {self.name} simulator cannot answer as of another moment")

    def authorize(self, request: Request) -> Response | None:
        """Return an error response when the request's credentials are wrong; None when they are fine."""
        return None

    def request_count(self, path_prefix: str = "") -> int:
        with self._lock:
            return sum(1 for _, _, p, _ in self.log if p.startswith(path_prefix))

    # -- dispatch ---------------------------------------------------------------------------------------------

    def _fault(self) -> str | None:
        with self._lock:
            f = self.faults
            if f.burst_429 > 0:
                f.burst_429 -= 1
                return "429"
            roll = self._rng.random()
            # drip comes last, so adding it left the draws of the older faults (and their seeds) unchanged
            for kind, share in (("drop", f.share_drop), ("5xx", f.share_5xx), ("429", f.share_429),
                                ("slow", f.share_slow), ("drip", f.share_drip)):
                if roll < share:
                    return kind
                roll -= share
        return None

    def throttle_response(self, retry_after: float | None = None) -> Response:
        f = self.faults
        seconds = f.retry_after if retry_after is None else retry_after
        headers: dict[str, str] = {}
        if seconds is not None:
            if f.retry_after_as_date:
                headers["Retry-After"] = email.utils.formatdate(time.time() + seconds, usegmt=True)
            else:
                headers["Retry-After"] = f"{seconds:g}" if seconds == int(seconds) else f"{seconds:.3f}"
        return Response(429, self.throttle_body(), headers)

    def throttle_body(self) -> Any:
        return {"error": "rejected: too many requests"}

    def error_body(self, status: int) -> Any:
        return {"error": f"simulated {status}"}

    def dispatch(self, request: Request) -> Response | None:
        """Answer a request; None means: drop the connection."""
        denied = self.authorize(request)
        if denied is not None:
            return denied
        fault = self._fault()
        if fault == "drop":
            return None
        if fault == "5xx":
            return Response(self.faults.status_5xx, self.error_body(self.faults.status_5xx))
        if fault == "429":
            return self.throttle_response()
        if fault == "slow":
            time.sleep(self.faults.slow_seconds)
        # The round trip of a distant server: every answer the routes give waits the same, outside the lock so
        # concurrent requests wait side by side (as they would on a real network), never one after another.
        # Refusals and injected faults above answer at once, so the fault tests keep their timing; the 404 of an
        # unknown path is routed like any answer.
        latency = self.latency
        if latency > 0:
            time.sleep(latency)
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if match and method == request.method:
                response = handler(request, **match.groupdict())
                response = response if self.mutate is None else self.mutate(request, response)
                return replace(response, drip=True) if fault == "drip" else response
        return Response(404, self.error_body(404), drip=fault == "drip")


class DatedSimApp(SimApp):
    """A simulator whose dataset of campaigns is anchored at a moment (``anchor``, its ``now`` when built) and that
    can answer as of an earlier one (``advance_to``). Subclasses set ``now``, ``anchor`` and ``campaigns`` when
    they build the dataset, and say in ``campaigns_as_of`` what their campaigns looked like at a moment."""

    now: dt.datetime
    anchor: dt.datetime
    campaigns: dict[Any, Any]
    _anchor_campaigns: dict[Any, Any] | None = None   # the campaigns as built, kept the first time it moves

    def advance_to(self, moment: dt.datetime) -> None:
        """Answer as of ``moment``, at most the anchor (``campaigns_as_of``); ``moment`` = the anchor gives back
        the dataset as built (``campaigns_at_anchor``). The controls act on the campaigns of the moment answered
        as of."""
        moment = as_utc(moment)
        if moment > self.anchor:
            raise ValueError(f"{self.name}: cannot answer as of {moment}, after the anchor {self.anchor}")
        with self._lock:
            first = self._anchor_campaigns is None
            if self._anchor_campaigns is None:
                self._anchor_campaigns = self.kept_at_anchor()
            if moment == self.anchor:
                self.now = self.anchor   # the anchor itself: exactly as built
                self.campaigns = self.campaigns_at_anchor(self._anchor_campaigns)
            else:
                self.now = moment
                self.campaigns = self.campaigns_as_of(moment, self._anchor_campaigns, first=first)

    def kept_at_anchor(self) -> dict[Any, Any]:
        """The campaigns as built, kept the first time the simulator moves (the campaigns themselves by default)."""
        return self.campaigns

    def campaigns_at_anchor(self, built: dict[Any, Any]) -> dict[Any, Any]:
        """The campaigns answered as of the anchor again (those kept as built, by default)."""
        return built

    def campaigns_as_of(self, moment: dt.datetime, built: dict[Any, Any], *, first: bool) -> dict[Any, Any]:
        """The campaigns as they were at ``moment`` (before the anchor), from those kept as ``built``; ``first``:
        the simulator had not moved before."""
        raise NotImplementedError


def _make_handler(app: SimApp) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body leave in two writes; without this, Nagle + delayed ACK add ~40 ms to every answer
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return

        def handle(self) -> None:
            # A client that hangs up mid-answer (a deadline, a size cap refusing the rest) resets the connection;
            # that is the client's choice, not a simulator error worth a traceback on stderr.
            try:
                super().handle()
            except ConnectionError:
                self.close_connection = True

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            query_list = parse_qsl(parts.query, keep_blank_values=True)
            request = Request(self.command, parts.path, dict(query_list), query_list,
                              {k.lower(): v for k, v in self.headers.items()}, body, raw)
            response = app.dispatch(request)
            if response is None:
                with app._lock:
                    app.log.append((time.monotonic(), request.method, request.path, 0))
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            with app._lock:
                app.log.append((time.monotonic(), request.method, request.path, response.status))
            payload = b"" if response.body is None else json.dumps(response.body).encode()
            if response.drip:
                self._drip(response, payload)
                return
            self.send_response(response.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        def _drip(self, response: Response, payload: bytes) -> None:
            """Write the answer one byte per ``drip_interval`` (the head at once unless ``drip_headers``).

            Stops quietly when the client has gone (a client with a deadline closes mid-answer) and within a
            few hundredths of a second of the server being stopped, so ``SimServer.stop()`` never waits on it.
            """
            reason = self.responses.get(response.status, ("",))[0]
            lines = [f"{self.protocol_version} {response.status} {reason}", "Content-Type: application/json",
                     f"Content-Length: {len(payload)}", *(f"{k}: {v}" for k, v in response.headers.items())]
            head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
            faults = app.faults
            # the answer may be cut short, so this connection serves no further request
            self.close_connection = True
            try:
                if faults.drip_headers:
                    data = head + payload
                else:
                    self.wfile.write(head)
                    data = payload
                for i in range(len(data)):
                    self.wfile.write(data[i:i + 1])
                    if not self._pause(faults.drip_interval):
                        return
            except OSError:  # BrokenPipe / ConnectionReset: the client has gone
                return

        def _pause(self, seconds: float) -> bool:
            """Sleep ``seconds`` in short slices; False as soon as the server has been stopped."""
            end = time.monotonic() + seconds
            while True:
                server = self.server
                if isinstance(server, socketserver.TCPServer) and server.socket.fileno() == -1:
                    # SimServer.stop() closed the listening socket
                    return False
                left = end - time.monotonic()
                if left <= 0:
                    return True
                time.sleep(min(0.05, left))

        do_GET = _handle
        do_POST = _handle

    return _Handler


class SimServer:
    """Serve a ``SimApp`` on ``127.0.0.1`` at a free port, in a daemon thread."""

    def __init__(self, app: SimApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._host = host
        self._server = ThreadingHTTPServer((host, port), _make_handler(app))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._server.server_port}"

    def start(self) -> SimServer:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"sim-{self.app.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_from_command_line(app: SimApp, loader_env: Callable[[str], dict[str, str]], *, port: int,
                            argv: Sequence[str] | None = None) -> None:
    """Serve ``app`` until Ctrl-C, for manual use (a simulator module's ``__main__``).

    Prints the ``export`` lines that point the loader at it. Options: ``--port`` (default ``port``) and
    ``--latency SECONDS`` (added before every routed answer, see ``SimApp.latency``).

    Args:
        app: the simulator to serve.
        loader_env: the served base URL -> the loader's environment (a simulator's ``demo`` config function).
        port: the default port.
        argv: the command line without the program name; default ``sys.argv[1:]``.
    """
    parser = argparse.ArgumentParser(description=f"Serve the {app.name} simulator on loopback.")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--latency", type=float, default=app.latency, metavar="SECONDS",
                        help="seconds added before every routed answer (default %(default)s)")
    args = parser.parse_args(argv)
    if args.latency < 0:
        parser.error("--latency must be >= 0")
    app.latency = args.latency
    with SimServer(app, port=args.port) as server:
        for key, value in loader_env(server.url).items():
            print(f"export {key}={value}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
