"""A real PostgreSQL server for the PostgreSQL target's tests, started here: ``initdb`` and ``pg_ctl`` of the
machine's PostgreSQL (Debian's ``postgresql`` package; ``.ci/run`` installs it) on a free loopback port in a
temporary folder, one server for the session and a fresh database per test. Under ``CI=true`` a missing server
fails the suite instead of skipping it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

USER = "etl"
PASSWORD = "pg-test-secret-7c1d"


def _binaries() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, the server runs as the ``postgres`` system user."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[dict[str, object]]:
    binaries = _binaries()
    if binaries is None:
        message = "PostgreSQL's initdb/pg_ctl are not installed (Debian package 'postgresql'; .ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    folder = Path(tempfile.mkdtemp(prefix="campaign-etl-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    password_file = folder / "password"
    password_file.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(password_file, "postgres")
    port = _free_port()
    subprocess.run(_as_server_user([str(binaries / "initdb"), "-D", str(data), "-U", USER, "-A", "scram-sha-256",
                                    f"--pwfile={password_file}", "-E", "UTF8", "--no-sync"]),
                   check=True, capture_output=True)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    subprocess.run(_as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                                    str(folder / "server.log"), "-w", "start"]), check=True, capture_output=True)
    try:
        yield {"host": "127.0.0.1", "port": port, "user": USER, "password": PASSWORD}
    finally:
        subprocess.run(_as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_dsn(postgres_server: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database on the session's server, configured as the loader's PostgreSQL target (the environment
    form of ``destination.postgres.credentials``); returns its connection string."""
    import psycopg2

    server = postgres_server
    name = f"w_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host=server["host"], port=server["port"], user=server["user"],
                             password=server["password"], dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"create database {name}")
    admin.close()
    dsn = f"postgresql://{server['user']}:{server['password']}@{server['host']}:{server['port']}/{name}"
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", dsn)
    return dsn
