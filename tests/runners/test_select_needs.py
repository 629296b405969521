"""The runner choice checks what a framework declares it needs on the device, whatever the
framework (not a llama.cpp-only fact)."""

import sys
from dataclasses import replace

import pytest

from melt.devices import LocalDevice
from melt.devices.base import DeviceError
from melt.frameworks.registry import Needs, declaration
from melt.runners.select import check_needs


def test_a_module_the_devices_python_lacks_is_one_line_with_its_install() -> None:
    spec = replace(
        declaration("onnxruntime-genai"),
        needs=Needs("melt_no_such_module", "melt-no-such", "melt-no-such==1.0"),
    )
    with pytest.raises(DeviceError) as caught:
        check_needs(LocalDevice(), sys.executable, spec)
    assert str(caught.value) == (
        f"device 'local': {sys.executable} has no melt-no-such; install it there "
        f"({sys.executable} -m pip install 'melt-no-such==1.0')"
    )


def test_a_module_the_devices_python_has_passes() -> None:
    spec = replace(declaration("onnxruntime-genai"), needs=Needs("json", "json", "json"))
    check_needs(LocalDevice(), sys.executable, spec)
