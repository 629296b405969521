"""`--ray ADDRESS` is checked before melt waits on it: a malformed address, an empty one
(Ray would start a private cluster instead), and a port nobody listens on are one line and
exit 2 at once (a closed port once hung `melt bench --ray` for over 200 s)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("garbage", "expected the Ray head's HOST:PORT"),
        ("", "expected the Ray head's HOST:PORT"),
        ("127.0.0.1:99999", "expected the Ray head's HOST:PORT"),
        (None, "no Ray cluster there"),
    ],
)
@pytest.mark.parametrize(
    "command", [("bench", "--store", "postgresql://x@127.0.0.1/x"), ("agent",), ("fleet", "status")]
)
def test_a_bad_or_dead_ray_address_is_one_line(
    melt: Callable[..., Any], address: str | None, says: str, command: tuple[str, ...]
) -> None:
    address = f"127.0.0.1:{_closed_port()}" if address is None else address
    result = melt(*command, "--ray", address)
    assert result.code == 2, result.err
    (line,) = result.err.strip().splitlines()
    assert line.startswith("melt: error: --ray") and says in line
