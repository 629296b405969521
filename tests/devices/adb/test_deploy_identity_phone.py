"""The phone keeps no file melt did not verify (issue 24, reuse by size): a model on the
phone with 4096 bytes flipped in place is sent again, whatever its size says."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from tests.devices.deploy_helpers import flip_in_place
from tests.fixtures.adb.harness import FakePhone

from melt.devices.adb import AdbDevice
from melt.devices.deploy import ensure_model, file_sha256


def test_a_same_size_corruption_on_the_phone_is_sent_again(
    device: AdbDevice, phone: FakePhone, tmp_path: Path
) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" + os.urandom(1 << 20))
    sha = file_sha256(model)
    first = ensure_model(device, model, sha)
    assert first.bytes_pushed == model.stat().st_size
    assert ensure_model(device, model, sha).bytes_pushed == 0
    on_phone = phone.root / first.path.lstrip("/")
    flip_in_place(on_phone)
    assert ensure_model(device, model, sha).bytes_pushed == model.stat().st_size
    assert hashlib.sha256(on_phone.read_bytes()).hexdigest() == sha
