"""Providers side by side: a run's wall time against its slowest provider alone and against the serial sum.

The five demo simulators are served on loopback, Insider at its published 30 requests per minute (its few dozen
requests then take about a minute: the limit binds). Three nightlies of the same dataset, each against fresh
simulators (so no rate budget carries over) and into a fresh warehouse:

1. serial: the providers one after another (``PROVIDERS_IN_PARALLEL=1``), each provider's seconds and their sum;
2. the slowest provider of the serial run alone (``--provider``);
3. side by side: every provider at once (the default).

Printed: the wall time of each, the per-provider seconds, and the ratios side by side / slowest alone and
side by side / serial sum. Figures of one run, never assertions.

    .venv/bin/python bench/side_by_side.py [--period 60]

``--period`` shortens Insider's minute (on the simulator and in the loader's limiter) for a quicker look.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import pendulum  # noqa: E402

from pipelines.demo import demo_simulators  # noqa: E402
from pipelines.runner import Progress, RunResult, load  # noqa: E402


def nightly(now: pendulum.DateTime, folder: Path, period: float, *, parallel: int | None = None,
            providers: list[str] | None = None) -> tuple[float, RunResult]:
    """One nightly against fresh simulators into a fresh warehouse: (wall seconds, result)."""
    if parallel is None:
        os.environ.pop("PROVIDERS_IN_PARALLEL", None)
    else:
        os.environ["PROVIDERS_IN_PARALLEL"] = str(parallel)
    with demo_simulators(now) as apps:
        for app in apps.values():
            if getattr(app, "limit", None) is not None:
                app.limit.period = period
        quiet = Progress(quiet=os.environ.get("BENCH_VERBOSE") != "1")
        started = time.monotonic()
        result = load(warehouse=folder / "w.duckdb", mode="nightly", providers=providers, progress=quiet)
        return time.monotonic() - started, result


def seconds(result: RunResult) -> dict[str, float]:
    return {o.provider: (o.finished_at - o.started_at).total_seconds() if o.finished_at else float("nan")
            for o in result.outcomes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
            runs[label] = nightly(now, folder, args.period, **kwargs)
            print(f"{label:>14}: {runs[label][0]:6.1f} s", flush=True)
        per_provider = seconds(runs["serial"][1])
        slowest = max(per_provider, key=lambda p: per_provider[p])
        for label, kwargs in ((f"{slowest} alone", {"providers": [slowest]}), ("side by side", {})):
            folder = Path(tmp) / label.replace(" ", "_")
            folder.mkdir()
            runs[label] = nightly(now, folder, args.period, **kwargs)
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
