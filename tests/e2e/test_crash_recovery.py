"""A run killed with SIGKILL at any step of a load converges on the next run: nothing lost, nothing stuck.

Each test lets ``crash_run.py`` kill the real command at one step (see its table), checks that the published
warehouse is still the previous complete state, then runs the command again and compares the fact with the
simulator's truth, and the window ledger with raw.
"""

from __future__ import annotations

import datetime as dt
import itertools
import signal
import subprocess
import sys
from pathlib import Path

import pendulum
import pytest
from helpers import cli, cli_env, fact, query

from simulators.greenarrow import DEFAULT_CREDENTIALS, GreenArrowSim
from simulators.shoplive import ShopliveSim, make_jwt

NOW = pendulum.now("UTC")
CRASH = Path(__file__).with_name("crash_run.py")
STEPS = ["request:3", "request:20", "normalize", "commit", "halfmove", "load", "complete", "ledger", "transform",
         "publish"]


def crash(step: str, *args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, str(CRASH), step, *args], cwd=cwd, env=cli_env(env),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == -signal.SIGKILL, f"the run was not killed at {step}: {result.stderr}"
    return result


@pytest.fixture
def greenarrow(serve, tmp_path: Path) -> tuple[GreenArrowSim, dict[str, str]]:
    sim = GreenArrowSim(now=NOW, lists=2, campaigns_per_list=6, days=60, max_links=650)
    server = serve(sim)
    env = {"SOURCES__GREENARROW__BASE_URL": server.url, "SOURCES__GREENARROW__API_KEY": DEFAULT_CREDENTIALS,
           "START_DATE": NOW.subtract(days=70).to_date_string(), "SOURCES__GREENARROW__LINK_STATS_PER_PAGE": "200",
           # a nightly re-pulls every campaign: growth reaches even the oldest a little (the simulator's curves are
           # asymptotic), so with the default 30 days the truth would depend on where the week grid puts "now"
           "SOURCES__GREENARROW__LOOKBACK_DAYS": "70"}
    return sim, env


def published_state(warehouse: Path) -> list[tuple]:
    return query(warehouse, "select * from analytics.fact_campaign_metrics order by all")


def assert_ledger_agrees_with_raw(warehouse: Path) -> None:
    not_done = query(warehouse, "select count(*) from etl.window_ledger where account_id = '*' and status <> 'done'")
    assert not_done == [(0,)]
    without_rows = query(warehouse, """
        select count(*) from etl.window_ledger as l
        where l.provider = 'greenarrow' and l.account_id <> '*' and l.status = 'done'
          and not exists (select 1 from raw.greenarrow_fetches as f
                          where f.endpoint = 'list_campaigns' and f.account_id = l.account_id
                            and cast(f.window_start as timestamp) = l.window_start)""")
    assert without_rows == [(0,)], "every window the ledger calls done has its pull in raw"


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS)
def test_a_kill_during_a_later_run_keeps_the_published_state_and_converges(
        step: str, greenarrow, tmp_path: Path) -> None:
    sim, env = greenarrow
    warehouse = tmp_path / "w.duckdb"
    assert cli("run", "--warehouse", warehouse, cwd=tmp_path, env=env).returncode == 0
    before = published_state(warehouse)
    sim.grow(2)
    crash(step, "run", "--warehouse", str(warehouse), cwd=tmp_path, env=env)
    assert published_state(warehouse) == before, "a killed run publishes nothing"
    resumed = cli("run", "--warehouse", warehouse, cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr
    if step in ("normalize", "commit", "halfmove", "load", "complete"):  # a kill mid-request leaves dlt nothing
        assert "repaired what an interrupted run left" in resumed.stderr
    assert fact(warehouse, "greenarrow") == sim.truth_fact_rows()
    assert_ledger_agrees_with_raw(warehouse)
    assert not list(tmp_path.glob(".w.duckdb.publishing-*")), "the temp file of a killed publish is removed"


@pytest.mark.slow
@pytest.mark.parametrize("step", ["request:3", "normalize", "commit", "load", "ledger", "publish"])
def test_a_kill_during_the_first_backfill_converges_on_its_rerun(step: str, greenarrow,
                                                                 tmp_path: Path) -> None:
    sim, env = greenarrow
    warehouse = tmp_path / "w.duckdb"
    start, end = NOW.subtract(days=60).to_date_string(), NOW.to_date_string()
    crash(step, "backfill", "--start", start, "--end", end, "--warehouse", str(warehouse), cwd=tmp_path, env=env)
    resumed = cli("backfill", "--start", start, "--end", end, "--warehouse", warehouse, cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr.count("requests so far") >= 1, "the rerun extracted its windows, not only the package"
    assert fact(warehouse, "greenarrow") == sim.truth_fact_rows(
        started_from=pendulum.parse(start).start_of("week"))
    assert_ledger_agrees_with_raw(warehouse)


def test_a_package_half_moved_by_dlt_no_longer_blocks_the_provider(greenarrow, tmp_path: Path) -> None:
    sim, env = greenarrow
    warehouse = tmp_path / "w.duckdb"
    crash("commit", "run", "--warehouse", str(warehouse), cwd=tmp_path, env=env)
    pipeline = tmp_path / ".w.duckdb.etl" / "dlt" / "campaign_etl_greenarrow"
    extracted = list((pipeline / "normalize" / "extracted").iterdir())
    normalized = list((pipeline / "load" / "normalized").iterdir())
    assert {p.name for p in extracted} & {p.name for p in normalized}, "the state of a kill inside dlt's commit"
    for _ in range(2):
        result = cli("run", "--warehouse", warehouse, cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        assert "Directory not empty" not in result.stderr
    assert fact(warehouse, "greenarrow") == sim.truth_fact_rows()


@pytest.mark.slow
@pytest.mark.parametrize("step", ["normalize", "load", "complete", "transform"])
def test_a_windowed_provider_killed_mid_load_has_each_period_once(step: str, serve, tmp_path: Path) -> None:
    sim = ShopliveSim(now=NOW, campaigns=10, days=28)
    server = serve(sim)
    env = {"SOURCES__SHOPLIVE__BASE_URL": server.url, "SOURCES__SHOPLIVE__ACCESS_KEY": sim.access_key,
           "SOURCES__SHOPLIVE__API_TOKEN": make_jwt(sim.access_key, sim.secret_b64),
           "START_DATE": NOW.subtract(days=30).to_date_string(),
           "SOURCES__SHOPLIVE__RATE_LIMIT_PERIOD_SECONDS": "0.05"}
    warehouse = tmp_path / "w.duckdb"
    crash(step, "run", "--warehouse", str(warehouse), cwd=tmp_path, env=env)
    sim.grow()
    assert cli("run", "--warehouse", warehouse, cwd=tmp_path, env=env).returncode == 0
    loaded = fact(warehouse, "shoplive", with_period=True)   # fails on a duplicate (campaign, metric, period)
    windows = query(warehouse, "select window_start, window_end, status from etl.window_ledger "
                               "where provider = 'shoplive' and account_id = '*' order by window_start")
    assert {w[2] for w in windows} == {"done"}
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(windows)), "windows never overlap"
    utc = dt.UTC
    truth = sim.truth_fact_rows([(a.replace(tzinfo=utc), b.replace(tzinfo=utc), None) for a, b, _ in windows])
    assert loaded == pytest.approx(truth)


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage"])
def test_a_damaged_work_file_is_rebuilt_from_the_published_warehouse(damage: str, greenarrow,
                                                                      tmp_path: Path) -> None:
    sim, env = greenarrow
    warehouse = tmp_path / "w.duckdb"
    assert cli("run", "--warehouse", warehouse, cwd=tmp_path, env=env).returncode == 0
    work = tmp_path / ".w.duckdb.etl" / "work.duckdb"
    content = work.read_bytes()
    work.write_bytes({"truncated": content[: len(content) // 3], "empty": b"",
                      "garbage": b"this is not a database\n" * 100}[damage])
    sim.grow()
    result = cli("run", "--warehouse", warehouse, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    notices = [line for line in result.stderr.splitlines() if "was damaged" in line]
    assert len(notices) == 1 and "rebuilt from the published w.duckdb" in notices[0]
    assert "held by another process" not in result.stderr
    assert fact(warehouse, "greenarrow") == sim.truth_fact_rows()


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_raw_store_is_set_aside_and_pulled_again(damage: str, greenarrow, tmp_path: Path) -> None:
    sim, env = greenarrow
    warehouse = tmp_path / "w.duckdb"
    assert cli("run", "--warehouse", warehouse, cwd=tmp_path, env=env).returncode == 0
    stores = tmp_path / ".w.duckdb.etl" / "stores"
    store = stores / "greenarrow.duckdb"
    content = store.read_bytes()
    store.write_bytes({"truncated": content[: len(content) // 3], "garbage": b"not a database\n" * 100}[damage])
    sim.grow()
    result = cli("run", "--warehouse", warehouse, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    notices = [line for line in result.stderr.splitlines() if "was damaged" in line]
    assert len(notices) == 1 and "its windows are pulled again" in notices[0], result.stderr
    assert [p.name for p in stores.glob("greenarrow.duckdb.damaged-*")], "the damaged store is kept aside"
    assert fact(warehouse, "greenarrow") == sim.truth_fact_rows()
    assert_ledger_agrees_with_raw(warehouse)


def test_a_seeding_killed_half_way_leaves_no_truncated_work_file(greenarrow, tmp_path: Path) -> None:
    sim, env = greenarrow
    warehouse = tmp_path / "w.duckdb"
    assert cli("run", "--warehouse", warehouse, cwd=tmp_path, env=env).returncode == 0
    work = tmp_path / ".w.duckdb.etl" / "work.duckdb"
    work.unlink()
    crash("seed", "run", "--warehouse", str(warehouse), cwd=tmp_path, env=env)
    assert not work.exists(), "the half-copied seed is a temporary file, never the work file"
    result = cli("run", "--warehouse", warehouse, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / ".w.duckdb.etl" / "work.duckdb.seeding").exists()
    assert fact(warehouse, "greenarrow") == sim.truth_fact_rows()


def test_held_by_another_process_is_said_only_when_true(greenarrow, tmp_path: Path) -> None:
    _, env = greenarrow
    warehouse = tmp_path / "w.duckdb"
    assert cli("run", "--warehouse", warehouse, cwd=tmp_path, env=env).returncode == 0
    work = tmp_path / ".w.duckdb.etl" / "work.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(work)!r}); "
                               "print('open', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        result = cli("run", "--warehouse", warehouse, cwd=tmp_path, env=env)
        assert result.returncode == 1
        assert "is held by another process" in result.stderr and "Traceback" not in result.stderr
    finally:
        holder.kill()
        holder.wait()
