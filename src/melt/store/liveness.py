"""Is a `running` run still being written? Each run row names the process writing it
(pid, host) and when it last wrote (`heartbeat_at`, refreshed by every turn and sample
batch). A `running` run whose process is gone from this host, or whose heartbeat from
another host is older than `ABANDONED_AFTER_S`, is shown as `abandoned`: no process will
finish it, and nothing aggregates it as complete."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import psutil

ABANDONED_AFTER_S = 15 * 60
RUNNING = "running"
ABANDONED = "abandoned"


def this_process() -> dict[str, Any]:
    """The columns that name the writer of a run."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _parse(iso: str | None) -> datetime | None:
    return datetime.fromisoformat(iso) if iso else None


def _alive_here(pid: int, started_at: datetime | None) -> bool:
    """The pid exists and is not a later process that reused it."""
    try:
        created = datetime.fromtimestamp(psutil.Process(pid).create_time(), UTC)
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return psutil.pid_exists(pid) if pid > 0 else False
    return started_at is None or created <= started_at


def is_abandoned(run: Mapping[str, Any], now: datetime | None = None) -> bool:
    if run.get("status") != RUNNING:
        return False
    now = now or datetime.now(UTC)
    pid, host = run.get("pid"), run.get("host")
    if pid is not None and host == socket.gethostname():
        return not _alive_here(int(pid), _parse(run.get("started_at")))
    beat = _parse(run.get("heartbeat_at") or run.get("started_at"))
    return beat is not None and (now - beat).total_seconds() > ABANDONED_AFTER_S


def with_liveness(run: dict[str, Any]) -> dict[str, Any]:
    """The run row with `status` = `abandoned` when no process is writing it any more
    (the stored value stays in `recorded_status`)."""
    run["recorded_status"] = run.get("status")
    if is_abandoned(run):
        run["status"] = ABANDONED
    return run
