"""What a nightly's publish costs at 1x and 10x history, for each target (the DuckDB file and PostgreSQL).

Two GreenArrow accounts with the same campaigns per day, one over ``--days`` days (1x) and one over ten times as
many (10x), are each loaded whole by a first run into a fresh warehouse with a fresh PostgreSQL database as its
target (a throwaway server on loopback, simulators/local_postgres.py). Then the counts rise (``grow``) and a nightly
with a short lookback runs: the same change at both sizes. Printed per size: the fact rows of history, the fact rows
the nightly changed, and the nightly's publish time and volume for each target (the DuckDB file: the copy renamed
over it, and its size; PostgreSQL: the rows sent in its one transaction). Figures of one run, never assertions.

    .venv/bin/python bench/publish_cost.py [--per-day 10] [--days 30] [--lookback 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import pendulum  # noqa: E402

from pipelines import postgres  # noqa: E402
from pipelines.progress import Progress  # noqa: E402
from pipelines.runner import load  # noqa: E402
from pipelines.warehouse import WorkArea  # noqa: E402
from simulators import local_postgres  # noqa: E402
from simulators.base import SimServer  # noqa: E402
from simulators.greenarrow import GreenArrowSim  # noqa: E402

LISTS = 2


def timed(owner: Any, name: str, spent: list[float], results: list[Any]) -> Callable[[], None]:
    """Wrap ``owner.name`` to note the seconds and the result of each call; returns the undo."""
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        result = original(*args, **kwargs)
        spent.append(time.monotonic() - started)
        results.append(result)
        return result

    setattr(owner, name, wrapper)
    return lambda: setattr(owner, name, original)


def measure(server: local_postgres.LocalPostgres, folder: Path, *, days: int, per_day: int,
            lookback: int) -> dict[str, Any]:
    now = pendulum.now("UTC")
    sim = GreenArrowSim(now=now, lists=LISTS, campaigns_per_list=max(1, days * per_day // LISTS), days=days,
                        links_per_campaign=10, max_links=600)
    warehouse = folder / "w.duckdb"
    quiet = Progress(quiet=os.environ.get("BENCH_VERBOSE") != "1")
    with SimServer(sim) as served:
        os.environ.update(sim.loader_env(served.url))
        os.environ["DESTINATION__POSTGRES__CREDENTIALS"] = server.new_database()
        os.environ["SOURCES__GREENARROW__LINK_STATS_PER_PAGE"] = "500"
        os.environ["SOURCES__GREENARROW__START_DATE"] = now.subtract(days=days + 1).to_date_string()
        load(warehouse=warehouse, mode="nightly", progress=quiet)   # the first run: the whole history
        sim.grow()
        os.environ["SOURCES__GREENARROW__LOOKBACK_DAYS"] = str(lookback)
        duck_seconds: list[float] = []
        pg_seconds: list[float] = []
        pg_results: list[Any] = []
        undo = [timed(WorkArea, "publish", duck_seconds, []), timed(postgres, "publish", pg_seconds, pg_results)]
        try:
            result = load(warehouse=warehouse, mode="nightly", progress=quiet)
        finally:
            for step in undo:
                step()
            os.environ.pop("SOURCES__GREENARROW__LOOKBACK_DAYS", None)
    outcome = result.outcomes[0]
    return {"history": outcome.fact_rows_total, "changed": outcome.fact_rows_changed,
            "duck_s": duck_seconds[-1], "duck_mb": warehouse.stat().st_size / 2**20,
            "pg_s": pg_seconds[-1], "pg_rows": pg_results[-1].rows_sent, "sent": pg_results[-1].sent}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-day", type=int, default=10, help="campaigns started per day")
    parser.add_argument("--days", type=int, default=30, help="days of history at 1x")
    parser.add_argument("--lookback", type=int, default=3, help="the nightly's lookback_days")
    args = parser.parse_args()
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "CRITICAL")
    figures = {}
    with local_postgres.running() as server, tempfile.TemporaryDirectory(prefix="publish-cost-") as tmp:
        for scale in (1, 10):
            folder = Path(tmp) / f"x{scale}"
            folder.mkdir()
            figures[scale] = measure(server, folder, days=args.days * scale, per_day=args.per_day,
                                     lookback=args.lookback)
            f = figures[scale]
            print(f"{scale:>3}x history: {f['history']:>9,} fact rows; the nightly changed {f['changed']:,}; "
                  f"publish: DuckDB file {f['duck_s']:.2f} s ({f['duck_mb']:.1f} MB), "
                  f"PostgreSQL {f['pg_s']:.2f} s ({f['pg_rows']:,} rows sent: "
                  + ", ".join(f"{name} {rows:,}" for name, rows in f["sent"].items() if rows) + ")", flush=True)
    one, ten = figures[1], figures[10]
    print(f"10x / 1x: history {ten['history'] / max(one['history'], 1):.1f}x, change "
          f"{ten['changed'] / max(one['changed'], 1):.2f}x; publish DuckDB file {ten['duck_s'] / one['duck_s']:.2f}x, "
          f"PostgreSQL {ten['pg_s'] / one['pg_s']:.2f}x (rows sent {ten['pg_rows'] / max(one['pg_rows'], 1):.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
