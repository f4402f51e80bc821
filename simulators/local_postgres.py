"""A throwaway PostgreSQL server on loopback, for the PostgreSQL target's tests and benchmarks: ``initdb`` and
``pg_ctl`` of the machine's PostgreSQL (Debian's ``postgresql`` package) on a free port in a temporary folder,
password authentication, removed when the block ends. PostgreSQL refuses to run as root: as root, the server
runs as the ``postgres`` system user the package creates."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

USER = "etl"


class NoPostgres(RuntimeError):
    """The machine has no PostgreSQL server programs."""


@dataclass(frozen=True)
class LocalPostgres:
    host: str
    port: int
    user: str
    password: str

    def dsn(self, database: str) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database; returns its connection string."""
        import psycopg2

        name = f"w_{uuid.uuid4().hex[:10]}"
        admin = psycopg2.connect(self.dsn("postgres"))
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f"create database {name}")
        admin.close()
        return self.dsn(name)


def binaries() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``, newest version first, or None."""
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
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@contextlib.contextmanager
def running(password: str | None = None) -> Iterator[LocalPostgres]:
    """A fresh server for the block (``NoPostgres`` when the machine has none)."""
    folder_of_binaries = binaries()
    if folder_of_binaries is None:
        raise NoPostgres("PostgreSQL's initdb/pg_ctl are not installed (Debian package 'postgresql')")
    password = password or uuid.uuid4().hex
    folder = Path(tempfile.mkdtemp(prefix="campaign-etl-pg-"))
    data = folder / "data"
    password_file = folder / "password"
    password_file.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(password_file, "postgres")
    port = _free_port()
    pg_ctl = str(folder_of_binaries / "pg_ctl")
    try:
        subprocess.run(_as_server_user([str(folder_of_binaries / "initdb"), "-D", str(data), "-U", USER,
                                        "-A", "scram-sha-256", f"--pwfile={password_file}", "-E", "UTF8",
                                        "--no-sync"]), check=True, capture_output=True)
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        subprocess.run(_as_server_user([pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "server.log"),
                                        "-w", "start"]), check=True, capture_output=True)
        yield LocalPostgres("127.0.0.1", port, USER, password)
    finally:
        if data.exists():
            subprocess.run(_as_server_user([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]),
                           capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
