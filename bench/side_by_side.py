"""Providers side by side: a run's wall time against its slowest provider alone and against the serial sum.

The five demo simulators are served on loopback, Insider's with a larger account (``--insider-campaigns``, over
the whole range) at its published 30 requests per minute: its backfill then needs a few minutes of rate budget, so
its limit binds. Three backfills of the same range, each against fresh simulators (so no rate budget carries
over) and into a fresh warehouse:

1. serial: the providers one after another (``PROVIDERS_IN_PARALLEL=1``), each provider's seconds and their sum;
2. the slowest provider of the serial run alone (``--provider``);
3. side by side: every provider at once (the default).

Printed: the wall time of each, the per-provider seconds, and the ratios side by side / slowest alone and
side by side / serial sum, and for each run Insider's seconds against the bound its limit sets,
``(ceil(requests / 30) - 1) x period``. Figures of one run, never assertions.

    .venv/bin/python bench/side_by_side.py [--days 60] [--insider-campaigns 40] [--period 60]

``--period`` shortens Insider's minute (on the simulator and in the loader's limiter) for a quicker look.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import pendulum  # noqa: E402

from pipelines.demo import demo_simulators  # noqa: E402
from pipelines.progress import Progress  # noqa: E402
from pipelines.runner import RunResult, load  # noqa: E402
from simulators.base import SimServer  # noqa: E402
from simulators.insider import InsiderSim  # noqa: E402

INSIDER_LIMIT = 30  # requests per period: Insider's published limit


def backfill(now: pendulum.DateTime, days: int, folder: Path, period: float, insider_campaigns: int, *,
             parallel: int | None = None, providers: list[str] | None = None) -> tuple[float, RunResult]:
    """A backfill of the last ``days`` against fresh simulators into a fresh warehouse: (wall seconds, result)."""
    if parallel is None:
        os.environ.pop("PROVIDERS_IN_PARALLEL", None)
    else:
        os.environ["PROVIDERS_IN_PARALLEL"] = str(parallel)
    insider = InsiderSim(now=now, seed=5, campaigns=insider_campaigns, days=days)
    with demo_simulators(now), SimServer(insider) as server:
        os.environ.update(insider.loader_env(server.url))
        insider.limit.period = period
        quiet = Progress(quiet=os.environ.get("BENCH_VERBOSE") != "1")
        started = time.monotonic()
        result = load(warehouse=folder / "w.duckdb", mode="backfill", providers=providers, progress=quiet,
                      start=now.subtract(days=days).date(), end=now.date(), now=now)
        return time.monotonic() - started, result


def seconds(result: RunResult) -> dict[str, float]:
    return {o.provider: (o.finished_at - o.started_at).total_seconds() if o.finished_at else float("nan")
            for o in result.outcomes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60, help="the backfill's range, ending today")
    parser.add_argument("--insider-campaigns", type=int, default=40, help="campaigns of the Insider account")
    parser.add_argument("--period", type=float, default=60.0, help="Insider's rate limit period in seconds")
    args = parser.parse_args()
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "CRITICAL")   # as the CLI does without --verbose
    os.environ["SOURCES__INSIDER__RATE_LIMIT_PERIOD_SECONDS"] = str(args.period)
    now = pendulum.now("UTC")
    with tempfile.TemporaryDirectory(prefix="side-by-side-") as tmp:
        runs: dict[str, tuple[float, RunResult]] = {}
        for label, kwargs in (("serial", {"parallel": 1}),):
            folder = Path(tmp) / label
            folder.mkdir()
            runs[label] = backfill(now, args.days, folder, args.period, args.insider_campaigns, **kwargs)
            print(f"{label:>14}: {runs[label][0]:6.1f} s", flush=True)
        per_provider = seconds(runs["serial"][1])
        slowest = max(per_provider, key=lambda p: per_provider[p])
        for label, kwargs in ((f"{slowest} alone", {"providers": [slowest]}), ("side by side", {})):
            folder = Path(tmp) / label.replace(" ", "_")
            folder.mkdir()
            runs[label] = backfill(now, args.days, folder, args.period, args.insider_campaigns, **kwargs)
            print(f"{label:>14}: {runs[label][0]:6.1f} s", flush=True)
    together = seconds(runs["side by side"][1])
    print(f"\n{'provider':>12} {'serial s':>9} {'side by side s':>15} {'requests':>9}")
    for provider, spent in per_provider.items():
        requests = next(int(o.stats.get("requests", 0)) for o in runs["side by side"][1].outcomes
                        if o.provider == provider)
        print(f"{provider:>12} {spent:>9.1f} {together.get(provider, float('nan')):>15.1f} {requests:>9}")
    serial_sum = sum(per_provider.values())
    wall = runs["side by side"][0]
    alone = runs[f"{slowest} alone"][0]
    print(f"\nserial sum of providers {serial_sum:.1f} s (serial run wall {runs['serial'][0]:.1f} s); "
          f"{slowest} alone {alone:.1f} s; side by side {wall:.1f} s")
    print(f"side by side / slowest alone: {wall / alone:.2f}x; side by side / serial sum: {wall / serial_sum:.2f}x")
    for label, (_, result) in runs.items():  # Insider against its physical limit (30 requests per period)
        insider = next((o for o in result.outcomes if o.provider == "insider"), None)
        if insider is None or insider.finished_at is None:
            continue
        sent = int(insider.stats.get("requests", 0))
        bound = (math.ceil(sent / INSIDER_LIMIT) - 1) * args.period
        spent = (insider.finished_at - insider.started_at).total_seconds()
        ratio = f"{spent / bound:.2f}x" if bound > 0 else "n/a (one period's budget)"
        print(f"insider {label}: {sent} requests in {spent:.1f} s; its limit's bound "
              f"(ceil({sent} / {INSIDER_LIMIT}) - 1) x {args.period:g} s = {bound:.0f} s; {ratio} "
              f"(target: at most 1.1x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
