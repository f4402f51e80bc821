"""The installed ``campaign-etl`` command, driven as a scheduler would, in a temporary directory."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pendulum
import pytest
from helpers import EXE, cli, fact, one_sentence, query

from simulators.base import Faults
from simulators.greenarrow import DEFAULT_CREDENTIALS, GreenArrowSim

NOW = pendulum.now("UTC")


def test_the_command_is_installed() -> None:
    assert EXE.exists(), "pip install -e . installs the campaign-etl console script"


@pytest.mark.parametrize("args,needle", [
    (["backfill", "--start", "2026-05-02", "--end", "2026-05-01"], "after --end"),
    (["backfill", "--start", "2026-02-30", "--end", "2026-03-01"], "'2026-02-30' is not a valid date"),
    (["backfill", "--start", "yesterday", "--end", "2026-03-01"], "is not a date"),
    (["backfill", "--start", "0001-01-01", "--end", "0001-01-02"], "outside the supported dates"),
    (["backfill", "--start", "2026-01-01", "--end", "9999-12-31"], "outside the supported dates"),
    (["run", "--provider", "mailchimp"], "unknown provider 'mailchimp'"),
    (["run"], "no provider is configured"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_is_one_sentence_and_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    result = cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert needle in one_sentence(result)


@pytest.mark.parametrize("command", [["demo"], ["run"], ["transform"]])
@pytest.mark.parametrize("where,needle", [
    ("folder", "is a folder; give the path of a DuckDB file"),
    ("missing", "does not exist"),
    ("read-only", "is not writable"),
])
def test_a_warehouse_path_that_cannot_be_one_is_refused_before_anything_starts(
        tmp_path: Path, command: list[str], where: str, needle: str) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    path = {"folder": folder, "missing": tmp_path / "no" / "such" / "w.duckdb", "read-only": folder / "w.duckdb"}[where]
    if where == "read-only":
        if os.geteuid() == 0:
            path = Path("/proc/self/w.duckdb")   # root may write any folder, not this one
        else:
            folder.chmod(0o555)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = cli(*command, "--warehouse", path, cwd=tmp_path, env=GOOD)
    assert result.returncode == 2, result.stderr
    assert needle in one_sentence(result)
    assert "simulator" not in result.stderr, "nothing started"
    assert sorted(p.name for p in tmp_path.rglob("*")) == before, "no stray folder after a refused command"


def test_provider_names_are_case_insensitive(tmp_path: Path) -> None:
    result = cli("run", "--provider", "GreenArrow", cwd=tmp_path)
    assert result.returncode == 2 and "unknown provider" not in result.stderr
    assert "greenarrow" in one_sentence(result), "it went on to the provider's own configuration"


GOOD = {"SOURCES__GREENARROW__API_KEY": "1:abcdef", "SOURCES__GREENARROW__BASE_URL": "http://127.0.0.1:1"}


@pytest.mark.parametrize("config,env,needle", [
    ("[sources]\nlookback_daze = 3\n", {}, "unknown key 'lookback_daze' under [sources] in config.toml; "
                                            "did you mean 'lookback_days'?"),
    ("[sources.greenarrow]\nmailing_list_id = [1]\n", {}, "did you mean 'mailing_list_ids'?"),
    ("[sources.greenarow]\nbase_url = 'x'\n", {}, "unknown provider section [sources.greenarow]"),
    ("", {"SOURCES__GREENARROW__LOOKBACK_DAZE": "3"}, "did you mean SOURCES__GREENARROW__LOOKBACK_DAYS?"),
    ("", {"SOURCES__WINDOW_DAY": "7"}, "did you mean SOURCES__WINDOW_DAYS?"),
    ("", {"SOURCES__GREENARROW__WINDOW_DAYS": "0"}, "must be 1 (days) or a multiple of 7"),
    ("", {"SOURCES__GREENARROW__WINDOW_DAYS": "3"}, "must be 1 (days) or a multiple of 7"),
    ("", {"SOURCES__GREENARROW__TIMEOUT_SECONDS": "0"}, "TIMEOUT_SECONDS must be greater than 0"),
    ("", {"SOURCES__GREENARROW__MAX_CONCURRENCY": "0"}, "MAX_CONCURRENCY must be at least 1"),
    ("", {"SOURCES__GREENARROW__LINK_STATS_PER_PAGE": "900"}, "LINK_STATS_PER_PAGE must be 1..500"),
    ("", {"START_DATE": "1999-12-31"}, "outside the supported dates"),
    ("[sources]\nlookback_days = 30\n[sources.greenarrow\nbase_url = 'x'\n", {},
     "config.toml is not valid TOML: Expected ']' at the end of a table declaration (at line 3"),
])
def test_bad_config_is_refused_before_any_request(tmp_path: Path, config: str, env: dict[str, str],
                                                  needle: str) -> None:
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text(config)
    result = cli("run", cwd=tmp_path, env={**GOOD, **env})
    assert result.returncode == 2, result.stderr
    assert needle in one_sentence(result)
    assert not list(tmp_path.glob("*.duckdb")) and not list(tmp_path.glob(".*.etl"))


@pytest.mark.parametrize("token,needle", [
    ("", "SOURCES__INSIDER__API_KEY is empty"),
    ("  ", "SOURCES__INSIDER__API_KEY is empty"),
    ("k\u00e9y-with-accent", "SOURCES__INSIDER__API_KEY holds a character that cannot be sent"),
    ("two words", "SOURCES__INSIDER__API_KEY holds a character that cannot be sent"),
    ("<web push api key>", "SOURCES__INSIDER__API_KEY still holds the placeholder"),
])
def test_a_credential_that_cannot_be_sent_stops_every_provider_before_any_request(
        tmp_path: Path, serve, token: str, needle: str) -> None:
    sim = GreenArrowSim(now=NOW, lists=1, campaigns_per_list=2, days=10, max_links=600)
    server = serve(sim)
    env = {"SOURCES__GREENARROW__BASE_URL": server.url, "SOURCES__GREENARROW__API_KEY": DEFAULT_CREDENTIALS,
           "SOURCES__INSIDER__BASE_URL": "http://127.0.0.1:1", "SOURCES__INSIDER__PARTNER_ID": "1",
           "SOURCES__INSIDER__API_KEY": token}
    result = cli("run", cwd=tmp_path, env=env)
    assert result.returncode == 2
    line = one_sentence(result)
    assert needle in line and (not token.strip() or token not in line)
    assert sim.request_count() == 0, "no provider loaded before the refusal"


def test_credentials_without_base_url_name_the_missing_key(tmp_path: Path) -> None:
    result = cli("run", cwd=tmp_path, env={"SOURCES__GREENARROW__API_KEY": "1:abcdef"})
    assert result.returncode == 2
    assert "SOURCES__GREENARROW__BASE_URL" in one_sentence(result)
    result = cli("run", cwd=tmp_path, env={"SOURCES__GREENARROW__API_KEY": "1:abcdef",
                                           "SOURCES__GREENARROW__BASE_URL": "http://127.0.0.1:1",
                                           "SOURCES__GREENARROW__LOOKBACK_DAYS": "many"})
    assert result.returncode == 2 and "LOOKBACK_DAYS must be a number" in one_sentence(result)
    result = cli("run", cwd=tmp_path, env={"SOURCES__GREENARROW__API_KEY": "1:abcdef",
                                           "SOURCES__GREENARROW__BASE_URL": "http://127.0.0.1:1",
                                           "START_DATE": "2026-02-31"})
    assert result.returncode == 2 and "not a date" in one_sentence(result)
    result = cli("run", cwd=tmp_path, env={"SOURCES__GREENARROW__API_KEY": "1:abcdef",
                                           "SOURCES__GREENARROW__BASE_URL": "ftp://example"})
    assert result.returncode == 2 and "must start with http" in one_sentence(result)


def test_status_without_a_warehouse(tmp_path: Path) -> None:
    result = cli("status", cwd=tmp_path)
    assert result.returncode == 2 and "no warehouse" in one_sentence(result)


def test_run_status_transform_against_the_simulator(tmp_path: Path, serve) -> None:
    sim = GreenArrowSim(now=NOW, lists=2, campaigns_per_list=5, days=50, max_links=600,
                        faults=Faults(share_5xx=0.1, share_429=0.05, retry_after=0.05, seed=5))
    server = serve(sim)
    secret = DEFAULT_CREDENTIALS
    env = {"SOURCES__GREENARROW__BASE_URL": server.url, "SOURCES__GREENARROW__API_KEY": secret,
           "START_DATE": NOW.subtract(days=60).to_date_string(), "SOURCES__GREENARROW__BACKOFF_BASE_SECONDS": "0.01",
           "SOURCES__GREENARROW__MAX_ATTEMPTS": "8"}
    result = cli("run", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    warehouse = tmp_path / "campaign_metrics.duckdb"
    assert warehouse.exists(), "the default warehouse is campaign_metrics.duckdb in the working directory"
    assert "greenarrow" in result.stdout and "load 1 (" in result.stderr, "a summary and progress lines"
    assert fact(warehouse, "greenarrow") == sim.truth_fact_rows()

    status = cli("status", cwd=tmp_path)
    assert status.returncode == 0
    line = next(line for line in status.stdout.splitlines() if line.strip().startswith("greenarrow"))
    assert " ok " in f" {line} " and "nightly" in line

    key = secret.split(":", 1)[1]
    for output in (result.stdout, result.stderr, status.stdout):
        assert key not in output
    dump = query(warehouse, "select string_agg(cast(request_params as varchar), '') from raw.greenarrow_fetches")
    assert key not in str(dump)
    for path in tmp_path.rglob("*"):   # warehouse, work file, dlt state and traces: the secret is nowhere
        if path.is_file():
            assert key.encode() not in path.read_bytes(), f"secret found in {path}"

    server.stop()
    rebuilt = cli("transform", cwd=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert fact(warehouse, "greenarrow") == sim.truth_fact_rows()


def test_the_warehouse_path_can_come_from_dlt_destination_credentials(tmp_path: Path, serve) -> None:
    sim = GreenArrowSim(now=NOW, lists=1, campaigns_per_list=3, days=20, max_links=10)
    server = serve(sim)
    target = tmp_path / "elsewhere" / "metrics.duckdb"
    target.parent.mkdir()
    env = {"SOURCES__GREENARROW__BASE_URL": server.url, "SOURCES__GREENARROW__API_KEY": DEFAULT_CREDENTIALS,
           "START_DATE": NOW.subtract(days=25).to_date_string(), "DESTINATION__DUCKDB__CREDENTIALS": str(target)}
    result = cli("run", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert target.exists() and not (tmp_path / "campaign_metrics.duckdb").exists()
    assert fact(target, "greenarrow") == sim.truth_fact_rows()


def test_version_help_and_global_flags_after_the_subcommand(tmp_path: Path) -> None:
    version = cli("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("campaign-etl ")
    helped = cli("--help", cwd=tmp_path)
    assert helped.returncode == 0
    for needle in ("greenarrow, insider, shoplive, experiture, parrot", "exit codes:", "130", "examples:"):
        assert needle in helped.stdout, needle
    after = cli("run", "-v", "-q", "--provider", "greenarrow", cwd=tmp_path)
    assert after.returncode == 2 and "unrecognized arguments" not in after.stderr
    assert "greenarrow is not configured" in one_sentence(after)


def test_a_provider_failure_names_the_provider_once(tmp_path: Path, serve) -> None:
    sim = GreenArrowSim(now=NOW, lists=1, campaigns_per_list=2, days=10, max_links=600,
                        faults=Faults(share_5xx=1.0))
    server = serve(sim)
    env = {**sim.loader_env(server.url), "SOURCES__GREENARROW__MAX_ATTEMPTS": "2",
           "SOURCES__GREENARROW__BACKOFF_BASE_SECONDS": "0.01",
           "SOURCES__GREENARROW__START_DATE": NOW.subtract(days=12).to_date_string()}
    result = cli("run", "--warehouse", tmp_path / "w.duckdb", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "greenarrow: GET /ga/api/v2/mailing_lists still failing after 2 attempts" in result.stderr
    assert "greenarrow: greenarrow:" not in result.stderr + result.stdout
    assert not re.search(r"^published ", result.stderr, re.M), "nothing was loaded: 'published' is not said"
    assert "no provider loaded anything" in result.stderr
