"""The shared limiter at full rate: N requests to a loopback server under a scaled limit (30 per second stands
for Insider's 30 per minute). Prints the time taken against the minimum the limit allows, and the busiest
rolling period seen by the server. Asserts nothing.

    .venv/bin/python bench/rate_limit.py [--requests 150] [--limit 30] [--period 1.0] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import math
import time

from simulators.base import Response, SimApp, SimServer
from sources.common.http import HttpClient, HttpPolicy


class Echo(SimApp):
    name = "echo"

    def __init__(self, latency: float) -> None:
        super().__init__()
        self.route("POST", "/metrics", lambda request: (time.sleep(latency), Response(200, {"ok": True}))[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--period", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    app = Echo(args.latency)
    with SimServer(app) as server:
        policy = HttpPolicy(rate_limit_requests=args.limit, rate_limit_period_seconds=args.period,
                            max_concurrency=args.concurrency)
        with HttpClient("bench", server.url, policy=policy) as http:
            started = time.monotonic()
            list(http.map(lambda i: http.post("/metrics", json={"i": i}), range(args.requests)))
            elapsed = time.monotonic() - started
    arrivals = sorted(t for t, *_ in app.log)
    busiest = max(sum(1 for s in arrivals if t <= s < t + args.period) for t in arrivals)
    minimum = (math.ceil(args.requests / args.limit) - 1) * args.period + args.latency
    print(f"rate limit: {args.requests} requests at {args.limit} per {args.period:g}s, {args.concurrency} in flight")
    print(f"  took {elapsed:.2f}s; the limit itself requires {minimum:.2f}s -> {elapsed / minimum:.3f}x")
    print(f"  busiest rolling {args.period:g}s seen by the server: {busiest} requests (limit {args.limit})")


if __name__ == "__main__":
    main()
