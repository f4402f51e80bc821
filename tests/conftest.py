"""Shared fixtures: simulators on loopback, the CLI in-process, warehouse queries, isolated config."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

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
