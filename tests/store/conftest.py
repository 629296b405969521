"""Real places to put a store: a tmpfs mounted for the test (as root; made read-only or
full by tests/store/filesystems.py), and a real PostgreSQL server started for the session
as an unprivileged user."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.store.filesystems import mount

PG_BIN = max(
    Path("/usr/lib/postgresql").glob("*/bin"),
    key=lambda p: int(p.parent.name),
    default=Path("/usr/lib/postgresql/15/bin"),
)
PG_USER = "postgres"
READY_WITHIN_S = 60


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mount a tmpfs of a given size (e.g. '256k') under tmp_path; unmounted at the end."""
    mounted: list[Path] = []

    def make(size: str) -> Path:
        point = tmp_path / f"fs{len(mounted)}"
        point.mkdir()
        mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point))
        mounted.append(point)
        return point

    yield make
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], check=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user() -> dict:
    """Popen arguments that run PostgreSQL as an unprivileged user when tests run as root
    (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(PG_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


class PostgresServer:
    """A PostgreSQL server (Debian's `postgresql` package) in a temporary folder on a free
    loopback port, trust auth for user `melt`; it can be stopped and started again on the
    same data and port (a server restarting under a run)."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="melt-pg-"))
        self.user = _as_server_user()
        if self.user:
            os.chown(self.base, self.user["user"], self.user["group"])
        self.data = self.base / "data"
        subprocess.run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "melt",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            **self.user,
        )
        self.port = _free_port()
        self.url = f"postgresql://melt@127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(PG_BIN / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.base),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(self.base / "server.log").open("ab"),
            **self.user,
        )
        _wait_ready(self.url, self.process)

    def stop(self) -> None:
        """Fast shutdown (SIGINT): open connections are closed, as when an admin stops it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(2)
            self.process.wait(timeout=60)
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The session's PostgreSQL server, stopped at the end of the session. Yields its base
    URL."""
    server = PostgresServer()
    try:
        server.start()
        yield server.url
    finally:
        server.remove()


@pytest.fixture
def restartable_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own, started, that the test may stop and start."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.remove()


def _wait_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    import psycopg

    deadline = time.monotonic() + READY_WITHIN_S
    while True:
        try:
            psycopg.connect(f"{url}/postgres", connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.1)  # polling a condition with a deadline, not synchronisation


def new_database(server_url: str) -> str:
    """The URL of a new, empty database on a server."""
    import psycopg

    name = f"melt_test_{os.getpid()}_{uuid.uuid4().hex[:12]}"  # unique in any import of this module
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server_url}/{name}"


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A new, empty database on the session's server."""
    return new_database(postgres_server)
