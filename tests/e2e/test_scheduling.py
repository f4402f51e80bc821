"""Scheduled like data teams schedule: the README's crontab recipe run from another directory with a bare
environment, and outcomes an alerting rule can read (``status --json``, ``--log-format json``)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pendulum
from helpers import EXE, cli, fact, one_sentence

from simulators.base import SimServer
from simulators.greenarrow import GreenArrowSim

NOW = pendulum.now("UTC")
README = Path(__file__).resolve().parents[2] / "README.md"


def crontab_command() -> str:
    """The command of the README's crontab line (after the five schedule fields)."""
    lines = [line for line in README.read_text().splitlines() if line.startswith("15 2 * * * ")]
    assert len(lines) == 1, "the README shows one crontab line"
    return lines[0].split(" ", 5)[5]


def project(folder: Path, sim: GreenArrowSim, url: str) -> Path:
    """A project folder as a user sets one up: ``.dlt/config.toml`` and ``.dlt/secrets.toml``."""
    settings = folder / ".dlt"
    settings.mkdir(parents=True)
    env = sim.loader_env(url)
    (settings / "config.toml").write_text(
        f'[sources.greenarrow]\nbase_url = "{env["SOURCES__GREENARROW__BASE_URL"]}"\n'
        f'start_date = "{NOW.subtract(days=25).to_date_string()}"\n')
    (settings / "secrets.toml").write_text(f'[sources.greenarrow]\napi_key = "{env["SOURCES__GREENARROW__API_KEY"]}"\n')
    return folder


def test_the_crontab_recipe_runs_from_another_directory(tmp_path: Path) -> None:
    sim = GreenArrowSim(now=NOW, lists=1, campaigns_per_list=4, days=20, max_links=600)
    with SimServer(sim) as server:
        root = project(tmp_path / "opt" / "campaign-etl", sim, server.url)
        warehouse = tmp_path / "srv" / "warehouse" / "campaign_metrics.duckdb"
        warehouse.parent.mkdir(parents=True)
        log = tmp_path / "campaign-etl.log"
        command = (crontab_command()
                   .replace("/opt/campaign-etl/.venv/bin/campaign-etl", str(EXE))
                   .replace("/opt/campaign-etl", str(root))
                   .replace("/srv/warehouse/campaign_metrics.duckdb", str(warehouse))
                   .replace("/var/log/campaign-etl.log", str(log)))
        assert shlex.split(command)[0] == str(EXE)
        # cron's environment: HOME as the working directory, a bare PATH, no provider config
        bare = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
        elsewhere = tmp_path / "home"
        elsewhere.mkdir()
        for _ in range(2):
            done = subprocess.run(["/bin/sh", "-c", command], cwd=elsewhere, env=bare, timeout=300)
            assert done.returncode == 0, log.read_text()
    assert fact(warehouse, "greenarrow") == sim.truth_fact_rows()
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert [e["event"] for e in events] == ["provider", "run", "provider", "run"]
    assert all(e["exit_code"] == 0 for e in events if e["event"] == "run")
    assert "published" in log.read_text(), "the progress lines are in the log too"
    assert not list(elsewhere.iterdir()), "nothing is written to the working directory"


def test_status_json_and_the_json_run_summary_are_for_machines(configure, tmp_path: Path) -> None:
    sim = GreenArrowSim(now=NOW, lists=1, campaigns_per_list=4, days=20, max_links=600)
    configure(sim, start_days=25)
    env = {k: v for k, v in os.environ.items() if k.startswith("SOURCES__")}
    warehouse = tmp_path / "w.duckdb"
    ran = cli("run", "--warehouse", warehouse, "--log-format", "json", cwd=tmp_path, env=env)
    assert ran.returncode == 0, ran.stderr
    provider, run = (json.loads(line) for line in ran.stdout.splitlines())
    assert provider["event"] == "provider" and provider["provider"] == "greenarrow" and provider["outcome"] == "ok"
    assert provider["requests"] > 0 and provider["fact_rows_total"] == len(sim.truth_fact_rows())
    assert run["event"] == "run" and run["exit_code"] == 0 and run["checks_not_passed"] == []

    status = cli("status", "--json", "--warehouse", warehouse, cwd=tmp_path, env=env)
    assert status.returncode == 0, status.stderr
    (row,) = (json.loads(line) for line in status.stdout.splitlines())
    assert row["provider"] == "greenarrow" and row["outcome"] == "ok" and row["stale"] is False
    assert row["open_errors"] == 0 and row["failing_checks"] == [] and row["cursor"].endswith("+00:00")
    assert pendulum.parse(row["last_run"]) <= pendulum.now("UTC") and row["freshness_hours"] < 1

    missing = cli("run", "--project-dir", tmp_path / "nowhere", "--warehouse", warehouse, cwd=tmp_path, env=env)
    assert missing.returncode == 2 and "is not a folder" in one_sentence(missing)
