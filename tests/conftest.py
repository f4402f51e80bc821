"""Shared fixtures: simulators on loopback, the CLI in-process, warehouse queries, isolated config."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest
from helpers import cli

from simulators.base import SimApp, SimServer

_CONFIG_PREFIXES = ("SOURCES__", "START_DATE", "LOOKBACK_DAYS", "WINDOW_DAYS", "DESTINATION__", "RUNTIME__")


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test runs in its own directory with no inherited provider config and no stray .dlt folder."""
    for key in list(os.environ):
        if key.startswith(_CONFIG_PREFIXES):
            monkeypatch.delenv(key, raising=False)
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "WARNING")
    monkeypatch.setenv("CAMPAIGN_ETL_QUIET", "1")
    return workdir


@pytest.fixture(scope="session")
def built_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """``campaign-etl demo`` run once for the whole session, as a user runs it (a child process in the warehouse's
    folder): the warehouse and what the command printed. Modules read it through ``demo_copy``."""
    folder = tmp_path_factory.mktemp("demo-built")
    warehouse = folder / "demo.duckdb"
    result = cli("demo", "--warehouse", str(warehouse), cwd=folder)
    assert result.returncode == 0, result.stderr
    return warehouse, result


@pytest.fixture
def serve() -> Iterator[Callable[[SimApp], SimServer]]:
    """``serve(app)`` starts a simulator on a free loopback port; every server stops after the test."""
    servers: list[SimServer] = []

    def _serve(app: SimApp) -> SimServer:
        server = SimServer(app).start()
        servers.append(server)
        return server

    yield _serve
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop()


# How the tests make each provider fast against its simulator: the providers' real limits and waits, scaled down.
_FAST: dict[str, Callable[[Any], dict[str, str]]] = {
    "greenarrow": lambda app: {"LINK_STATS_PER_PAGE": "200"},
    "insider": lambda app: {"RATE_LIMIT_PERIOD_SECONDS": str(app.limit.period),   # 30 per scaled "minute"
                            "DEFAULT_RETRY_AFTER_SECONDS": "0.2"},
    "shoplive": lambda app: {"RATE_LIMIT_PERIOD_SECONDS": "0.05"},                 # 5 per 50 ms: the default, scaled
    "experiture": lambda app: {"RATE_LIMIT_REQUESTS": "1000"},
    "parrot": lambda app: {"POLL_INTERVAL_SECONDS": "0.2", "MAX_POLL_ATTEMPTS": "3", "RATE_LIMIT_REQUESTS": "1000"},
}
_START_DAYS = {"insider": 30, "shoplive": 30}


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch, serve: Callable[[SimApp], SimServer]) -> Callable[..., SimServer]:
    """``configure(sim, start_days=..., SOURCES__X__KEY="v")`` serves a simulator and points the loader at it (in the
    environment, as a scheduler would): its base URL and credentials, a start date, test-speed retries and limits,
    then ``extra``. Returns the running server."""

    def _configure(app: SimApp, *, start_days: int | None = None, **extra: str) -> SimServer:
        server = serve(app)
        prefix = f"SOURCES__{app.name.upper()}__"
        days = _START_DAYS.get(app.name, 70) if start_days is None else start_days
        fast = {prefix + key: value for key, value in _FAST.get(app.name, lambda a: {})(app).items()}
        env = {**app.loader_env(server.url),
               # counted from the simulator's own clock, the anchor of its dataset
               prefix + "START_DATE": pendulum.instance(app.now).subtract(days=days).to_date_string(),
               prefix + "BACKOFF_BASE_SECONDS": "0.01", prefix + "BACKOFF_MAX_SECONDS": "0.05", **fast, **extra}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return server

    return _configure


@pytest.fixture
def run_cli() -> Callable[..., int]:
    """``run_cli("run", "--warehouse", path)`` runs the command in-process and returns its exit code."""
    from pipelines.cli import main

    def _run(*args: str) -> int:
        return main([str(a) for a in args])

    return _run


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"
