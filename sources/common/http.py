"""The one HTTP layer every provider uses.

It owns what providers must not re-implement: timeouts, bounded retries with jittered exponential backoff on
5xx / timeouts / dropped connections, waiting out 429 (``Retry-After`` in seconds or as an HTTP date), a
proactive rolling-window rate limit shared by all threads of a provider, bounded concurrency, request counting
for the run log and secret redaction. Provider clients only say which path to call and how to read the answer.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from sources.common.errors import TransientHttpError
from sources.common.redact import redact, register_secret

log = logging.getLogger("campaign_etl.http")

T = TypeVar("T")
R = TypeVar("R")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 524})


@dataclass(frozen=True)
class HttpPolicy:
    """How patient one provider's client is. Every field is a config key (see ``.dlt/config.toml``)."""

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


@dataclass
class RequestStats:
    """Counters for the run log; thread-safe."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    errors: int = 0
    bytes_received: int = 0
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **deltas: float) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def as_dict(self) -> dict[str, float]:
        with self._lock:
            return {"requests": self.requests, "retries": self.retries, "throttled": self.throttled,
                    "errors": self.errors, "bytes_received": self.bytes_received,
                    "seconds": round(self.seconds, 3)}


class RateLimiter:
    """At most ``limit`` request starts in any rolling ``period``, shared by every thread.

    A sliding log rather than a token bucket: it never lets a burst exceed the published limit over any window
    the provider may measure, yet sends as soon as a slot frees, so a provider is used at its limit.
    ``margin`` adds a little time per slot to absorb network jitter between our clock and the provider's.
    """

    def __init__(self, limit: int, period: float, *, margin: float | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("rate limit needs limit >= 1 and period > 0")
        self.limit = limit
        self.period = period
        self.margin = period * 0.02 if margin is None else margin
        self._starts: deque[float] = deque()
        self._blocked_until = 0.0
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def acquire(self) -> float:
        """Block until a request may start; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                horizon = self.period + self.margin
                while self._starts and now - self._starts[0] >= horizon:
                    self._starts.popleft()
                full = len(self._starts) >= self.limit
                if now >= self._blocked_until and not full:
                    self._starts.append(now)
                    return waited
                delay = max(self._blocked_until - now, (self._starts[0] + horizon - now) if full else 0.0)
            self._sleep(delay)
            waited += delay

    def defer(self, seconds: float) -> None:
        """Push every slot back after the provider said 429: nobody starts before ``seconds`` from now."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)


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


class HttpClient:
    """A provider's connection: base URL, auth headers, policy, limiter, counters.

    Args:
        provider: the provider slug, used in messages and logs.
        base_url: the provider's base URL; paths are relative to it.
        headers: auth and content headers sent with every request (their values are registered as secrets).
        secrets: further secret strings to mask everywhere.
        policy: timeouts, retries, rate limit and concurrency.
        is_throttle: says whether a non-429 answer is really throttling (Insider's legacy 403).
        extra_retry: statuses retried a limited number of times, e.g. ``{424: 2}`` (attempts in total).
    """

    def __init__(self, provider: str, base_url: str, *, headers: dict[str, str] | None = None,
                 secrets: Iterable[str] = (), policy: HttpPolicy | None = None, stats: RequestStats | None = None,
                 is_throttle: Callable[[int, str], bool] | None = None,
                 extra_retry: dict[int, int] | None = None,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.provider = provider
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
        self._slots = threading.BoundedSemaphore(max(1, self.policy.max_concurrency))
        limits = httpx.Limits(max_connections=max(1, self.policy.max_concurrency),
                              max_keepalive_connections=max(1, self.policy.max_concurrency))
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers or {},
                                    timeout=self.policy.timeout_seconds, limits=limits, transport=transport,
                                    follow_redirects=False)

    def close(self) -> None:
        self._client.close()

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
            TransientHttpError: 5xx, timeouts or dropped connections outlasted ``max_attempts`` tries, or 429s
                outlasted ``max_throttled_attempts``.
        """
        attempt = failures = throttles = 0
        extra_used: dict[int, int] = {}
        while True:
            attempt += 1
            started = time.monotonic()
            failure: str
            retry_after: float | None = None
            with self._slots:
                if self.limiter is not None:
                    self.limiter.acquire()
                try:
                    response = self._client.request(method, path, params=params, json=json)
                    body = response.content
                except (httpx.TimeoutException, httpx.TransportError) as exc:
                    self.stats.add(requests=1, errors=1, seconds=time.monotonic() - started)
                    failure = f"{type(exc).__name__}"
                    failures += 1
                    response = None
                else:
                    self.stats.add(requests=1, bytes_received=len(body), seconds=time.monotonic() - started)
            if response is not None:
                status = response.status_code
                text = response.text
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
                elif status in self._extra_retry and extra_used.get(status, 1) < self._extra_retry[status]:
                    extra_used[status] = extra_used.get(status, 1) + 1
                    failure = f"HTTP {status}"
                    failures += 1
                else:
                    return HttpResponse(status=status, data=_json_or_none(response), headers=response.headers,
                                        text=text, path=path)
            if failures >= self.policy.max_attempts or throttles >= self.policy.max_throttled_attempts:
                raise TransientHttpError(
                    self.provider,
                    redact(f"{self.provider}: {method} {path} still failing after {attempt} attempts ({failure})"),
                    endpoint=path, status=None if response is None else response.status_code)
            wait = retry_after if retry_after is not None else self._backoff(max(failures, 1))
            self.stats.add(retries=1)
            log.info(redact(f"{self.provider}: {method} {path} {failure}; retry {attempt} in {wait:.2f}s"))
            self._sleep(wait)

    def _backoff(self, attempt: int) -> float:
        """Jittered exponential backoff: uniform(c/2, c) with c = min(max, base * 2**(attempt-1))."""
        ceiling = min(self.policy.backoff_max_seconds, self.policy.backoff_base_seconds * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    # -- concurrency ------------------------------------------------------------------------------------------

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """Apply ``fn`` to items on up to ``max_concurrency`` threads, yielding results in input order.

        The rate limiter is shared by the threads, so concurrency fills the provider's budget instead of
        sleeping request by request. Exceptions propagate when their result is reached.
        """
        workers = max(1, self.policy.max_concurrency)
        items = list(items)
        if workers == 1 or len(items) <= 1:
            for item in items:
                yield fn(item)
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{self.provider}-http") as pool:
            futures = [pool.submit(fn, item) for item in items]
            try:
                for future in futures:
                    yield future.result()
            finally:
                for future in futures:
                    future.cancel()


def _json_or_none(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None
