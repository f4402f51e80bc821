"""SIGINT and SIGTERM (Ctrl-C; what cron, systemd and orchestrators send on a timeout) stop a run within seconds,
also while it waits for a rate limit, a retry or a slow answer: exit 130 / 143, one line, nothing published, and
the next run resumes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pendulum
import pytest
from helpers import EXE, cli, cli_env, fact, query

from simulators.base import Faults
from simulators.greenarrow import DEFAULT_CREDENTIALS, GreenArrowSim
from simulators.insider import InsiderSim

NOW = pendulum.now("UTC")


def start(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([str(EXE), *map(str, args)], cwd=cwd, env=cli_env(env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_requests(sim: InsiderSim | GreenArrowSim, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while sim.request_count() < count:
        assert time.monotonic() < deadline, f"the run made only {sim.request_count()} requests"
        time.sleep(0.05)


def stop(process: subprocess.Popen[str], signum: int) -> tuple[int, str, float]:
    """Send ``signum``; return (exit code, stderr, seconds until the process ended)."""
    sent = time.monotonic()
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    return process.returncode, err, time.monotonic() - sent


def last_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    return lines[-1]


@pytest.fixture
def insider(serve) -> tuple[InsiderSim, dict[str, str]]:
    """Insider at its real 30 requests per minute: a backfill of a few weeks waits for the limit."""
    sim = InsiderSim(now=NOW, campaigns=25, days=35)
    server = serve(sim)
    env = {"SOURCES__INSIDER__BASE_URL": server.url, "SOURCES__INSIDER__PARTNER_ID": sim.partner_id,
           "SOURCES__INSIDER__API_KEY": sim.api_key, "START_DATE": NOW.subtract(days=35).to_date_string()}
    return sim, env


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_rate_limit_wait_stops_at_once_and_the_next_run_resumes(
        signum: int, insider, tmp_path: Path) -> None:
    sim, env = insider
    warehouse = tmp_path / "w.duckdb"
    process = start("run", "--warehouse", warehouse, cwd=tmp_path, env=env)
    wait_for_requests(sim, 30)
    time.sleep(1.0)   # now inside the limiter's wait for the next minute
    code, err, seconds = stop(process, signum)
    assert code == 128 + signum
    assert seconds < 5, f"stopping took {seconds:.1f}s"
    line = last_line(err)
    assert f"stopped by {signal.Signals(signum).name}" in line and "nothing was published" in line
    assert not warehouse.exists(), "an interrupted run publishes nothing"
    faster = {**env, "SOURCES__INSIDER__RATE_LIMIT_PERIOD_SECONDS": "1"}
    sim.limit.period = 1.0
    resumed = cli("run", "--warehouse", warehouse, cwd=tmp_path, env=faster)
    assert resumed.returncode == 0, resumed.stderr
    loaded = fact(warehouse, "insider", with_period=True)
    truth = sim.truth_fact_rows()
    assert {k: loaded[k] for k in truth} == pytest.approx(truth)
    runs = query(warehouse, "select outcome, message from analytics.load_runs order by started_at")
    assert runs[0][0] == "interrupted" and signal.Signals(signum).name in runs[0][1]
    assert runs[-1][0] == "ok"


@pytest.mark.slow
def test_sigterm_during_a_retry_backoff_stops_at_once(serve, tmp_path: Path) -> None:
    sim = GreenArrowSim(now=NOW, lists=1, campaigns_per_list=3, days=20, max_links=600,
                        faults=Faults(share_5xx=1.0))
    server = serve(sim)
    env = {"SOURCES__GREENARROW__BASE_URL": server.url, "SOURCES__GREENARROW__API_KEY": DEFAULT_CREDENTIALS,
           "START_DATE": NOW.subtract(days=20).to_date_string(),
           "SOURCES__GREENARROW__BACKOFF_BASE_SECONDS": "30", "SOURCES__GREENARROW__BACKOFF_MAX_SECONDS": "60"}
    warehouse = tmp_path / "w.duckdb"
    process = start("run", "--warehouse", warehouse, cwd=tmp_path, env=env)
    wait_for_requests(sim, 1)
    time.sleep(0.5)
    code, err, seconds = stop(process, signal.SIGTERM)
    assert code == 143 and seconds < 5
    assert "stopped by SIGTERM" in last_line(err)
    assert not warehouse.exists()


@pytest.mark.slow
def test_sigterm_during_a_slow_answer_stops_at_once_and_keeps_the_published_state(
        serve, tmp_path: Path) -> None:
    sim = GreenArrowSim(now=NOW, lists=1, campaigns_per_list=3, days=20, max_links=600)
    server = serve(sim)
    env = {"SOURCES__GREENARROW__BASE_URL": server.url, "SOURCES__GREENARROW__API_KEY": DEFAULT_CREDENTIALS,
           "START_DATE": NOW.subtract(days=20).to_date_string()}
    warehouse = tmp_path / "w.duckdb"
    assert cli("run", "--warehouse", warehouse, cwd=tmp_path, env=env).returncode == 0
    before = query(warehouse, "select * from analytics.fact_campaign_metrics order by all")
    sim.grow()
    sim.set_faults(Faults(share_slow=1.0, slow_seconds=20))
    process = start("run", "--warehouse", warehouse, cwd=tmp_path, env=env)
    time.sleep(3)   # started, and waiting for the first answer (a slow answer is logged only once sent)
    code, err, seconds = stop(process, signal.SIGTERM)
    assert code == 143 and seconds < 5, err
    assert query(warehouse, "select * from analytics.fact_campaign_metrics order by all") == before
    sim.set_faults(Faults())
    assert cli("run", "--warehouse", warehouse, cwd=tmp_path, env=env).returncode == 0
    assert fact(warehouse, "greenarrow") == sim.truth_fact_rows()


@pytest.mark.slow
def test_sigterm_during_a_long_transform_statement_stops_at_once(serve, tmp_path: Path) -> None:
    sim = GreenArrowSim(now=NOW, lists=1, campaigns_per_list=3, days=20, max_links=600)
    server = serve(sim)
    env = {"SOURCES__GREENARROW__BASE_URL": server.url, "SOURCES__GREENARROW__API_KEY": DEFAULT_CREDENTIALS,
           "START_DATE": NOW.subtract(days=20).to_date_string()}
    warehouse = tmp_path / "w.duckdb"
    process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("crash_run.py")), "slowsql", "run",
                                "--warehouse", str(warehouse)], cwd=tmp_path, env=cli_env(env),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if "slow statement started" in line:
            break
    time.sleep(0.5)
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    rest = process.stderr.read()
    process.wait(timeout=60)
    assert process.returncode == 143 and time.monotonic() - sent < 5, "".join(seen) + rest
    assert "stopped by SIGTERM" in last_line(rest) and not warehouse.exists()
    assert cli("run", "--warehouse", warehouse, cwd=tmp_path, env=env).returncode == 0
    assert fact(warehouse, "greenarrow") == sim.truth_fact_rows()
