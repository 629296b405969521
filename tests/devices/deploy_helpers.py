"""Files that differ from what melt deployed but keep its size, as a corrupted copy or an
attacker would leave them on a device."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

FLIPPED_BYTES = 4096


def flip_in_place(path: Path, offset: int = 8192) -> None:
    """Invert 4096 bytes of `path` where they are (same size, same inode), then put its
    access and modification times back: only the change time tells."""
    before = path.stat()
    with path.open("r+b") as fh:
        fh.seek(offset)
        block = fh.read(FLIPPED_BYTES)
        fh.seek(offset)
        fh.write(bytes(b ^ 0xFF for b in block))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size


def same_size_zipapp(size: int, marker: Path) -> bytes:
    """A zipapp of exactly `size` bytes whose `__main__` writes `marker`."""
    main = f"open({str(marker)!r}, 'w').write('ran')\n"

    def build(pad: int) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("__main__.py", main)
            zf.writestr("pad", b"\0" * pad)
        return buffer.getvalue()

    data = build(size - len(build(0)))
    assert len(data) == size
    return data
