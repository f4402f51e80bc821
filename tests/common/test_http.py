"""The shared HTTP layer: retries, Retry-After, limiter rate, concurrency, counters and redaction."""

from __future__ import annotations

import email.utils
import logging
import threading
import time

import httpx
import pytest

from simulators.base import Faults, Response, SimApp
from sources.common.errors import TransientHttpError
from sources.common.http import HttpClient, HttpPolicy, RateLimiter, parse_retry_after
from sources.common.redact import RedactingFilter, redact, register_secret

FAST = HttpPolicy(max_attempts=4, backoff_base_seconds=0.01, backoff_max_seconds=0.05, max_concurrency=4)


def scripted(*answers: int | Exception, headers: dict[str, str] | None = None) -> tuple[httpx.MockTransport, list]:
    """A transport that answers the given statuses (or raises the given errors) in turn, then 200."""
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if queue:
            answer = queue.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return httpx.Response(answer, json={"error": answer}, headers=headers or {})
        return httpx.Response(200, json={"ok": True, "n": len(seen)})

    return httpx.MockTransport(handler), seen


def client(transport: httpx.MockTransport, policy: HttpPolicy = FAST, sleeps: list | None = None,
           **kw) -> HttpClient:
    record = sleeps if sleeps is not None else []
    return HttpClient("testprov", "http://provider.test", headers={"Authorization": "Bearer sekrit-token-123"},
                      policy=policy, transport=transport, sleep=record.append, **kw)


def test_retries_5xx_timeouts_and_dropped_connections_then_succeeds() -> None:
    transport, seen = scripted(503, httpx.ConnectError("boom"), httpx.ReadTimeout("slow"), 500)
    sleeps: list[float] = []
    http = client(transport, HttpPolicy(max_attempts=5, backoff_base_seconds=0.01), sleeps)
    response = http.get("/x")
    assert response.status == 200 and response.data == {"ok": True, "n": 5}
    assert len(seen) == 5 and len(sleeps) == 4
    # jittered exponential: attempt k waits within [c/2, c], c = base * 2**(k-1)
    for k, wait in enumerate(sleeps, start=1):
        ceiling = 0.01 * 2 ** (k - 1)
        assert ceiling / 2 <= wait <= ceiling
    stats = http.stats.as_dict()
    assert stats["requests"] == 5 and stats["retries"] == 4 and stats["errors"] == 4


def test_gives_up_after_max_attempts_with_a_redacted_sentence() -> None:
    transport, seen = scripted(*([502] * 10))
    http = client(transport)
    with pytest.raises(TransientHttpError) as info:
        http.get("/campaigns?api_key=sekrit-token-123")
    assert len(seen) == FAST.max_attempts
    assert "sekrit-token-123" not in str(info.value)
    assert "after 4 attempts" in str(info.value)


def test_429_waits_for_retry_after_in_seconds() -> None:
    transport, _ = scripted(429, 429, headers={"Retry-After": "7"})
    sleeps: list[float] = []
    http = client(transport, sleeps=sleeps)
    assert http.get("/x").status == 200
    assert sleeps == [7.0, 7.0]
    assert http.stats.as_dict()["throttled"] == 2


def test_429s_have_their_own_budget_beyond_max_attempts() -> None:
    transport, seen = scripted(*([429] * 12), headers={"Retry-After": "1"})
    sleeps: list[float] = []
    http = client(transport, HttpPolicy(max_attempts=3, max_throttled_attempts=20), sleeps)
    assert http.get("/x").status == 200 and len(seen) == 13 and sleeps == [1.0] * 12
    transport, seen = scripted(*([429] * 12), headers={"Retry-After": "1"})
    with pytest.raises(TransientHttpError, match="throttled"):
        client(transport, HttpPolicy(max_attempts=3, max_throttled_attempts=5)).get("/x")
    assert len(seen) == 5


def test_429_waits_for_retry_after_as_http_date() -> None:
    when = email.utils.formatdate(time.time() + 20, usegmt=True)
    transport, _ = scripted(429, headers={"Retry-After": when})
    sleeps: list[float] = []
    assert client(transport, sleeps=sleeps).get("/x").status == 200
    assert 18.0 <= sleeps[0] <= 20.5


def test_429_without_retry_after_uses_the_provider_default() -> None:
    transport, _ = scripted(429)
    sleeps: list[float] = []
    policy = HttpPolicy(default_retry_after_seconds=60.0, max_attempts=3)
    assert client(transport, policy, sleeps).get("/x").status == 200
    assert sleeps == [60.0]


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    past = email.utils.formatdate(time.time() - 100, usegmt=True)
    assert parse_retry_after(past) == 0.0


def test_non_retryable_status_is_returned_once() -> None:
    transport, seen = scripted(404)
    response = client(transport).get("/missing")
    assert response.status == 404 and len(seen) == 1


def test_extra_retry_retries_a_status_a_limited_number_of_times() -> None:
    transport, seen = scripted(424, 424, 424)
    response = client(transport, extra_retry={424: 2}).post("/m", json={"campaign_id": "1"})
    assert response.status == 424 and len(seen) == 2


def test_is_throttle_turns_a_legacy_403_into_a_wait() -> None:
    transport, seen = scripted(403, headers={"Retry-After": "2"})
    sleeps: list[float] = []
    http = client(transport, sleeps=sleeps, is_throttle=lambda status, text: status == 403 and "403" in text)
    assert http.get("/x").status == 200 and sleeps == [2.0] and len(seen) == 2


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_rate_limiter_keeps_every_rolling_period_within_the_limit_at_full_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(30, 60.0, margin=0.0, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(95):
        limiter.acquire()
        starts.append(clock.now)
    for i, t in enumerate(starts):
        assert sum(1 for s in starts if t <= s < t + 60.0) <= 30, f"window at {t} over limit"
    # full rate: 95 requests at 30/min need exactly 3 full periods before the last batch
    assert starts[-1] == pytest.approx(180.0)


def test_rate_limiter_defer_blocks_everyone_until_the_provider_allows() -> None:
    clock = FakeClock()
    limiter = RateLimiter(5, 1.0, margin=0.0, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    limiter.defer(10.0)
    limiter.acquire()
    assert clock.now == pytest.approx(10.0)


class Counting(SimApp):
    """A tiny loopback API that records when requests arrive."""

    def __init__(self) -> None:
        super().__init__(faults=Faults())
        self.arrivals: list[float] = []
        self.threads_seen: set[int] = set()
        self.lock = threading.Lock()

        def answer(request):  # noqa: ANN001
            with self.lock:
                self.arrivals.append(time.monotonic())
                self.threads_seen.add(threading.get_ident())
            time.sleep(0.05)
            return Response(200, {"ok": True})

        self.route("GET", "/item/(?P<i>\\d+)", lambda request, i: answer(request))


def test_limiter_and_concurrency_against_a_real_server(serve) -> None:  # noqa: ANN001
    app = Counting()
    server = serve(app)
    policy = HttpPolicy(rate_limit_requests=10, rate_limit_period_seconds=1.0, max_concurrency=4)
    with HttpClient("counting", server.url, policy=policy) as http:
        results = list(http.map(lambda i: http.get(f"/item/{i}").data, range(25)))
    assert results == [{"ok": True}] * 25
    arrivals = sorted(app.arrivals)
    # every rolling period holds at most the limit (50 ms allowed for loopback jitter between client and server)
    for t in arrivals:
        assert sum(1 for s in arrivals if t <= s < t + 1.0 - 0.05) <= 10
    assert arrivals[-1] - arrivals[0] >= 2.0, "25 requests at 10 per second need two full periods"
    assert max(len(app.threads_seen), 1) > 1, "requests ran on several threads at once"


def test_redaction_masks_secrets_in_messages_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    register_secret("42:very-secret-key")
    text = redact("auth 42:very-secret-key and key very-secret-key and Basic NDI6dmVyeS1zZWNyZXQta2V5 "
                  "and Bearer abcdef123456 and ?api_key=zzz999")
    assert "very-secret-key" not in text and "abcdef123456" not in text and "zzz999" not in text
    assert "NDI6dmVyeS1zZWNyZXQta2V5" not in text
    logger = logging.getLogger("campaign_etl.test")
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    try:
        with caplog.at_level(logging.INFO, logger="campaign_etl.test"):
            logger.warning("calling with %s", "42:very-secret-key")
    finally:
        logger.removeHandler(handler)
    assert all("very-secret-key" not in r.getMessage() for r in caplog.records)
