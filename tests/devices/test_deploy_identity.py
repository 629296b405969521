"""A file already on a board is reused only when its content is the one melt would send
(issue 24, reuse by size): a same-size corruption is sent again, a same-size runner is
never executed."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from deploy_helpers import flip_in_place, same_size_zipapp

from melt.devices.deploy import ensure_model, ensure_runner, file_sha256
from melt.devices.inventory import ConnectOptions, find_entry, load_inventory, open_device
from melt.devices.ssh import SshDevice
from melt.runners.package import runner_archive


def _open(path: Path) -> SshDevice:
    device = open_device(find_entry(load_inventory(path), "board"), ConnectOptions())
    assert isinstance(device, SshDevice)
    return device


def test_a_same_size_corruption_of_a_model_on_the_board_is_sent_again(
    inventory: Callable[..., Path], tmp_path: Path
) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" + os.urandom(1 << 20))
    sha = file_sha256(model)
    device = _open(inventory())
    try:
        first = ensure_model(device, model, sha)
        assert first.bytes_pushed == model.stat().st_size
        assert ensure_model(device, model, sha).bytes_pushed == 0  # intact: reused
        on_board = Path(first.path)  # loopback: the board's filesystem is this one
        flip_in_place(on_board)
        again = ensure_model(device, model, sha)
        assert again.path == first.path
        assert again.bytes_pushed == model.stat().st_size
        assert hashlib.sha256(on_board.read_bytes()).hexdigest() == sha
        assert ensure_model(device, model, sha).bytes_pushed == 0
    finally:
        device.close()


def test_a_same_size_runner_on_the_board_is_replaced_not_executed(
    inventory: Callable[..., Path], tmp_path: Path
) -> None:
    device = _open(inventory())
    marker = tmp_path / "the-impostor-ran"
    try:
        runner = Path(ensure_runner(device).path)
        archive = runner_archive()
        runner.write_bytes(same_size_zipapp(len(archive.data), marker))
        facts = device.facts()  # runs the runner on the board
        assert facts.llama_cpp_python == "0.3.36"
        assert not marker.exists()
        assert hashlib.sha256(runner.read_bytes()).hexdigest() == archive.sha256
    finally:
        device.close()


def test_a_file_of_the_right_content_left_by_another_controller_is_reused(
    inventory: Callable[..., Path], tmp_path: Path
) -> None:
    """No record on this controller (another one pushed it): hashed on the board, then kept."""
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" + os.urandom(300_000))
    sha = file_sha256(model)
    device = _open(inventory())
    try:
        remote = Path(device.workdir()) / "models" / f"{sha}.gguf"
        remote.parent.mkdir(parents=True, exist_ok=True)
        remote.write_bytes(model.read_bytes())
        assert ensure_model(device, model, sha).bytes_pushed == 0
    finally:
        device.close()
