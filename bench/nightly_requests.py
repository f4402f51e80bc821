"""Requests of consecutive nightlies on the demo simulators: what the settle policy saves.

The five demo simulators are served on loopback (Insider's limit shortened to 30 requests per second, so the
figures come quickly; the counts do not depend on it) and three nightlies run into one fresh warehouse:

1. the first run (``make demo``'s nightly: the whole range from ``start_date``);
2. the nightly after it: no window has settled yet (a window settles once two pulls agree,
   ``pipelines/ledger.py``), but campaigns that ended before the lookback and drafts are left unprobed;
3. the nightly after that: the lookback without the settled windows and campaigns;
4. one more with ``--recheck``: the whole lookback with the policy off, which is what every nightly cost before
   the settle policy.

Printed per provider: requests of each and the ratio of the second nightly to the policy-off one (3 / 4); whether
the fact still equals each simulator's truth is what the test suite checks. Figures of one run, never assertions.

    .venv/bin/python bench/nightly_requests.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import pendulum  # noqa: E402

from pipelines.demo import demo_simulators  # noqa: E402
from pipelines.progress import Progress  # noqa: E402
from pipelines.runner import RunResult, load  # noqa: E402


def requests_by_provider(result: RunResult) -> dict[str, int]:
    return {o.provider: int(o.stats.get("requests", 0)) for o in result.outcomes}


def main() -> int:
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "CRITICAL")   # as the CLI does without --verbose
    os.environ["SOURCES__INSIDER__RATE_LIMIT_PERIOD_SECONDS"] = "1"
    counts = []
    with demo_simulators(pendulum.now("UTC")) as apps, tempfile.TemporaryDirectory(prefix="nightly-bench-") as tmp:
        for app in apps.values():
            if getattr(app, "limit", None) is not None:
                app.limit.period = 1.0
        warehouse = Path(tmp) / "w.duckdb"
        quiet = Progress(quiet=os.environ.get("BENCH_VERBOSE") != "1")
        runs = [("first run", False), ("nightly 1", False), ("nightly 2", False), ("nightly --recheck", True)]
        for label, recheck in runs:
            result = load(warehouse=warehouse, mode="nightly", progress=quiet, recheck=recheck)
            counts.append(requests_by_provider(result))
            settled = {o.provider: o.windows_settled for o in result.outcomes}
            print(f"{label:>18}: " + ", ".join(f"{p} {n} ({settled[p]} settled windows skipped)"
                                              for p, n in counts[-1].items()), flush=True)
    first, second, third, recheck = counts
    print(f"\n{'provider':>12} {'first':>7} {'night 1':>7} {'night 2':>7} {'recheck':>8} {'night 2/recheck':>16}")
    for provider in first:
        ratio = third[provider] / recheck[provider] if recheck[provider] else float("nan")
        print(f"{provider:>12} {first[provider]:>7} {second[provider]:>7} {third[provider]:>7} "
              f"{recheck[provider]:>8} {ratio:>15.2f}x")
    total = [sum(c.values()) for c in counts]
    print(f"{'all':>12} {total[0]:>7} {total[1]:>7} {total[2]:>7} {total[3]:>8} {total[2] / max(total[3], 1):>15.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
