"""``campaign-etl check`` through the installed command against the simulators: one cheap request per provider, a
line each naming the key to fix, nothing loaded or created."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import cli, five_simulators, one_sentence

from simulators.experiture import API, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, ExperitureSim

PROVIDERS = ("greenarrow", "insider", "shoplive", "experiture", "parrot")


@pytest.fixture
def five(serve) -> tuple[dict[str, Any], dict[str, str]]:
    """The five simulators served, and the environment that points a child process at them."""
    env: dict[str, str] = {}

    def configure(sim: Any, start_days: int) -> None:
        env.update(sim.loader_env(serve(sim).url))

    sims = five_simulators(configure)
    for name in PROVIDERS:
        env[f"SOURCES__{name.upper()}__BACKOFF_BASE_SECONDS"] = "0.01"
    return sims, env


def lines(stdout: str) -> dict[str, str]:
    """Provider -> its line of the check's output."""
    return {line.split()[0]: line for line in stdout.splitlines() if line.split() and line.split()[0] in PROVIDERS}


def snapshot(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_five_providers_ok_one_request_each_and_nothing_created(tmp_path: Path, five) -> None:
    sims, env = five
    before = snapshot(tmp_path)
    result = cli("check", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    found = lines(result.stdout)
    assert set(found) == set(PROVIDERS)
    for line in found.values():
        assert line.split()[1] == "ok" and line.rstrip().endswith(" s)"), line
    assert "greenarrow  ok  (GET /ga/api/v2/mailing_lists 200, " in result.stdout
    assert "insider     ok  (POST /v1/statistics/overall-metrics 200, " in result.stdout
    assert "not configured" not in result.stdout
    for name, sim in sims.items():
        assert sim.request_count() == 1, f"{name}: one cheap request"
    assert snapshot(tmp_path) == before, "no warehouse, no .etl folder, nothing written"
    assert not Path(tmp_path / "campaign_metrics.duckdb").exists()


def test_one_wrong_credential_fails_that_provider_only_naming_its_key(tmp_path: Path, five) -> None:
    _, env = five
    wrong = "wrong-parrot-token-7c1d90"
    result = cli("check", "-v", cwd=tmp_path, env={**env, "SOURCES__PARROT__API_TOKEN": wrong})
    assert result.returncode == 1, result.stdout + result.stderr
    found = lines(result.stdout)
    assert found["parrot"].split()[1] == "FAILED"
    assert "refused the credentials (HTTP 401); check SOURCES__PARROT__API_TOKEN." in found["parrot"]
    assert all(found[name].split()[1] == "ok" for name in PROVIDERS if name != "parrot")
    assert wrong not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_host_or_a_wrong_path_names_base_url(tmp_path: Path, five) -> None:
    _, env = five
    experiture_url = env["SOURCES__EXPERITURE__BASE_URL"]
    result = cli("check", cwd=tmp_path, env={
        **env, "SOURCES__GREENARROW__BASE_URL": "http://127.0.0.1:1",
        "SOURCES__EXPERITURE__BASE_URL": experiture_url.removesuffix(API) + "/public/v9"})
    assert result.returncode == 1
    found = lines(result.stdout)
    line = found["greenarrow"]
    assert "GET /ga/api/v2/mailing_lists could not reach http://127.0.0.1:1 (" in line, line
    assert ", 2 attempt(s)); check SOURCES__GREENARROW__BASE_URL." in line, line
    assert "GET /campaigns answered HTTP 404 (no such path); check SOURCES__EXPERITURE__BASE_URL." \
           in found["experiture"]
    assert [found[name].split()[1] for name in ("insider", "shoplive", "parrot")] == ["ok"] * 3


def test_experiture_grant_is_checked_with_its_token_request(tmp_path: Path, serve) -> None:
    sim = ExperitureSim(campaigns=3, journeys=False, client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET)
    env = sim.loader_env(serve(sim).url)
    result = cli("check", "-v", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert lines(result.stdout)["experiture"].startswith("experiture  ok  (GET /campaigns 200, ")
    assert sim.tokens_issued == 1 and sim.request_count(API) == 1
    assert "not configured (not checked): greenarrow, insider, shoplive, parrot" in result.stdout
    assert DEFAULT_CLIENT_SECRET not in result.stdout + result.stderr
    assert not any(token in result.stdout + result.stderr for token in sim.issued)

    refused = cli("check", cwd=tmp_path, env={**env, "SOURCES__EXPERITURE__CLIENT_SECRET": "not-it-1234"})
    assert refused.returncode == 1
    line = lines(refused.stdout)["experiture"]
    assert "FAILED" in line and "check SOURCES__EXPERITURE__CLIENT_ID and SOURCES__EXPERITURE__CLIENT_SECRET" in line
    assert "not-it-1234" not in refused.stdout + refused.stderr


def test_only_the_named_providers_are_checked(tmp_path: Path, five) -> None:
    sims, env = five
    result = cli("check", "--provider", "insider", "--provider", "Shoplive", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(lines(result.stdout)) == {"insider", "shoplive"}
    assert sims["greenarrow"].request_count() == 0 and sims["insider"].request_count() == 1


def test_a_configuration_error_is_exit_2_before_any_request(tmp_path: Path, five) -> None:
    sims, env = five
    result = cli("check", cwd=tmp_path, env={**env, "SOURCES__PARROT__PAGE_SIZE": "900"})
    assert result.returncode == 2
    assert "SOURCES__PARROT__PAGE_SIZE must be 1..100" in one_sentence(result)
    assert all(sim.request_count() == 0 for sim in sims.values())
    nothing = cli("check", cwd=tmp_path)
    assert nothing.returncode == 2 and "no provider is configured" in one_sentence(nothing)
