"""What a user reads when the binary given as llama-server is not one, or dies before it
listens: one line with its exit code and its last output lines (issue 24)."""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from melt.config import RunSettings
from melt.devices import LocalDevice
from melt.frameworks import FrameworkOptions, get_framework
from melt.frameworks.llama_server.process import ServerStartError
from melt.models import Artifact
from melt.runners.server_host import DeviceServerHost


@pytest.fixture
def device() -> Iterator[LocalDevice]:
    dev = LocalDevice()
    yield dev
    dev.close()


def test_bin_false_as_the_server_is_one_line_with_its_exit_code(melt: Callable[..., Any]) -> None:
    result = melt(
        "bench", "--framework", "llama-server", "--server-binary", "/bin/false",
        "--conversations", "1", "--warmup", "0", "--max-new-tokens", "4",
    )  # fmt: skip
    assert result.code == 2
    assert result.err.strip().count("\n") == 0
    assert "/bin/false is not a working llama-server" in result.err
    assert "`--version` exited with code 1" in result.err
    assert "Written by" in result.err  # its last output line, whole


def test_a_server_that_dies_before_listening_says_its_code_and_last_lines(
    device: LocalDevice, tmp_path: Path, bundled: Artifact
) -> None:
    binary = tmp_path / "llama-server"
    noise = "; ".join(f"echo 'load step {i}' >&2" for i in range(12))
    binary.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = --version ]; then echo "version: 1 (test)"; exit 0; fi\n'
        f"{noise}; echo 'error: failed to load model' >&2; exit 3\n"
    )
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    options = FrameworkOptions(server_binary=str(binary), device=DeviceServerHost(device))
    framework = get_framework("llama-server", options)
    assert framework.version() == "llama-server 1 (test)"
    with pytest.raises(ServerStartError) as err:
        framework.load(bundled, RunSettings(threads=1, ctx=512))
    message = str(err.value)
    assert "\n" not in message
    assert "exited with code 3 before listening" in message
    assert message.endswith("load step 10 | load step 11 | error: failed to load model")
