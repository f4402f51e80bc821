"""The one HTTP layer every provider uses.

It owns what providers must not re-implement: timeouts, bounded retries with jittered exponential backoff on
5xx / timeouts / dropped connections, waiting out 429 (``Retry-After`` in seconds or as an HTTP date), a
proactive rolling-window rate limit shared by all threads of a provider, bounded concurrency, request counting
for the run log and secret redaction. Provider clients only say which path to call and how to read the answer.

Two bounds protect a run from a hostile or broken server. Every *attempt* has a deadline of
``timeout_seconds`` for the whole exchange (connect, send, status line and headers, body), not only per socket
operation, so an answer dripped one byte at a time fails like a timeout and is retried. Every answer is read
streaming and refused once its decoded size passes ``max_response_bytes`` (``ResponseTooLarge``, not retried),
so neither a huge answer nor a gzip bomb ever sits in memory. Every wait (rate limit, backoff, ``Retry-After``)
and every socket read is cut into slices of ``interrupt.SLICE_SECONDS``, so a stop request is noticed at once.
"""

from __future__ import annotations

import codecs
import contextlib
import email.utils
import itertools
import json as jsonlib
import logging
import math
import random
import ssl
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import httpcore
import httpx

from core import interrupt
from core.errors import ProviderError, ResponseTooLarge, TransientHttpError
from core.redact import redact, register_secret
from sources.common.paging import Page, PageRequest, Paginator

log = logging.getLogger("campaign_etl.http")

T = TypeVar("T")
R = TypeVar("R")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 524})

class Authenticator(Protocol):
    """Credentials that change during a run (an OAuth token), asked for before every attempt.

    ``headers()`` returns the auth headers of the next attempt (fetching or renewing the token when it is missing
    or about to expire; the implementation registers every secret it handles with ``core.redact``).
    ``renew(sent)`` is called once per request after a 401 to the headers ``sent``: it renews the credentials
    (unless another thread already did) and returns True when the request should be tried once more.
    """

    def headers(self) -> dict[str, str]: ...

    def renew(self, sent: dict[str, str]) -> bool: ...


MIB = 1024 * 1024
# Largest piece a compressed answer is inflated in: the cap is checked after each, so memory stays near the cap.
_DECODE_STEP = 64 * 1024
# What the bounded decoder below understands; sent explicitly so that installing brotli or zstandard (which makes
# httpx advertise them) never brings an encoding this layer would not decode.
ACCEPT_ENCODING = "gzip, deflate"


@dataclass(frozen=True)
class HttpPolicy:
    """How patient one provider's client is. Every field is a config key (see ``.dlt/config.toml``).

    ``timeout_seconds`` bounds one attempt as a whole (connect + send + status line and headers + body), whatever
    the server drips; a hit is a transient failure, retried like a timeout. ``max_response_bytes`` caps the
    decoded size of one answer: a larger one raises ``ResponseTooLarge`` (an error for that entity, not retried).
    """

    # the whole of one attempt, not each socket operation (httpx alone would only bound the latter)
    timeout_seconds: float = 30.0
    # tries of one request against 5xx / timeouts / dropped connections (the first try included)
    max_attempts: int = 8
    # 429s are the provider saying "later", not failing: they have their own, larger budget per request
    max_throttled_attempts: int = 30
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    # A 429 without Retry-After waits this long (Insider asks for >= 60 s).
    default_retry_after_seconds: float = 5.0
    max_retry_after_seconds: float = 300.0
    rate_limit_requests: int | None = None
    rate_limit_period_seconds: float = 60.0
    max_concurrency: int = 4
    # Decoded bytes of one answer (after gzip/deflate): no provider answer of ours comes near 20 MiB, so a larger
    # one is a broken or hostile server; it is refused while streaming, never held in memory.
    max_response_bytes: int = 20 * MIB


@dataclass
class RequestStats:
    """Counters for the run log; thread-safe."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    errors: int = 0
    bytes_received: int = 0
    seconds: float = 0.0
    # called as ``on_wait(reason, seconds)`` when a wait starts (the run's progress display)
    on_wait: Callable[[str, float], None] | None = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _waits: dict[int, tuple[str, float]] = field(default_factory=dict, repr=False, compare=False)

    def add(self, **deltas: float) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    @contextlib.contextmanager
    def waiting(self, reason: str, seconds: float) -> Iterator[None]:
        """Mark the calling thread as waiting ``seconds`` for ``reason`` ("rate limit", "Retry-After", "backoff",
        "metrics not ready") for the block, and tell ``on_wait``."""
        if self.on_wait is not None and seconds > 0:
            self.on_wait(reason, seconds)
        key = threading.get_ident()
        with self._lock:
            self._waits[key] = (reason, time.monotonic() + seconds)
        try:
            yield
        finally:
            with self._lock:
                self._waits.pop(key, None)

    def current_wait(self) -> tuple[str, float] | None:
        """The longest wait in progress on any thread: (reason, seconds left), or None."""
        with self._lock:
            if not self._waits:
                return None
            reason, until = max(self._waits.values(), key=lambda wait: wait[1])
        return reason, max(0.0, until - time.monotonic())

    def as_dict(self) -> dict[str, float]:
        with self._lock:
            return {"requests": self.requests, "retries": self.retries, "throttled": self.throttled,
                    "errors": self.errors, "bytes_received": self.bytes_received,
                    "seconds": round(self.seconds, 3)}


class RateLimiter:
    """At most ``limit`` requests in any rolling ``period``, shared by every thread.

    A sliding log rather than a token bucket: it never lets a burst exceed the published limit over any window
    the provider may measure, yet sends as soon as a slot frees, so a provider is used at its limit.
    A request taken with ``hold`` keeps its slot while it is in flight and then counts from when its answer
    arrived: the provider admitted it at some moment between our send and its answer, so the next request in
    that slot leaves at least ``period`` after the provider's own count of the first, whatever the latency or
    the scheduling delays on either side. ``margin`` adds a little time per slot for the provider's clock.
    The default ``sleep`` raises ``interrupt.Interrupted`` soon after a stop request.
    """

    def __init__(self, limit: int, period: float, *, margin: float | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = interrupt.sleep) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("rate limit needs limit >= 1 and period > 0")
        self.limit = limit
        self.period = period
        self.margin = period * 0.02 if margin is None else margin
        self._counted: deque[float] = deque()   # when each finished request counts from, oldest first
        self._in_flight = 0
        self._blocked_until = 0.0
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self.stats: RequestStats | None = None    # where waits are reported (set by HttpClient)

    def acquire(self) -> float:
        """Block until a request may start and count it from now; return the seconds waited."""
        with self.hold() as waited:
            return waited

    @contextlib.contextmanager
    def hold(self) -> Iterator[float]:
        """A slot for one request (yields the seconds waited); it counts from when the block ends."""
        waited = self._take()
        try:
            yield waited
        finally:
            with self._lock:
                self._in_flight -= 1
                self._counted.append(self._clock())

    def recent(self) -> list[float]:
        """The wall-clock times (``time.time()``) the requests of the last period count from, oldest first: what a
        next process of the same provider must still count (``seed``)."""
        with self._lock:
            now, wall = self._clock(), time.time()
            return [wall - (now - at) for at in self._counted if now - at < self.period + self.margin]

    def seed(self, sent_at: list[float]) -> None:
        """Count requests another process sent at ``sent_at`` (wall-clock times, as ``recent`` gives them), so
        the two together stay within the limit."""
        with self._lock:
            now, wall = self._clock(), time.time()
            earlier = [now - (wall - at) for at in sent_at if 0 <= wall - at < self.period + self.margin]
            self._counted = deque(sorted([*earlier, *self._counted]))

    def defer(self, seconds: float) -> None:
        """Push every slot back after the provider said 429: nobody starts before ``seconds`` from now."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    def _take(self) -> float:
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                horizon = self.period + self.margin
                while self._counted and now - self._counted[0] >= horizon:
                    self._counted.popleft()
                full = self._in_flight + len(self._counted) >= self.limit
                if now >= self._blocked_until and not full:
                    self._in_flight += 1
                    return waited
                frees = (self._counted[0] + horizon - now) if self._counted else interrupt.SLICE_SECONDS
                delay = max(self._blocked_until - now, frees if full else 0.0)
                reason = "Retry-After" if self._blocked_until - now >= delay else "rate limit"
            if self.stats is not None:
                with self.stats.waiting(reason, delay):
                    self._sleep(delay)
            else:
                self._sleep(delay)
            waited += delay


@dataclass
class HttpResponse:
    """What a provider client gets back: status, parsed JSON (or None) and headers."""

    status: int
    data: Any
    headers: httpx.Headers
    text: str
    path: str


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, given as seconds or as an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# -- per-attempt deadline ---------------------------------------------------------------------------------------


@dataclass
class _Deadline:
    """One attempt's deadline and bookkeeping.

    Attributes:
        at: the monotonic instant the attempt must be over by.
        seconds: the policy's ``timeout_seconds`` (for the message).
        expired: set when the deadline, not a socket error, ended the attempt.
        received: decoded body bytes read so far (counted even when the attempt fails).
    """

    at: float
    seconds: float
    expired: bool = False
    received: int = 0

    @property
    def message(self) -> str:
        return f"deadline of {self.seconds:g}s exceeded"


# The attempt running on this thread. Thread-local rather than a request extension: a network stream is used
# by one thread at a time (sync httpcore), whichever thread the pool hands a kept-alive connection to.
_attempt = threading.local()


def _current_deadline() -> _Deadline | None:
    return getattr(_attempt, "deadline", None)


@contextlib.contextmanager
def _attempt_deadline(deadline: _Deadline) -> Iterator[_Deadline]:
    previous = _current_deadline()
    _attempt.deadline = deadline
    try:
        yield deadline
    finally:
        _attempt.deadline = previous


def _operation_end(timeout: float | None) -> tuple[float, _Deadline | None]:
    """When a socket operation must end: its own timeout or the attempt's deadline, whichever is sooner.

    Returns the monotonic instant and the attempt's deadline when that is the tighter bound (else None).
    """
    own_end = math.inf if timeout is None else time.monotonic() + timeout
    deadline = _current_deadline()
    if deadline is not None and deadline.at <= own_end:
        return deadline.at, deadline
    return own_end, None


def _timed_out(kind: type[httpcore.TimeoutException], deadline: _Deadline | None) -> httpcore.TimeoutException:
    if deadline is None:
        return kind("timed out")
    deadline.expired = True
    return kind(deadline.message)


def _bounded(call: Callable[[float | None], T], timeout: float | None,
             kind: type[httpcore.TimeoutException]) -> T:
    """One socket operation that cannot be resumed half-way (a write, a TLS handshake, a connect), given the
    time left before the attempt's deadline or its own timeout, whichever comes first."""
    interrupt.check()
    end, deadline = _operation_end(timeout)
    left = end - time.monotonic()
    if left <= 0:
        raise _timed_out(kind, deadline)
    try:
        return call(None if math.isinf(left) else left)
    except kind:
        raise _timed_out(kind, deadline) from None


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose reads and writes end by the attempt's deadline and notice stop requests.

    A read blocks at most ``interrupt.SLICE_SECONDS`` at a time and retries until data, the operation's own
    timeout or the deadline: a timed-out ``recv`` consumed nothing, so retrying it is safe (for TLS too). A write
    is not sliced: the stream interface does not say how much of a timed-out write left, so it cannot be resumed;
    it gets one call bounded by the deadline instead (request bodies are small).
    """

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        end, deadline = _operation_end(timeout)
        while True:
            interrupt.check()
            left = end - time.monotonic()
            if left <= 0:
                raise _timed_out(httpcore.ReadTimeout, deadline)
            try:
                return self._stream.read(max_bytes, min(interrupt.SLICE_SECONDS, left))
            except httpcore.ReadTimeout:
                continue

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        _bounded(lambda left: self._stream.write(buffer, left), timeout, httpcore.WriteTimeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(_bounded(lambda left: self._stream.start_tls(ssl_context, server_hostname, left),
                                        timeout, httpcore.ConnectTimeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's sync backend, its connections bounded by the attempt's deadline (see ``_DeadlineStream``)."""

    def __init__(self, backend: httpcore.NetworkBackend | None = None) -> None:
        self._backend = backend or httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return self._connect(lambda left: self._backend.connect_tcp(
            host, port, timeout=left, local_address=local_address, socket_options=socket_options), timeout)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return self._connect(lambda left: self._backend.connect_unix_socket(
            path, timeout=left, socket_options=socket_options), timeout)

    def sleep(self, seconds: float) -> None:
        interrupt.sleep(seconds)

    @staticmethod
    def _connect(connect: Callable[[float | None], httpcore.NetworkStream],
                 timeout: float | None) -> httpcore.NetworkStream:
        # One bounded call, not slices: a half-made TCP connection cannot be resumed.
        return _DeadlineStream(_bounded(connect, timeout, httpcore.ConnectTimeout))


class DeadlineTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` whose connection pool runs on ``_DeadlineBackend``.

    Why: httpx has no total-request timeout. Its timeouts bound each connect / read / write, so a server that
    sends one byte per second (in the headers as well as the body) keeps a request alive forever. The network
    backend is the one place every byte of an exchange passes through in the requesting thread, so the
    per-attempt deadline is applied there, without a watchdog thread. The pool is built as ``HTTPTransport``
    builds it without a proxy (same limits, same SSL context); proxies from the environment keep httpx's own
    transport (``HttpClient`` still checks the deadline between body chunks there).
    """

    def __init__(self, *, limits: httpx.Limits, verify: bool = True, trust_env: bool = True,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        # BaseTransport has no state of its own: HTTPTransport's methods only use ``_pool``.
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(verify=verify, trust_env=trust_env),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=_DeadlineBackend(),
        )


# -- bounded decoding ------------------------------------------------------------------------------------------


class _Inflate:
    """One gzip or deflate layer, inflated in steps of at most ``_DECODE_STEP`` bytes.

    httpx's own decoders inflate a whole network chunk at once: 64 KiB of a gzip bomb become ~64 MiB in one
    call. Here ``max_length`` bounds each step, so the caller can stop at the cap. Like httpx, ``deflate`` falls
    back to a raw deflate stream when the first bytes are not a zlib header, and bytes after the end of the
    stream are ignored.
    """

    def __init__(self, encoding: str) -> None:
        self._deflate = encoding == "deflate"
        self._first = True
        self._z = zlib.decompressobj(zlib.MAX_WBITS if self._deflate else zlib.MAX_WBITS | 16)

    def feed(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        for data in pieces:
            while data and not self._z.eof:
                try:
                    out = self._z.decompress(data, _DECODE_STEP)
                except zlib.error as exc:
                    if self._first and self._deflate:
                        self._first = False
                        self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                        continue
                    raise httpx.DecodingError(str(exc)) from exc
                self._first = False
                data = self._z.unconsumed_tail
                if out:
                    yield out

    def flush(self) -> Iterator[bytes]:
        try:
            out = self._z.flush()
        except zlib.error as exc:  # pragma: no cover - flush after fully fed input does not fail in practice
            raise httpx.DecodingError(str(exc)) from exc
        if out:
            yield out


def _decoded(response: httpx.Response) -> Iterator[bytes]:
    """The answer's body decoded from its ``Content-Encoding``, lazily, in pieces of bounded size."""
    if response.is_stream_consumed:
        # built with its content already read and decoded (a transport's ``httpx.Response(json=...)``)
        return iter((response.content,))
    encodings = [value.strip().lower() for value in response.headers.get_list("content-encoding",
                                                                                split_commas=True)]
    # Encodings are listed in the order they were applied; unknown ones are left as they are, like httpx does.
    layers = [_Inflate(value) for value in reversed(encodings) if value in ("gzip", "deflate")]
    pieces: Iterator[bytes] = response.iter_raw()
    for layer in layers:
        pieces = _chain(layer.feed(pieces), layer)
    return pieces


def _chain(fed: Iterator[bytes], layer: _Inflate) -> Iterator[bytes]:
    yield from fed
    yield from layer.flush()


def _size(n: int) -> str:
    if n >= MIB and n % MIB == 0:
        return f"{n // MIB} MiB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} B"


class HttpClient:
    """A provider's connection: base URL, auth headers, policy, limiter, counters.

    Args:
        provider: the provider slug, used in messages and logs.
        base_url: the provider's base URL; paths are relative to it.
        headers: auth and content headers sent with every request (their values are registered as secrets).
        secrets: further secret strings to mask everywhere.
        policy: timeouts, retries, rate limit, concurrency and the answer size cap.
        is_throttle: says whether a non-429 answer is really throttling (Insider's legacy 403).
        extra_retry: statuses retried a limited number of times, e.g. ``{424: 2}`` (attempts in total).
        transport: used as given (tests: ``httpx.MockTransport``); the default applies the per-attempt deadline
            to every socket operation. With any transport the deadline is also checked between body chunks.
        sleep: waits for backoff and ``Retry-After``; the default raises ``interrupt.Interrupted`` soon after a
            stop request. Injectable for tests.
    """

    def __init__(self, provider: str, base_url: str, *, headers: dict[str, str] | None = None,
                 secrets: Iterable[str] = (), policy: HttpPolicy | None = None, stats: RequestStats | None = None,
                 is_throttle: Callable[[int, str], bool] | None = None,
                 extra_retry: dict[int, int] | None = None,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = interrupt.sleep,
                 auth: Authenticator | None = None) -> None:
        self.provider = provider
        self._auth = auth
        self.policy = policy or HttpPolicy()
        self.stats = stats or RequestStats()
        self._is_throttle = is_throttle
        self._extra_retry = dict(extra_retry or {})
        self._sleep = sleep
        for value in (headers or {}).values():
            if value.lower().startswith(("bearer ", "basic ")):
                register_secret(value.split(" ", 1)[1])
        for secret in secrets:
            register_secret(secret)
        self.limiter = (RateLimiter(self.policy.rate_limit_requests, self.policy.rate_limit_period_seconds)
                        if self.policy.rate_limit_requests else None)
        if self.limiter is not None:
            self.limiter.stats = self.stats
        self._slots = threading.BoundedSemaphore(max(1, self.policy.max_concurrency))
        self._base_url = base_url.rstrip("/")
        self._headers = {"Accept-Encoding": ACCEPT_ENCODING, **(headers or {})}
        self._transport = transport
        # one TLS context for all of them (building one loads the CA certificates)
        self._ssl_context = httpx.create_ssl_context() if transport is None else None
        # one httpx client per request in flight (at most max_concurrency, as the slots allow), each with one
        # keep-alive connection: a client is used by one thread at a time, so threads never queue on the lock of
        # a shared connection pool, which httpcore takes at every request's start and end
        self._idle: list[httpx.Client] = []
        self._clients: list[httpx.Client] = []
        self._clients_lock = threading.Lock()

    def close(self) -> None:
        with self._clients_lock:
            clients, self._clients, self._idle = self._clients, [], []
        for client in clients:
            client.close()

    @contextlib.contextmanager
    def _connection(self) -> Iterator[httpx.Client]:
        """An idle client for one exchange (a new one while fewer exist than requests are in flight)."""
        with self._clients_lock:
            client = self._idle.pop() if self._idle else None
        if client is None:
            client = self._new_client()
        try:
            yield client
        finally:
            with self._clients_lock:
                if client in self._clients:
                    self._idle.append(client)

    def _new_client(self) -> httpx.Client:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        transport = self._transport or DeadlineTransport(limits=limits, ssl_context=self._ssl_context)
        client = httpx.Client(base_url=self._base_url, headers=self._headers, timeout=self.policy.timeout_seconds,
                              limits=limits, transport=transport, follow_redirects=False)
        with self._clients_lock:
            self._clients.append(client)
        return client

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------------------------------

    def get(self, path: str, *, params: dict[str, Any] | None = None) -> HttpResponse:
        return self.request("GET", path, params=params)

    def post(self, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> HttpResponse:
        return self.request("POST", path, params=params, json=json)

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                json: Any = None) -> HttpResponse:
        """Send one logical request, retrying what is transient; return any final non-retried answer.

        Raises:
            TransientHttpError: 5xx, timeouts, missed deadlines or dropped connections outlasted
                ``max_attempts`` tries, or 429s outlasted ``max_throttled_attempts``.
            ResponseTooLarge: the answer is larger than ``max_response_bytes`` (not retried).
            interrupt.Interrupted: a stop was requested (before an attempt, during one, or while waiting).
        """
        attempt = failures = throttles = 0
        extra_used: dict[int, int] = {}
        renewed = False
        while True:
            interrupt.check()
            attempt += 1
            auth_headers = self._auth.headers() if self._auth is not None else {}
            failure: str
            retry_after: float | None = None
            response: httpx.Response | None = None
            with self._slot(), (self.limiter.hold() if self.limiter is not None else contextlib.nullcontext()):
                interrupt.check()
                started = time.monotonic()
                deadline = _Deadline(started + self.policy.timeout_seconds, self.policy.timeout_seconds)
                try:
                    with _attempt_deadline(deadline):
                        response, body = self._exchange(method, path, params, json, deadline, auth_headers)
                except ResponseTooLarge:
                    self.stats.add(requests=1, errors=1, bytes_received=deadline.received,
                                   seconds=time.monotonic() - started)
                    raise
                except (httpx.TimeoutException, httpx.TransportError) as exc:
                    self.stats.add(requests=1, errors=1, bytes_received=deadline.received,
                                   seconds=time.monotonic() - started)
                    failure = deadline.message if deadline.expired else _transport_failure(exc)
                    failures += 1
                    self._log_attempt(method, path, failure, started, attempt)
                else:
                    self.stats.add(requests=1, bytes_received=len(body), seconds=time.monotonic() - started)
                    self._log_attempt(method, path, f"HTTP {response.status_code}", started, attempt)
            if response is not None:
                status = response.status_code
                text = body.decode(_charset(response.headers), errors="replace")
                throttled = status == 429 or (self._is_throttle is not None and self._is_throttle(status, text))
                if throttled:
                    self.stats.add(throttled=1)
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    if retry_after is None:
                        retry_after = self.policy.default_retry_after_seconds
                    retry_after = min(retry_after, self.policy.max_retry_after_seconds)
                    if self.limiter is not None:
                        self.limiter.defer(retry_after)
                    failure = f"HTTP {status} (throttled)"
                    throttles += 1
                elif status in RETRYABLE_STATUSES:
                    self.stats.add(errors=1)
                    failure = f"HTTP {status}"
                    failures += 1
                elif status == 401 and self._auth is not None and not renewed and self._auth.renew(auth_headers):
                    renewed = True       # the token expired or was revoked: renewed once, tried again at once
                    log.info(redact(f"{self.provider}: {method} {path} HTTP 401; credentials renewed, trying again"))
                    continue
                elif status in self._extra_retry and extra_used.get(status, 1) < self._extra_retry[status]:
                    extra_used[status] = extra_used.get(status, 1) + 1
                    failure = f"HTTP {status}"
                    failures += 1
                else:
                    return HttpResponse(status=status, data=_json_or_none(body), headers=response.headers,
                                        text=text, path=path)
            if failures >= self.policy.max_attempts or throttles >= self.policy.max_throttled_attempts:
                raise TransientHttpError(
                    self.provider,
                    redact(f"{self.provider}: {method} {path} still failing after {attempt} attempts ({failure})"),
                    endpoint=path, status=None if response is None else response.status_code)
            wait_seconds = retry_after if retry_after is not None else self._backoff(max(failures, 1))
            reason = "Retry-After" if retry_after is not None else "backoff"
            self.stats.add(retries=1)
            log.info(redact(f"{self.provider}: {method} {path} {failure}; retry {attempt} in {wait_seconds:.2f}s "
                            f"({reason})"))
            with self.stats.waiting(reason, wait_seconds):
                self._sleep(wait_seconds)

    def _log_attempt(self, method: str, path: str, result: str, started: float, attempt: int) -> None:
        """``-v``: one line per attempt (the path only: query strings may carry keys; every secret masked)."""
        if log.isEnabledFor(logging.INFO):
            log.info(redact(f"{self.provider}: {method} {path.split('?', 1)[0]} {result} "
                            f"{time.monotonic() - started:.3f}s attempt {attempt}"))

    def paginate(self, method: str, path: str, paginator: Paginator, *,
                 items: Callable[[HttpResponse, int], list[Any]], params: dict[str, Any] | None = None,
                 json: dict[str, Any] | None = None, what: str = "the list") -> Iterator[Page]:
        """Every page of one listing, as ``paginator`` walks it (see ``sources.common.paging``).

        Args:
            items: reads one answer (and its page number): returns the page's items, or raises the provider's
                error for an answer it cannot use (refused credentials, a malformed envelope).
            params, json: what every page sends besides the paginator's own parameters.
            what: the listing, for the message when it does not end.

        Raises:
            ProviderError: the listing did not end after ``paginator.max_pages`` pages.
        """
        request = PageRequest(dict(params or {}), dict(json) if json is not None else None)
        paginator.init_request(request)
        for number in range(paginator.max_pages):
            sent = request.sent()
            response = self.request(method, path, params=request.params or None, json=request.json)
            page_items = items(response, number)
            paginator.update_state(response.data, page_items)
            yield Page(items=page_items, data=response.data, sent=sent, number=number)
            if not paginator.has_next_page:
                return
            paginator.update_request(request)
        raise ProviderError(self.provider, f"{self.provider}: {what} did not end after {paginator.max_pages} pages.",
                            endpoint=path)

    @contextlib.contextmanager
    def _slot(self) -> Iterator[None]:
        """One of the ``max_concurrency`` slots; waiting for it notices a stop request like any other wait."""
        while not self._slots.acquire(timeout=interrupt.SLICE_SECONDS):
            interrupt.check()
        try:
            yield
        finally:
            self._slots.release()

    def _exchange(self, method: str, path: str, params: dict[str, Any] | None, json: Any,
                  deadline: _Deadline, headers: dict[str, str] | None = None) -> tuple[httpx.Response, bytes]:
        """One attempt: send, then read the decoded body in bounded pieces (closed response, body bytes).

        Raises:
            ResponseTooLarge: ``Content-Length`` or the decoded bytes so far exceed ``max_response_bytes``.
            httpx.ReadTimeout: the deadline passed between two body chunks (any transport).
        """
        with self._connection() as client:
            return self._exchange_on(client, method, path, params, json, deadline, headers)

    def _exchange_on(self, client: httpx.Client, method: str, path: str, params: dict[str, Any] | None, json: Any,
                     deadline: _Deadline, headers: dict[str, str] | None) -> tuple[httpx.Response, bytes]:
        cap = self.policy.max_response_bytes
        request = client.build_request(method, path, params=params, json=json, headers=headers or None)
        response = client.send(request, stream=True)
        try:
            declared = _content_length(response.headers)
            if declared is not None and declared > cap:
                raise self._too_large(method, path, response.status_code)
            chunks: list[bytes] = []
            for piece in _decoded(response):
                deadline.received += len(piece)
                if deadline.received > cap:
                    raise self._too_large(method, path, response.status_code)
                chunks.append(piece)
                # the default transport already stops inside a read; this covers any transport given to us
                interrupt.check()
                if time.monotonic() >= deadline.at:
                    deadline.expired = True
                    raise httpx.ReadTimeout(deadline.message, request=request)
        finally:
            response.close()
        return response, b"".join(chunks)

    def _too_large(self, method: str, path: str, status: int) -> ResponseTooLarge:
        return ResponseTooLarge(redact(f"{self.provider}: the answer to {method} {path} is larger than the "
                                       f"{_size(self.policy.max_response_bytes)} cap (max_response_bytes)"),
                                status=status)

    def _backoff(self, attempt: int) -> float:
        """Jittered exponential backoff: uniform(c/2, c) with c = min(max, base * 2**(attempt-1))."""
        ceiling = min(self.policy.backoff_max_seconds, self.policy.backoff_base_seconds * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    # -- concurrency ------------------------------------------------------------------------------------------

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """Apply ``fn`` to items on up to ``max_concurrency`` threads, yielding results in input order.

        The rate limiter is shared by the threads, so concurrency fills the provider's budget instead of
        sleeping request by request. Work is streamed: at most ``2 * max_concurrency`` items are submitted ahead
        of the result being yielded, so neither the items nor their results pile up in memory however many there
        are. The first exception of any worker (``interrupt.Interrupted`` included) is raised at once, not when
        its result is reached: the queued items are cancelled, the running ones end on their own (they notice a
        stop request themselves).
        """
        workers = max(1, self.policy.max_concurrency)
        if workers == 1:
            for item in items:
                yield fn(item)
            return
        # completes with the first failed future: waiting on (next result, alarm) stays O(1) per item
        alarm: Future[Future[R]] = Future()

        def on_done(future: Future[R]) -> None:
            if not future.cancelled() and future.exception() is not None:
                with contextlib.suppress(Exception):  # InvalidStateError: an earlier failure was first
                    alarm.set_result(future)

        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{self.provider}-http")
        queue: deque[Future[R]] = deque()
        source = iter(items)
        ahead = 2 * workers

        def refill() -> None:
            for item in itertools.islice(source, ahead - len(queue)):
                future = pool.submit(fn, item)
                future.add_done_callback(on_done)
                queue.append(future)

        abandon = False
        try:
            refill()
            while queue:
                future = queue[0]
                while not future.done():
                    pending: list[Future[Any]] = [future, alarm]
                    wait(pending, timeout=interrupt.SLICE_SECONDS, return_when=FIRST_COMPLETED)
                    if alarm.done():
                        break
                    interrupt.check()
                if alarm.done():
                    alarm.result().result()  # raises the failed worker's exception
                queue.popleft()
                result = future.result()
                refill()
                yield result
        except GeneratorExit:
            raise
        except interrupt.Interrupted:
            # after a stop request the running workers notice it within a slice: waiting for them is short
            abandon = interrupt.requested() is None
            raise
        except BaseException:
            abandon = True
            raise
        finally:
            # A worker's failure is raised without waiting for the others (they end with their own request); a
            # finished, stopped or closed map waits for its workers, so none outlives its caller unnoticed.
            for future in queue:
                future.cancel()
            pool.shutdown(wait=not abandon, cancel_futures=True)


def _transport_failure(exc: BaseException) -> str:
    """A dropped connection or timeout said in words (``ConnectError`` -> "connection failed")."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "connection failed"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection dropped"
    return "network error"


def _charset(headers: httpx.Headers) -> str:
    """The ``charset`` of the answer's ``Content-Type`` when Python knows it, else UTF-8 (what httpx's
    ``Response.encoding`` answers too, at a fraction of its cost: it parses the header as an e-mail message)."""
    for param in headers.get("Content-Type", "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            value = value.strip().strip("'\"")
            try:
                return codecs.lookup(value).name
            except LookupError:
                break
    return "utf-8"


def _content_length(headers: httpx.Headers) -> int | None:
    value = headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _json_or_none(body: bytes) -> Any:
    """The answer as Python's json reads it (NaN, big ints and all; the raw layer sanitizes), or None."""
    if not body:
        return None
    try:
        return jsonlib.loads(body)
    except (ValueError, RecursionError):
        return None
