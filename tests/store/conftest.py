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
from collections.abc import Callable, Iterator
from itertools import count
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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server (Debian's `postgresql` package) in a temporary folder on a free
    loopback port (trust auth for user `melt`), stopped by its PID at the end of the
    session. Yields its base URL."""
    base = Path(tempfile.mkdtemp(prefix="melt-pg-"))
    user = _as_server_user()
    if user:
        os.chown(base, user["user"], user["group"])
    data = base / "data"
    subprocess.run(
        [str(PG_BIN / "initdb"), "-D", str(data), "-U", "melt", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
        **user,
    )
    port = _free_port()
    server = subprocess.Popen(
        [
            str(PG_BIN / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(base),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(base / "server.log").open("wb"),
        **user,
    )
    url = f"postgresql://melt@127.0.0.1:{port}"
    try:
        _wait_ready(url, server)
        yield url
    finally:
        server.send_signal(2)  # SIGINT: PostgreSQL's fast shutdown
        server.wait(timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def _wait_ready(url: str, server: subprocess.Popen) -> None:
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


_databases = count()


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A new, empty database on the session's server."""
    import psycopg

    name = f"melt_test_{os.getpid()}_{next(_databases)}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{postgres_server}/{name}"
