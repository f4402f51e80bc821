"""The shared HTTP layer: retries, Retry-After, limiter rate, concurrency, counters and redaction; the
per-attempt deadline against dripping servers, the answer size cap and stopping within a second."""

from __future__ import annotations

import email.utils
import gzip
import logging
import signal
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator

import httpx
import pytest

from core import interrupt
from core.errors import ResponseTooLarge, TransientHttpError
from core.redact import RedactingFilter, redact, register_secret
from simulators.base import Faults, Response, SimApp
from sources.common.http import HttpClient, HttpPolicy, RateLimiter, parse_retry_after

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


@pytest.mark.parametrize(("content_type", "text"), [
    ("text/plain; charset=ISO-8859-1", "caf\u00e9"),            # the declared charset
    ("text/plain; Charset=\"latin-1\"", "caf\u00e9"),           # any case, quoted
    ("text/plain", "caf\ufffd"),                                  # none declared: UTF-8
    ("text/plain; charset=no-such-charset", "caf\ufffd"),         # one Python does not know: UTF-8
])
def test_an_answer_is_decoded_by_its_declared_charset_else_as_utf8(content_type: str, text: str) -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(400, content="caf\u00e9".encode("latin-1"),
                                       headers={"Content-Type": content_type}))
    assert client(transport).get("/x").text == text


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
    for t in starts:
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


def test_a_held_slot_counts_from_its_answer_so_latency_never_packs_the_provider_window() -> None:
    # The provider counts a request when it reaches it, anywhere between our send and its answer: with a slot
    # counted from the answer, the request that reuses it leaves a whole period after the provider's count.
    clock = FakeClock()
    limiter = RateLimiter(2, 10.0, margin=0.0, clock=clock, sleep=clock.sleep)
    with limiter.hold():
        clock.now += 3.0            # a slow answer
    limiter.acquire()               # the second slot is free at once
    assert clock.now == pytest.approx(3.0)
    limiter.acquire()               # the first slot frees 10 s after its answer, not after its send
    assert clock.now == pytest.approx(13.0)


class Counting(SimApp):
    """A tiny loopback API that records when requests arrive."""

    def __init__(self) -> None:
        super().__init__(faults=Faults())
        self.arrivals: list[float] = []
        self.threads_seen: set[int] = set()
        # the server serves each connection on a thread of its own, named with a counter that never repeats
        self.connections: set[str] = set()
        self.lock = threading.Lock()

        def answer(request):
            with self.lock:
                self.arrivals.append(time.monotonic())
                self.threads_seen.add(threading.get_ident())
                self.connections.add(threading.current_thread().name)
            time.sleep(0.05)
            return Response(200, {"ok": True})

        self.route("GET", "/item/(?P<i>\\d+)", lambda request, i: answer(request))


def test_limiter_and_concurrency_against_a_real_server(serve) -> None:
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


def test_requests_in_flight_keep_at_most_max_concurrency_connections_alive(serve) -> None:
    app = Counting()
    server = serve(app)
    with HttpClient("counting", server.url, policy=HttpPolicy(max_concurrency=3)) as http:
        results = list(http.map(lambda i: http.get(f"/item/{i}").data, range(30)))
        assert http.get("/item/99").data == {"ok": True}   # the caller's own thread, after the workers
    assert results == [{"ok": True}] * 30
    assert 1 < len(app.connections) <= 3, f"31 requests, 3 in flight at most: {sorted(app.connections)}"


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


# -- deadline, size cap, stops --------------------------------------------------------------------------------

# tiny backoff: the bound asserted below is the deadline's, not the retry wait's
DEADLINE = HttpPolicy(timeout_seconds=1.0, max_attempts=2, backoff_base_seconds=0.01, backoff_max_seconds=0.02,
                      max_concurrency=1)


class Echo(SimApp):
    """A loopback API with an answer of about ``size`` bytes at /item and a counter of what arrived."""

    def __init__(self, size: int = 80, faults: Faults | None = None) -> None:
        super().__init__(faults=faults or Faults())
        self.route("GET", "/item", lambda request: Response(200, {"data": "x" * size}))


@pytest.fixture
def stop_after() -> Iterator[Callable[[float], list[float]]]:
    """``stop_after(s)`` asks the run to stop (as SIGTERM would) from a timer thread; cleared after the test."""
    timers: list[threading.Timer] = []
    fired: list[float] = []

    def _schedule(seconds: float) -> list[float]:
        def fire() -> None:
            fired.append(time.monotonic())
            interrupt.request_stop(signal.SIGTERM)

        timer = threading.Timer(seconds, fire)
        timer.daemon = True
        timer.start()
        timers.append(timer)
        return fired

    yield _schedule
    for timer in timers:
        timer.cancel()
    interrupt.clear()


@pytest.mark.parametrize("drip_headers", [False, True], ids=["body", "headers"])
def test_a_dripping_answer_fails_at_the_deadline_and_is_retried_like_a_timeout(serve,
                                                                              drip_headers: bool) -> None:
    # ~90 bytes at 0.25 s each: the answer would take ~20 s, each attempt gets 1 s
    app = Echo(faults=Faults(share_drip=1.0, drip_interval=0.25, drip_headers=drip_headers))
    server = serve(app)
    started = time.monotonic()
    with HttpClient("dripper", server.url, policy=DEADLINE) as http, pytest.raises(TransientHttpError) as info:
        http.get("/item")
    elapsed = time.monotonic() - started
    assert app.request_count("/item") == 2
    assert elapsed < 8.0, f"a dripping server kept the request alive for {elapsed:.1f}s"
    assert "after 2 attempts (deadline of 1s exceeded)" in str(info.value)
    stats = http.stats.as_dict()
    assert stats["requests"] == 2 and stats["errors"] == 2 and stats["retries"] == 1


def test_the_deadline_is_also_checked_between_chunks_of_a_given_transport() -> None:
    def slow_chunks() -> Iterator[bytes]:
        while True:
            time.sleep(0.1)
            yield b" "

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=slow_chunks())

    started = time.monotonic()
    with pytest.raises(TransientHttpError, match="deadline of 1s exceeded"):
        client(httpx.MockTransport(handler), DEADLINE).get("/x")
    assert len(seen) == 2 and time.monotonic() - started < 8.0


def test_an_answer_above_the_cap_with_content_length_is_refused_once(serve) -> None:
    app = Echo(size=5_000)
    server = serve(app)
    policy = HttpPolicy(max_response_bytes=1_000, max_attempts=3)
    with HttpClient("greenarrow", server.url, policy=policy) as http, pytest.raises(ResponseTooLarge) as info:
        http.get("/item")
    assert app.request_count("/item") == 1
    assert str(info.value) == ("greenarrow: the answer to GET /item is larger than the 1000 B cap "
                               "(max_response_bytes)")
    assert http.stats.as_dict()["requests"] == 1 and http.stats.as_dict()["retries"] == 0


def test_an_answer_above_the_cap_without_content_length_stops_being_read() -> None:
    produced: list[int] = []

    def chunks() -> Iterator[bytes]:
        for i in range(1_000):
            produced.append(i)
            yield b"[" + b"1," * 50 + b"1]"

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=chunks())   # an iterator: chunked, no Content-Length

    policy = HttpPolicy(max_response_bytes=1_000, max_attempts=3)
    with pytest.raises(ResponseTooLarge, match="larger than the 1000 B cap"):
        client(httpx.MockTransport(handler), policy).get("/x")
    assert len(seen) == 1
    assert len(produced) < 20, "reading stopped as soon as the cap was passed"


def test_a_gzip_bomb_is_refused_while_inflating_and_gzip_answers_are_decoded() -> None:
    bomb = gzip.compress(b"0" * (50 * 1024 * 1024))   # 50 MiB of zeros in ~50 KiB
    answers = {"/bomb": (bomb, "gzip"), "/gzip": (gzip.compress(b'{"ok": true}'), "gzip"),
               "/zlib": (zlib.compress(b'{"ok": 1}'), "deflate"),
               "/raw-deflate": (zlib.compress(b'{"ok": 2}')[2:-4], "deflate")}

    def handler(request: httpx.Request) -> httpx.Response:
        body, encoding = answers[request.url.path]
        return httpx.Response(200, content=iter([body]), headers={"Content-Encoding": encoding})

    http = client(httpx.MockTransport(handler), HttpPolicy(max_response_bytes=1024 * 1024))
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLarge, match="larger than the 1 MiB cap"):
            http.get("/bomb")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the bomb arrives as one 50 KiB chunk: inflating it at once would hold 50 MiB
    assert peak < 8 * 1024 * 1024, f"inflating the bomb peaked at {peak / 2**20:.1f} MiB"
    assert http.stats.as_dict()["bytes_received"] <= 1024 * 1024 + 64 * 1024
    assert http.get("/gzip").data == {"ok": True}
    assert http.get("/zlib").data == {"ok": 1}
    assert http.get("/raw-deflate").data == {"ok": 2}


def test_json_is_read_as_python_reads_it() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b'{"a": NaN, "b": 123456789012345678901234567890, "c": "\\u00e9"}')

    response = client(httpx.MockTransport(handler)).get("/x")
    assert response.data["b"] == 123456789012345678901234567890 and response.data["a"] != response.data["a"]
    assert response.data["c"] == "\u00e9" and "NaN" in response.text
    assert client(httpx.MockTransport(lambda r: httpx.Response(200, content=b"not json"))).get("/x").data is None


def test_a_stop_request_ends_a_rate_limit_wait(stop_after) -> None:
    transport, seen = scripted()
    policy = HttpPolicy(rate_limit_requests=1, rate_limit_period_seconds=30.0, max_concurrency=1)
    http = HttpClient("limited", "http://provider.test", policy=policy, transport=transport)
    http.get("/x")
    fired = stop_after(0.3)
    with pytest.raises(interrupt.Interrupted) as info:
        http.get("/x")
    assert time.monotonic() - fired[0] < 1.0
    assert info.value.exit_code == 143 and len(seen) == 1


def test_a_stop_request_ends_a_retry_after_wait(serve, stop_after) -> None:
    app = Echo(faults=Faults(burst_429=5, retry_after=30.0))
    server = serve(app)
    with HttpClient("throttled", server.url, policy=HttpPolicy(max_concurrency=1)) as http:
        fired = stop_after(0.3)
        with pytest.raises(interrupt.Interrupted):
            http.get("/item")
        assert time.monotonic() - fired[0] < 1.0
    assert app.request_count("/item") == 1


def test_a_stop_request_ends_a_dripping_read(serve, stop_after) -> None:
    app = Echo(faults=Faults(share_drip=1.0, drip_interval=0.2))
    server = serve(app)
    with HttpClient("dripper", server.url, policy=HttpPolicy(timeout_seconds=30.0, max_concurrency=1)) as http:
        fired = stop_after(0.5)
        with pytest.raises(interrupt.Interrupted):
            http.get("/item")
        assert time.monotonic() - fired[0] < 1.0
    assert app.request_count("/item") == 1


def test_map_raises_a_worker_failure_at_once_and_cancels_the_queue() -> None:
    started: list[int] = []
    http = client(scripted()[0], HttpPolicy(max_concurrency=2))

    def work(i: int) -> int:
        started.append(i)
        if i == 1:
            time.sleep(0.05)
            raise interrupt.Interrupted(signal.SIGTERM)
        interrupt.sleep(0.5 if i == 0 else 0.05)
        return i

    begun = time.monotonic()
    with pytest.raises(interrupt.Interrupted):
        list(http.map(work, range(50)))
    assert time.monotonic() - begun < 0.4, "raised before item 0 was done, not when its turn came"
    time.sleep(0.6)
    assert len(started) < 50, "queued items were cancelled"


def test_a_stopped_simulator_does_not_wait_for_a_dripping_answer(serve) -> None:
    app = Echo(faults=Faults(share_drip=1.0, drip_interval=0.5, drip_headers=True))
    server = serve(app)
    http = HttpClient("dripper", server.url, policy=HttpPolicy(timeout_seconds=30.0, max_attempts=1))
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            http.get("/item")
        except BaseException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    while app.request_count("/item") == 0:
        time.sleep(0.01)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.0
    caller.join(timeout=5)
    http.close()
    assert not caller.is_alive(), "the client saw the cut answer end the connection"
    assert len(outcome) == 1 and isinstance(outcome[0], TransientHttpError)


def test_a_stopped_map_returns_after_its_workers_and_the_stop_outlives_the_command(stop_after) -> None:
    """A stop during a rate-limit wait: ``map`` raises once every worker has ended, and the stop request is
    still set after the command's signal handlers are gone, so no worker left waiting keeps the process alive
    (the interpreter joins worker threads at exit)."""
    http = client(scripted()[0], HttpPolicy(max_concurrency=4))
    started: list[int] = []
    ended: list[int] = []

    def work(i: int) -> int:
        started.append(i)
        try:
            interrupt.sleep(30)
        finally:
            ended.append(i)
        return i

    with interrupt.handling_signals():
        stop_after(0.3)
        begun = time.monotonic()
        with pytest.raises(interrupt.Interrupted):
            list(http.map(work, range(20)))
    assert time.monotonic() - begun < 2.0
    assert len(ended) == len(started) < 20, "every started worker had ended when map raised"
    assert interrupt.requested() == signal.SIGTERM
