"""Helpers for tests: read the published warehouse as a BI tool would. Import as ``from helpers import ...``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, NoReturn

import duckdb
import pendulum
import pytest

from pipelines.warehouse import raw_reader
from simulators import experiture, greenarrow, insider, parrot, shoplive

EXE = Path(sys.executable).with_name("campaign-etl")
_CLEAN_ENV = ("SOURCES__", "START_DATE", "DESTINATION__", "CAMPAIGN_ETL_", "LOOKBACK_DAYS", "WINDOW_DAYS")


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a scheduler's child process: this one's, without provider config, plus ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(_CLEAN_ENV)}
    return {**base, **(env or {})}


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The installed ``campaign-etl`` run as a scheduler would: a child process in ``cwd``."""
    return subprocess.run([str(EXE), *map(str, args)], cwd=cwd, env=cli_env(env), capture_output=True, text=True,
                          timeout=timeout)


def one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    """The single line a refused command prints on stderr (fails on a traceback or several lines)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    return lines[0]


def query(path: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` against the published warehouse, read-only (as a BI tool would); a query of ``raw.``
    tables reads the providers' raw stores beside it (``pipelines.warehouse.raw_reader``)."""
    if re.search(r"\braw\.", sql):
        with raw_reader(path) as con:
            return con.execute(sql, params or []).fetchall()
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def fact(path: Path, provider: str, *, with_period: bool = False) -> dict[tuple[Any, ...], float]:
    """One provider's fact rows as (account, campaign, breakdown_type, breakdown_value, metric) -> value;
    with ``with_period`` the key ends with period_start (for date-range providers). Fails on duplicate keys."""
    rows = query(path, "select account_id, campaign_id, breakdown_type, breakdown_value, metric, value, "
                       "period_start from analytics.fact_campaign_metrics where provider = ?", [provider])
    out: dict[tuple[Any, ...], float] = {}
    for account, campaign, btype, bvalue, metric, value, period_start in rows:
        key: tuple[Any, ...] = (account, campaign, btype, bvalue, metric)
        if with_period:
            key = (*key, period_start)
        assert key not in out, f"duplicate fact row {key}"
        out[key] = value
    return out


def campaigns_requested(log: list[tuple[Any, ...]], suffix: str) -> set[str]:
    """The campaign ids of a simulator's logged requests to ``.../<campaign id>/<suffix>``."""
    return {path.split("/")[-2] for _, _, path, _ in log if path.endswith(f"/{suffix}")}


def three_runs(run_cli: Any, warehouse: Path, sim: Any, suffix: str) -> tuple[set[str], set[str]]:
    """Run the loader three times; the campaigns the second and the third asked for at ``.../<id>/<suffix>``
    (what a settle policy leaves out shows in the third)."""
    asked: list[set[str]] = []
    for _ in range(3):
        mark = len(sim.log)
        assert run_cli("run", "--warehouse", warehouse) == 0
        asked.append(campaigns_requested(sim.log[mark:], suffix))
    return asked[1], asked[2]


def five_simulators(configure: Any) -> dict[str, Any]:
    """The five simulators, small, served and configured; Insider's scaled minute long enough that its limit
    binds for a few seconds while the others load."""
    now = pendulum.now("UTC")
    sims: dict[str, Any] = {
        "greenarrow": greenarrow.GreenArrowSim(now=now, lists=2, campaigns_per_list=5, days=30, max_links=600),
        "insider": insider.InsiderSim(now=now, rate_period=2.0, campaigns=8, days=40),
        "shoplive": shoplive.ShopliveSim(now=now, campaigns=8, days=20),
        "experiture": experiture.ExperitureSim(now=now, campaigns=10, days=30, journeys=False),
        "parrot": parrot.ParrotSim(now=now, campaigns=8, warmth="fresh", refresh_delay=0.1),
    }
    starts = {"greenarrow": 40, "insider": 45, "shoplive": 25, "experiture": 40, "parrot": 70}
    for name, sim in sims.items():
        configure(sim, start_days=starts[name])
    return sims


def unavailable(reason: str, remedy: str) -> NoReturn:
    """A real component a test needs (a PostgreSQL server, a browser) is missing: under ``CI=true`` a failure that
    says ``remedy``, since a suite that skipped it there proves nothing; elsewhere a skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; {remedy}", pytrace=False)
    pytest.skip(reason)


def demo_copy(built: tuple[Path, subprocess.CompletedProcess[str]], tmp_path_factory: pytest.TempPathFactory,
              name: str) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A copy of the session's demo folder (published warehouse, work area and raw stores, report) for one module:
    what a module does to its warehouse (another run, a rebuild) no other module sees."""
    warehouse, result = built
    folder = tmp_path_factory.mktemp(name)
    shutil.copytree(warehouse.parent, folder, dirs_exist_ok=True)
    return folder / warehouse.name, result
