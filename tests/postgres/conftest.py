"""A real PostgreSQL server for the PostgreSQL target's tests, started here (``simulators/local_postgres.py``:
``initdb``/``pg_ctl`` of Debian's ``postgresql`` package, which ``.ci/run`` installs, on a free loopback port in a
temporary folder), one server for the session and a fresh database per test. Under ``CI=true`` a missing server
fails the suite instead of skipping it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import unavailable

from simulators import local_postgres

PASSWORD = "pg-test-secret-7c1d"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[local_postgres.LocalPostgres]:
    try:
        with local_postgres.running(PASSWORD) as server:
            yield server
    except local_postgres.NoPostgres as exc:
        unavailable(str(exc), ".ci/run installs it")


@pytest.fixture
def postgres_dsn(postgres_server: local_postgres.LocalPostgres, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database on the session's server, configured as the loader's PostgreSQL target (the environment
    form of ``destination.postgres.credentials``); returns its connection string."""
    dsn = postgres_server.new_database()
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", dsn)
    return dsn
