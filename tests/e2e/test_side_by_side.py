"""Providers side by side: in one run (a thread each, a raw store each) and as separate processes on one warehouse.

Side by side lands what one after another lands, every analytics column; a provider's failure stops only it;
processes of different providers load one warehouse at once; two processes of one provider take turns and stay
within its rate limit together.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pendulum
import pytest
from helpers import EXE, cli_env, fact, five_simulators, query

from simulators import greenarrow, insider

NOW = pendulum.now("UTC")
# columns that say when or by which run a row was made, not what it holds: they differ between any two runs
RUN_COLUMNS = {"observed_at", "first_seen_at", "last_seen_at", "run_id", "load_id", "checked_at", "detail"}
# the run log: what each provider's run did, without its timings and its request count (Parrot polls until
# its metrics are ready, so the count depends on timing)
LOAD_RUN_COLUMNS = ("provider", "mode", "outcome", "windows_done", "windows_failed", "error_count",
                    "fact_rows_total")
# the freshness view: what each provider's last run left, without when that was
FRESHNESS_COLUMNS = ("provider", "last_outcome", "fact_rows", "campaigns", "freshness_status")
KEPT = {"load_runs": LOAD_RUN_COLUMNS, "provider_freshness": FRESHNESS_COLUMNS}


def analytics(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table and view of schema analytics, every column but those of ``RUN_COLUMNS``, rows sorted."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with duckdb.connect(str(path), read_only=True) as con:
        relations = [r[0] for r in con.execute("select table_name from information_schema.tables "
                                               "where table_schema = 'analytics' order by 1").fetchall()]
        for name in relations:
            columns = [r[0] for r in con.execute("select column_name from information_schema.columns where "
                                                 "table_schema = 'analytics' and table_name = ? "
                                                 "order by ordinal_position", [name]).fetchall()]
            kept = KEPT.get(name) or [c for c in columns if c not in RUN_COLUMNS]
            rows = con.execute(f"select {', '.join(kept)} from analytics.{name}").fetchall()
            out[name] = sorted(rows, key=repr)
    return out


def test_side_by_side_lands_what_one_after_another_lands(configure, run_cli, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    sims = five_simulators(configure)
    # whole weeks that ended before this one: no window is clamped to the moment of its run
    last_sunday = NOW.start_of("week").subtract(days=1)
    days = ["--start", NOW.subtract(days=40).to_date_string(), "--end", last_sunday.to_date_string()]
    monkeypatch.setenv("PROVIDERS_IN_PARALLEL", "1")
    serial = tmp_path / "serial.duckdb"
    assert run_cli("backfill", *days, "--warehouse", serial) == 0
    monkeypatch.delenv("PROVIDERS_IN_PARALLEL")
    together = tmp_path / "together.duckdb"
    assert run_cli("backfill", *days, "--warehouse", together) == 0

    expected = analytics(serial)
    assert all(expected[name] for name in ("fact_campaign_metrics", "dim_campaign", "campaign_performance"))
    landed = analytics(together)
    for name, rows in expected.items():
        missing, extra = set(rows) - set(landed[name]), set(landed[name]) - set(rows)
        assert not missing and not extra, (name, sorted(missing, key=repr)[:3], sorted(extra, key=repr)[:3])
    assert landed == expected, "every analytics column"
    assert fact(together, "experiture") == sims["experiture"].truth_fact_rows()  # type: ignore[attr-defined]

    def spans(path: Path) -> dict[str, tuple[Any, Any]]:
        return {p: (s, f) for p, s, f in query(path, "select provider, started_at, finished_at "
                                                     "from analytics.load_runs")}

    limited = spans(together)["insider"]   # its limit holds it for seconds: every other ran meanwhile
    assert all(s < limited[1] and limited[0] < f for p, (s, f) in spans(together).items() if p != "insider")
    one_by_one = sorted(spans(serial).values())
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(one_by_one)), "PROVIDERS_IN_PARALLEL=1 is serial"
    stores = sorted(p.name for p in (tmp_path / ".together.duckdb.etl" / "stores").glob("*.duckdb"))
    assert stores == sorted(f"{name}.duckdb" for name in sims), "one raw store per provider"


def test_a_provider_failing_side_by_side_stops_only_that_provider(configure, run_cli, warehouse: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    five_simulators(configure)
    monkeypatch.setenv("SOURCES__SHOPLIVE__API_TOKEN", "not-the-token")
    assert run_cli("run", "--warehouse", warehouse) == 1
    outcomes = dict(query(warehouse, "select provider, outcome from analytics.load_runs"))
    assert outcomes.pop("shoplive") == "failed"
    assert set(outcomes.values()) == {"ok"} and len(outcomes) == 4
    loaded = {p for (p,) in query(warehouse, "select distinct provider from analytics.fact_campaign_metrics")}
    assert loaded == set(outcomes)


def _start(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """The installed command as a scheduler step, with the provider config of this test's environment."""
    config = {k: v for k, v in os.environ.items() if k.startswith("SOURCES__")}
    return subprocess.Popen([str(EXE), *args], cwd=cwd, env=cli_env(config), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = process.communicate(timeout=300)
    return process.returncode, err


def test_processes_of_different_providers_load_one_warehouse_at_once(configure, tmp_path: Path) -> None:
    sims = five_simulators(configure)
    warehouse = tmp_path / "w.duckdb"
    steps = [_start("run", "--provider", name, "--warehouse", str(warehouse), cwd=tmp_path)
             for name in ("insider", "greenarrow", "experiture")]
    for step in steps:
        code, err = _finish(step)
        assert code == 0, err
    runs = query(warehouse, "select provider, started_at, finished_at, outcome from analytics.load_runs")
    assert sorted(r[0] for r in runs) == ["experiture", "greenarrow", "insider"]
    spans = {p: (s, f) for p, s, f, _ in runs}
    assert all(s < spans["insider"][1] for p, (s, _) in spans.items()), "they ran at the same time"
    assert fact(warehouse, "greenarrow") == sims["greenarrow"].truth_fact_rows()  # type: ignore[attr-defined]
    assert fact(warehouse, "experiture") == sims["experiture"].truth_fact_rows()  # type: ignore[attr-defined]
    assert fact(warehouse, "insider", with_period=True) == sims["insider"].truth_fact_rows()  # type: ignore


def test_two_processes_of_one_provider_take_turns_within_its_limit(configure, tmp_path: Path) -> None:
    sim = insider.InsiderSim(now=NOW, rate_period=2.0, campaigns=8, days=40)
    configure(sim, start_days=45)
    warehouse = tmp_path / "w.duckdb"
    first = _start("backfill", "--start", NOW.subtract(days=45).to_date_string(), "--end",
                   NOW.to_date_string(), "--provider", "insider", "--warehouse", str(warehouse), cwd=tmp_path)
    second = _start("run", "--provider", "insider", "--warehouse", str(warehouse), cwd=tmp_path)
    results = [_finish(first), _finish(second)]
    assert [code for code, _ in results] == [0, 0], results
    assert [status for *_, status in sim.log if status == 429] == [], "never above the limit together"
    (_, first_end), (second_start, _) = sorted(
        query(warehouse, "select started_at, finished_at from analytics.load_runs"))
    assert first_end <= second_start, "one after the other"
    assert fact(warehouse, "insider", with_period=True) == sim.truth_fact_rows()


def _held_for(lock: Any, seconds: float) -> threading.Thread:
    """Another holder of ``lock`` (a context manager) for ``seconds``, from a thread; returns once it holds it."""
    taken = threading.Event()

    def hold() -> None:
        with lock:
            taken.set()
            time.sleep(seconds)

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(10)
    return holder


@pytest.mark.parametrize("lock", ["provider", "publishing"])
def test_a_run_waits_for_a_lock_another_run_holds_and_says_so(lock: str, configure, run_cli, warehouse: Path,
                                                             capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.warehouse import WorkArea

    sim = greenarrow.GreenArrowSim(now=NOW, lists=1, campaigns_per_list=4, days=20, max_links=600)
    configure(sim, start_days=25)
    monkeypatch.delenv("CAMPAIGN_ETL_QUIET")
    area = WorkArea(warehouse)
    area.ensure()
    other = _held_for(area.store("greenarrow").loading(print) if lock == "provider" else area.publishing(), 3.0)
    started = time.monotonic()
    assert run_cli("run", "--warehouse", warehouse) == 0
    waited = time.monotonic() - started
    other.join()
    err = capsys.readouterr().err
    said = "another run is loading greenarrow" if lock == "provider" else "another campaign-etl run is transforming"
    assert said in err and "waiting" in err and "Traceback" not in err
    assert waited >= 2.0, "it waited for the holder"
    assert fact(warehouse, "greenarrow") == sim.truth_fact_rows()
