"""Putting files on a device once: models keyed by sha256, melt's runner by content hash.

A file is copied to a temporary name, its size and sha256 are checked on the device, and
only then is it renamed into place, so an interrupted copy never leaves a file that looks
complete. Free space is checked before anything is sent. What was sent is counted, so a
second run can show it pushed nothing.

A file already on the device is reused only when its content is known to be the one
wanted, never by its size alone: after a verified push melt records, on the controller,
the device's own `stat` of the file (size, inode, modification and change times, in ns
where the device's stat shows them). The change time moves on every write, rename or
`touch`, and no user can set it back, so a file whose stat still matches that record is
the file melt checked. Any other file of the right size is hashed on the device
(`sha256sum`) before it is used; one that differs is sent again. The device therefore
always runs the controller's exact runner, server binary and model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path

from melt.devices.base import Device, DeviceError

log = logging.getLogger(__name__)

SPACE_MARGIN_BYTES = 64 * 1024 * 1024
# size, inode, mtime, ctime: GNU, busybox and toybox stat print the times with nanoseconds.
_STAT_FORMAT = "%s %i %y %z"


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


def _stat_line(device: Device, remote: str, *, make_parent: bool = False) -> str | None:
    """The device's `stat` of `remote` (see `_STAT_FORMAT`), None when there is no file."""
    q = shlex.quote(remote)
    mkdir = f"mkdir -p {shlex.quote(posixpath.dirname(remote))} && " if make_parent else ""
    out = _sh(device, f"{mkdir}{{ stat -c {shlex.quote(_STAT_FORMAT)} {q} 2>/dev/null || :; }}")
    line = out.strip()
    return line if line[:1].isdigit() else None


class DeployRecords:
    """What melt verified on each device, kept on the controller (`<cache>/deployed/`), so
    a file on the device cannot vouch for itself: one small JSON file per (device, path),
    replaced atomically, so devices deploying in parallel never share a file."""

    def __init__(self, folder: Path | None = None) -> None:
        if folder is None:
            from melt.models.artifact import cache_dir

            folder = cache_dir() / "deployed"
        self.folder = folder

    def _path(self, device: Device, remote: str) -> Path:
        key = hashlib.sha256(f"{device.name}\0{remote}".encode()).hexdigest()[:32]
        return self.folder / f"{key}.json"

    def matches(self, device: Device, remote: str, sha256: str, stat_line: str) -> bool:
        try:
            record = json.loads(self._path(device, remote).read_text())
        except (OSError, ValueError):
            return False
        return record == {"sha256": sha256, "stat": stat_line}

    def save(self, device: Device, remote: str, sha256: str, stat_line: str) -> None:
        """Best effort: a record that cannot be written costs a hash on the device next time."""
        path = self._path(device, remote)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"sha256": sha256, "stat": stat_line}))
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            log.debug("could not record %s on %s: %s", remote, device.name, exc)


def _verified_in_place(
    device: Device, remote: str, sha256: str, size: int, records: DeployRecords
) -> bool:
    """True when the file at `remote` is the one wanted: it matches melt's record, or it has
    the right size and hashes to `sha256` on the device (then it is recorded)."""
    stat_line = _stat_line(device, remote, make_parent=True)
    if stat_line is None:
        return False
    if records.matches(device, remote, sha256, stat_line):
        return True
    if stat_line.split()[0] != str(size):
        return False
    if remote_sha256(device, remote) != sha256:
        log.warning("%s: %s is not the file melt sent there; sending it again", device.name, remote)
        return False
    records.save(device, remote, sha256, stat_line)
    return True


def ensure_file(
    device: Device, local: Path, remote: str, sha256: str, records: DeployRecords | None = None
) -> Deployed:
    """`local` at `remote` on the device, sent only when the content there is not already
    `sha256` (see the module's docstring for how that is known)."""
    records = records or DeployRecords()
    size = local.stat().st_size
    if _verified_in_place(device, remote, sha256, size, records):
        return Deployed(remote, 0)
    directory = posixpath.dirname(remote)
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
    _sh(device, f"mv -f {shlex.quote(partial)} {shlex.quote(remote)}")
    stat_line = _stat_line(device, remote)
    if stat_line is not None:
        records.save(device, remote, sha256, stat_line)
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
