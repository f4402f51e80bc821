"""What a person or a log watching the installed command sees: progress lines and waits without a terminal,
``-v`` request lines, and ``--dry-run`` plans compared with the run that follows."""

from __future__ import annotations

import re
from pathlib import Path

import pendulum
from helpers import cli, fact

from simulators.base import Faults
from simulators.greenarrow import GreenArrowSim
from simulators.insider import InsiderSim
from sources.common.windows import grid_floor

NOW = pendulum.now("UTC")
REQUEST_LINE = re.compile(r"INFO campaign_etl\.http: (\w+): (GET|POST) (\S+) (HTTP \d{3}|timed out|connection \w+"
                          r"|network error) (\d+\.\d{3})s attempt (\d+)$")


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_without_a_terminal_each_step_and_each_long_wait_is_a_line(tmp_path: Path, serve) -> None:
    sim = InsiderSim(now=NOW, rate_period=60.0, campaigns=4, days=20)
    server = serve(sim)
    # a tighter limit than Insider's own, so that the run waits for it a few times
    env = {**sim.loader_env(server.url), "START_DATE": NOW.subtract(days=21).to_date_string(),
           "SOURCES__INSIDER__RATE_LIMIT_REQUESTS": "4", "SOURCES__INSIDER__RATE_LIMIT_PERIOD_SECONDS": "6"}
    result = cli("run", "--warehouse", tmp_path / "w.duckdb", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert any(re.fullmatch(r"insider: nightly \d+ window\(s\) \S+\.\.\S+", line) for line in lines), lines
    waits = [line for line in lines if line.startswith("insider: waiting ")]
    assert waits, result.stderr
    assert all(re.fullmatch(r"insider: waiting \d+ s for the rate limit \(4 requests per 6 s\); \d+ requests sent, "
                            r"\d+ of \d+ window\(s\) done", line) for line in waits), waits
    # one line per wait, not one per waiting thread; every wait of the run was at least a few seconds long
    assert len(waits) <= len(sim.log) // 4
    assert any(line.startswith("insider: load 1 (") for line in lines) and "published" in result.stderr
    assert "\x1b[" not in result.stderr, "no terminal control codes in a log"
    assert fact(tmp_path / "w.duckdb", "insider", with_period=True) == sim.truth_fact_rows()

    quiet = cli("run", "-q", "--warehouse", tmp_path / "w.duckdb", cwd=tmp_path, env=env)
    assert quiet.returncode == 0 and quiet.stderr == "", "-q silences progress"


def test_a_retry_after_wait_says_so(tmp_path: Path, serve) -> None:
    sim = GreenArrowSim(now=NOW, lists=1, campaigns_per_list=2, days=10, max_links=600,
                        faults=Faults(burst_429=1, retry_after=6))
    server = serve(sim)
    env = {**sim.loader_env(server.url), "START_DATE": NOW.subtract(days=12).to_date_string()}
    result = cli("run", "--warehouse", tmp_path / "w.duckdb", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^greenarrow: waiting 6 s for the provider's Retry-After; 1 requests sent", result.stderr,
                     re.M), result.stderr


def test_verbose_logs_every_request_and_retry_without_a_secret(tmp_path: Path, serve) -> None:
    sim = GreenArrowSim(now=NOW, lists=2, campaigns_per_list=3, days=20, max_links=600,
                        faults=Faults(share_5xx=0.15, seed=11))
    server = serve(sim)
    env = {**sim.loader_env(server.url), "START_DATE": NOW.subtract(days=21).to_date_string(),
           "SOURCES__GREENARROW__BACKOFF_BASE_SECONDS": "0.01", "SOURCES__GREENARROW__MAX_ATTEMPTS": "10"}
    result = cli("run", "--warehouse", tmp_path / "w.duckdb", "-v", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    requests = [m for m in map(REQUEST_LINE.search, result.stderr.splitlines()) if m]
    assert len(requests) == len(sim.log), "one line per request the provider saw"
    assert sorted((m[2], m[3]) for m in requests) == sorted((method, path) for _, method, path, _ in sim.log)
    assert {m[1] for m in requests} == {"greenarrow"}
    failed = [m for m in requests if m[4] != "HTTP 200"]
    assert failed and all(int(m[6]) >= 1 for m in requests)
    assert any(int(m[6]) > 1 for m in requests), "retried attempts are numbered"
    retries = re.findall(r"greenarrow: GET \S+ HTTP 5\d\d; retry \d+ in \d+\.\d+s \(backoff\)", result.stderr)
    assert len(retries) == len(failed)
    secret = env["SOURCES__GREENARROW__API_KEY"]
    assert secret.split(":", 1)[1] not in result.stderr + result.stdout
    assert fact(tmp_path / "w.duckdb", "greenarrow") == sim.truth_fact_rows()


def test_a_dry_run_sends_nothing_and_plans_what_the_run_then_does(tmp_path: Path, serve) -> None:
    sim = GreenArrowSim(now=NOW, lists=2, campaigns_per_list=4, days=40, max_links=600)
    server = serve(sim)
    env = {**sim.loader_env(server.url), "START_DATE": NOW.subtract(days=45).to_date_string()}
    warehouse = tmp_path / "data" / "w.duckdb"
    warehouse.parent.mkdir()
    monday = grid_floor(NOW.subtract(days=35), 7)
    start, end = monday.add(days=2).date(), monday.add(days=17).date()     # neither on the weekly grid
    grid = f"{monday.date()}..{monday.add(days=20).date()}"
    before = _tree(tmp_path)

    dry = cli("backfill", "--start", start, "--end", end, "--dry-run", "--warehouse", warehouse, cwd=tmp_path,
              env=env)
    assert dry.returncode == 0, dry.stderr
    assert sim.log == [], "a dry run sends no request"
    assert _tree(tmp_path) == before, "and writes nothing"
    out = dry.stdout
    assert "no request is sent and nothing is loaded" in out
    assert f"greenarrow: 3 window(s) {grid}" in out
    assert f"the range {start}..{end} is widened to whole 7-day windows: {grid}" in out
    assert re.search(r"at least 3 requests", out), out

    real = cli("backfill", "--start", start, "--end", end, "--warehouse", warehouse, cwd=tmp_path, env=env)
    assert real.returncode == 0, real.stderr
    assert f"greenarrow: backfill 3 window(s) {grid}" in real.stderr
    assert f"greenarrow: the range {start}..{end} is widened to whole 7-day windows: {grid}" in real.stderr
    first = len(sim.log)

    # with a run to learn from, the estimate is that run's requests per window
    again = cli("backfill", "--start", start, "--end", end, "--dry-run", "--warehouse", warehouse, cwd=tmp_path,
                env=env)
    assert again.returncode == 0 and len(sim.log) == first
    estimated = int(re.search(r"about (\d+) requests", again.stdout)[1])  # type: ignore[index]
    assert cli("backfill", "--start", start, "--end", end, "--warehouse", warehouse, cwd=tmp_path,
               env=env).returncode == 0
    assert estimated == len(sim.log) - first, (estimated, len(sim.log) - first)

    nightly = cli("run", "--dry-run", "--warehouse", warehouse, cwd=tmp_path, env=env)
    assert nightly.returncode == 0 and len(sim.log) == 2 * first
    assert re.search(r"^greenarrow: \d+ window\(s\) ", nightly.stdout, re.M), nightly.stdout
    assert "estimated time: about" in nightly.stdout


def test_on_a_terminal_a_live_row_per_provider_shows_windows_requests_and_waits(tmp_path: Path, serve) -> None:
    import os
    import pty
    import subprocess

    from helpers import EXE, cli_env

    sim = InsiderSim(now=NOW, rate_period=60.0, campaigns=4, days=20)
    server = serve(sim)
    env = cli_env({**sim.loader_env(server.url), "START_DATE": NOW.subtract(days=21).to_date_string(),
                   "SOURCES__INSIDER__RATE_LIMIT_REQUESTS": "4", "SOURCES__INSIDER__RATE_LIMIT_PERIOD_SECONDS": "4",
                   "TERM": "xterm", "COLUMNS": "160"})
    leader, follower = pty.openpty()
    process = subprocess.Popen([str(EXE), "run", "--warehouse", str(tmp_path / "w.duckdb")], cwd=tmp_path, env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:      # the command closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    assert process.wait(timeout=120) == 0
    text = screen.decode(errors="replace")
    assert "\x1b[" in text, "a live display redrawn in place"
    assert re.search(r"insider\s.*\d+/\d+ windows\s+\d+/[~≥]\d+ requests", text), text[-2000:]
    assert re.search(r"waiting \d+ s for the rate limit \(4 requests per 4 s\)\s+ETA \d+", text), text[-2000:]
    assert "insider: nightly " in text and "published" in text, "the step lines print above the display"
    assert fact(tmp_path / "w.duckdb", "insider", with_period=True) == sim.truth_fact_rows()
