"""Putting files on a device once: models keyed by sha256, melt's runner by content hash.

A file is copied to a temporary name, its size and sha256 are checked on the device, and
only then is it renamed into place, so an interrupted copy never leaves a file that looks
complete. Free space is checked before anything is sent. What was sent is counted, so a
second run can show it pushed nothing.
"""

from __future__ import annotations

import hashlib
import posixpath
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path

from melt.devices.base import Device, DeviceError

SPACE_MARGIN_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Deployed:
    """Where a file is on the device and how many bytes it took to get it there."""

    path: str
    bytes_pushed: int


def _sh(device: Device, script: str, timeout: float = 120.0) -> str:
    result = device.run(["sh", "-c", script], timeout=timeout)
    if not result.ok:
        raise DeviceError(
            f"device '{device.name}': '{script[:60]}' failed ({result.stderr.strip()[:200]})"
        )
    return result.stdout


def free_bytes(device: Device, directory: str) -> int:
    """Free space of the filesystem holding `directory` (POSIX `df -P`, 1024-byte blocks)."""
    out = _sh(device, f"df -Pk {shlex.quote(directory)} | tail -n 1")
    try:
        return int(out.split()[3]) * 1024
    except (IndexError, ValueError):
        raise DeviceError(
            f"device '{device.name}': cannot read free space ('df' said {out!r})"
        ) from None


def remote_sha256(device: Device, path: str) -> str:
    q = shlex.quote(path)
    out = _sh(device, f"sha256sum {q} 2>/dev/null || shasum -a 256 {q}", timeout=600.0)
    return out.split()[0]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ensure_file(device: Device, local: Path, remote: str, sha256: str) -> Deployed:
    """`local` at `remote` on the device, sent only when it is not already there intact."""
    size = local.stat().st_size
    directory = posixpath.dirname(remote)
    q_remote = shlex.quote(remote)
    listing = _sh(
        device, f"mkdir -p {shlex.quote(directory)} && wc -c < {q_remote} 2>/dev/null || true"
    )
    if listing.strip().isdigit() and int(listing.strip()) == size:
        return Deployed(remote, 0)
    free = free_bytes(device, directory)
    if free < size + SPACE_MARGIN_BYTES:
        raise DeviceError(
            f"device '{device.name}': {directory} has {free / 2**20:.0f} MiB free, "
            f"{local.name} needs {size / 2**20:.0f} MiB (+{SPACE_MARGIN_BYTES // 2**20} MiB "
            "margin); free space there or set another workdir in the inventory"
        )
    partial = f"{remote}.partial"
    sent = device.push(local, partial)
    got = remote_sha256(device, partial)
    if got != sha256:
        _sh(device, f"rm -f {shlex.quote(partial)}")
        raise DeviceError(
            f"device '{device.name}': {local.name} arrived damaged (sha256 {got[:12]} on the "
            f"device, {sha256[:12]} sent); try again"
        )
    _sh(device, f"mv -f {shlex.quote(partial)} {q_remote}")
    return Deployed(remote, sent)


def ensure_model(device: Device, path: Path, sha256: str) -> Deployed:
    """A model file on the device under `<workdir>/models/<sha256><suffix>`; the local
    device uses the file where it is."""
    if device.transport == "local":
        return Deployed(str(path), 0)
    remote = posixpath.join(device.workdir(), "models", f"{sha256}{path.suffix}")
    return ensure_file(device, path, remote, sha256)


def ensure_runner(device: Device) -> Deployed:
    """melt's runner archive on the device (see melt.runners.package)."""
    from melt.runners.package import runner_archive

    archive = runner_archive()
    remote = posixpath.join(device.workdir(), archive.file_name)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / archive.file_name
        local.write_bytes(archive.data)
        return ensure_file(device, local, remote, archive.sha256)
