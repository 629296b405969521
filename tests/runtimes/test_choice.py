"""Which runtime a device's run uses: the one built for the device's ABI and the run's
backend, or one line naming the `melt runtimes build` command that makes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.runtimes.tiny_sources import good

from melt.errors import MeltError
from melt.runtimes.backends import backend
from melt.runtimes.build import BuildRequest, build
from melt.runtimes.cache import Runtime
from melt.runtimes.choice import runtime_for
from melt.runtimes.places import LocalPlace
from melt.runtimes.sources import directory_source
from melt.runtimes.targets import target


def built(
    root: Path, backend_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Runtime:
    monkeypatch.setenv("MELT_RUNTIMES", str(root))
    source = directory_source(good(tmp_path / f"src-{backend_name}"))
    request = BuildRequest(target("linux-x86_64"), backend(backend_name), ("llama-server",), source)
    return build(request, LocalPlace(), lambda _: None)


def test_no_runtime_for_the_phone_names_the_build_command(tmp_path: Path) -> None:
    with pytest.raises(MeltError) as caught:
        runtime_for("pixel", "arm64-v8a", "cpu", "llama-server", tmp_path)
    assert str(caught.value) == (
        "no llama-server for device 'pixel' (arm64-v8a, backend cpu): build one with "
        "'melt runtimes build --target android-arm64 --backend cpu', or pass --server-binary PATH"
    )


def test_cuda_is_built_on_the_board_itself(tmp_path: Path) -> None:
    with pytest.raises(MeltError, match="'melt runtimes build --on orin --backend cuda'"):
        runtime_for("orin", "aarch64", "cuda", "llama-server", tmp_path)


def test_an_architecture_melt_builds_nothing_for(tmp_path: Path) -> None:
    with pytest.raises(MeltError, match=r"no runtime for its architecture \(riscv64\)"):
        runtime_for("board", "riscv64", "cpu", "llama-server", tmp_path)


def test_the_runtime_for_the_abi_and_backend_and_a_cpu_run_takes_any(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "rt"
    vulkan = built(root, "vulkan", tmp_path, monkeypatch)
    assert runtime_for("local", "x86_64", "vulkan", "llama-server", root).id == vulkan.id
    assert runtime_for("local", "x86_64", "cpu", "llama-server", root).id == vulkan.id
    cpu = built(root, "cpu", tmp_path, monkeypatch)
    assert runtime_for("local", "x86_64", "cpu", "llama-server", root).id == cpu.id
    assert runtime_for("local", "x86_64", "vulkan", "llama-server", root).id == vulkan.id
    with pytest.raises(MeltError, match="--target android-arm64"):
        runtime_for("phone", "arm64-v8a", "cpu", "llama-server", root)
    with pytest.raises(MeltError, match="--target linux-x86_64 --backend cpu"):
        runtime_for("local", "x86_64", "cpu", "llama-bench", root)
