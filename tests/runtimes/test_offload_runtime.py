"""A run that offloads, on llama-server with no binary named, takes the device's runtime with
a GPU backend when melt had chosen a cpu one (a cpu run takes the cpu runtime first)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.runtimes.test_choice import built

from melt.devices import LocalDevice
from melt.frameworks import FrameworkOptions, get_framework
from melt.frameworks.llama_server.framework import BINARY_ENV, TOOL
from melt.runners.server_host import DeviceServerHost


def test_an_offloading_run_moves_to_the_gpu_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "rt"
    vulkan = built(root, "vulkan", tmp_path, monkeypatch)
    cpu = built(root, "cpu", tmp_path, monkeypatch)
    monkeypatch.delenv(BINARY_ENV, raising=False)
    framework = get_framework("llama-server", FrameworkOptions(DeviceServerHost(LocalDevice())))
    assert framework.binary() == cpu.binary(TOOL)  # what a cpu run (the default) uses
    assert framework.runtime["id"] == cpu.id
    framework._offload_runtime()
    assert framework.binary() == vulkan.binary(TOOL)
    assert framework.runtime["id"] == vulkan.id  # runs.runtime names what ran


def test_a_binary_the_user_named_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "rt"
    built(root, "vulkan", tmp_path, monkeypatch)
    cpu = built(root, "cpu", tmp_path, monkeypatch)
    monkeypatch.delenv(BINARY_ENV, raising=False)
    options = FrameworkOptions(DeviceServerHost(LocalDevice()), server_binary=cpu.binary(TOOL))
    framework = get_framework("llama-server", options)
    framework.binary()
    framework._offload_runtime()
    assert framework.binary() == cpu.binary(TOOL)
