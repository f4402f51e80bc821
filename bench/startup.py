"""Fixed overhead: the CLI's start-up, and a nightly with nothing new, as whole ``campaign-etl`` commands.

The five simulators are served on loopback with no campaign at all (every rate limit raised out of the way), so
a nightly's requests answer at once and its wall time is the loader's own overhead: imports, configuration,
the ledger, dlt's pipeline steps, the transforms, the checks, the publish. Each command runs as a child process
and is measured by ``os.wait4``: wall time, CPU (user + system) and peak RSS.

1. ``campaign-etl --help`` and ``status`` (start-up alone);
2. the first ``run`` (creates the stores and the warehouse);
3. ``run`` again, ``--repeat`` times: the nightly with nothing new (the figure the target is about).

Figures of one run, never assertions.

    .venv/bin/python bench/startup.py [--repeat 3] [--providers greenarrow ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from simulators.base import SimApp, SimServer  # noqa: E402
from simulators.experiture import ExperitureSim  # noqa: E402
from simulators.greenarrow import GreenArrowSim  # noqa: E402
from simulators.insider import InsiderSim  # noqa: E402
from simulators.parrot import ParrotSim  # noqa: E402
from simulators.shoplive import ShopliveSim  # noqa: E402

CLI = Path(sys.executable).with_name("campaign-etl")


def empty_simulators(now: dt.datetime) -> dict[str, SimApp]:
    """Every provider's simulator with no campaign, show or post."""
    return {
        "greenarrow": GreenArrowSim(now=now, campaigns_per_list=0),
        "insider": InsiderSim(now=now, campaigns=0, rate_limit=100_000),
        "shoplive": ShopliveSim(now=now, campaigns=0),
        "parrot": ParrotSim(now=now, campaigns=0),
        "experiture": ExperitureSim(now=now, campaigns=0),
    }


def measure(argv: list[str], env: dict[str, str], cwd: Path) -> dict[str, float]:
    """Run one command; its wall time, CPU seconds and peak RSS (MiB), and its exit status."""
    started = time.monotonic()
    child = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    errors = child.stderr.read().decode(errors="replace").strip() if child.stderr else ""
    if child.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(argv[1:])} exited {child.returncode}: {errors.splitlines()[-1:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024,
            "code": child.returncode}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="nightlies with nothing new after the first run")
    parser.add_argument("--providers", nargs="+", help="only these providers (default: all five)")
    args = parser.parse_args()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    apps = {name: app for name, app in empty_simulators(now).items()
            if not args.providers or name in args.providers}
    servers = [SimServer(app).start() for app in apps.values()]
    tmp = Path(tempfile.mkdtemp(prefix="startup-bench-"))
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
        env.update({"CAMPAIGN_ETL_QUIET": "1", "RUNTIME__DLTHUB_TELEMETRY": "false"})
        start = (now - dt.timedelta(days=14)).strftime("%Y-%m-%d")
        for (name, app), server in zip(apps.items(), servers, strict=True):
            env.update(app.loader_env(server.url))
            env[f"SOURCES__{name.upper()}__START_DATE"] = start
            env[f"SOURCES__{name.upper()}__RATE_LIMIT_REQUESTS"] = "100000"
        (tmp / ".dlt").mkdir()
        warehouse = ["--warehouse", str(tmp / "w.duckdb")]
        rows: list[tuple[str, dict[str, float]]] = [
            ("--help", measure([str(CLI), "--help"], env, tmp)),
            ("first run", measure([str(CLI), "run", *warehouse], env, tmp)),
        ]
        nightlies = [measure([str(CLI), "run", *warehouse], env, tmp) for _ in range(args.repeat)]
        rows += [(f"nightly {i}", r) for i, r in enumerate(nightlies, 1)]
        rows.append(("status", measure([str(CLI), "status", *warehouse], env, tmp)))
        requests = sum(app.request_count() for app in apps.values())
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"providers: {', '.join(apps)} (empty simulators on loopback); {requests} requests answered in all")
    print(f"{'command':>12} {'wall':>7} {'cpu':>7} {'peak RSS':>9}")
    for label, r in rows:
        print(f"{label:>12} {r['wall']:>6.2f}s {r['cpu']:>6.2f}s {r['rss']:>5.0f} MiB")
    wall = statistics.median(r["wall"] for r in nightlies)
    print(f"nightly with nothing new: median {wall:.2f} s wall over {len(nightlies)} "
          f"(target: at most 1.5 s of overhead)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
