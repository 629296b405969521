"""A file sent to a phone over adb's sync service (SYNC.TXT: SEND, DATA, DONE, then OKAY or FAIL
with the phone's message), keeping the message adbutils drops.

adbutils' `sync.push` raises `AdbError('FAIL')` and discards the text adbd sends with it, which
is what says why (`write failed: No space left on device`, `couldn't create file: Permission
denied`); melt needs it to tell the user what to do. The connection itself is adbutils'
(`open_transport`), the framing is the protocol's v1.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import Any

SYNC_DATA_MAX = 64 * 1024  # the largest DATA payload adbd accepts
S_IFREG = 0o100000


class SyncFailed(Exception):
    """adbd answered FAIL; `message` is its text, e.g. `write failed: No space left on device`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def no_space(self) -> bool:
        return "No space left on device" in self.message


def _request(command: bytes, payload: bytes) -> bytes:
    return command + struct.pack("<I", len(payload)) + payload


def send_file(device: Any, local: Path, remote: str, mode: int) -> int:
    """Send `local` to `remote` on the adbutils `device`; returns the bytes sent. Raises
    `SyncFailed` with adbd's message when it refuses the file."""
    spec = f"{remote},{S_IFREG | mode}".encode()
    sent = 0
    with device.open_transport(timeout=None) as conn:
        conn.send_command("sync:")
        conn.check_okay()
        sock = conn.conn
        sock.sendall(_request(b"SEND", spec))
        with local.open("rb") as f:
            while block := f.read(SYNC_DATA_MAX):
                sock.sendall(_request(b"DATA", block))
                sent += len(block)
        sock.sendall(b"DONE" + struct.pack("<I", int(time.time())))
        status = conn.read_exact(4)
        length = struct.unpack("<I", conn.read_exact(4))[0]
        if status == b"FAIL":
            raise SyncFailed(conn.read_exact(length).decode("utf-8", errors="replace"))
        if status != b"OKAY":
            raise SyncFailed(f"unexpected sync reply {status!r}")
    return sent
