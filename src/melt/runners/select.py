"""Which runner serves a device and framework: a server framework's engine on the controller
(its server on the device), else melt's own process for the local device and melt's
shipped runner for every other transport that has Python."""

from __future__ import annotations

from melt.devices.base import Device, DeviceError, DeviceFacts
from melt.frameworks.base import FrameworkOptions
from melt.runners.base import Runner, RunOptions
from melt.runners.controller import SERVER_FRAMEWORKS

LLAMA_CPP_INSTALL = "pip install llama-cpp-python==0.3.36"
# Transports whose devices have no Python: only server frameworks run there.
NO_PYTHON = {"adb": "phones run --framework llama-server (melt pushes llama.cpp's server)"}


def default_framework(device: Device) -> str:
    """The framework `melt devices check` prepares a runner for on this device."""
    return "llama-server" if device.transport in NO_PYTHON else "llama.cpp"


def check_framework_on(device: Device, framework: str) -> None:
    """One line when the framework cannot run on the device's transport."""
    why = NO_PYTHON.get(device.transport)
    if why is not None and framework not in SERVER_FRAMEWORKS:
        raise DeviceError(f"--framework {framework} on device '{device.name}': {why}")


def make_runner(
    device: Device,
    framework: str,
    facts: DeviceFacts,
    options: FrameworkOptions | None = None,
    run_options: RunOptions | None = None,
) -> Runner:
    check_framework_on(device, framework)
    if framework in SERVER_FRAMEWORKS:
        from melt.runners.controller import ControllerRunner

        return ControllerRunner(device, options, run_options)
    if device.transport == "local":
        from melt.devices.local import LocalDevice
        from melt.runners.inprocess import InProcessRunner

        assert isinstance(device, LocalDevice)
        return InProcessRunner(device, options)
    from melt.runners.remote import check_remote_framework

    check_remote_framework(device, framework)
    python = getattr(device, "python", None)
    if python is None:
        raise DeviceError(
            f"device '{device.name}' ({device.transport}) has no Python for melt's runner; "
            "use a server framework there (--framework llama-server)"
        )
    if framework == "llama.cpp" and facts.llama_cpp_python is None:
        raise DeviceError(
            f"device '{device.name}': {python} has no llama-cpp-python; install it there "
            f"({python} -m {LLAMA_CPP_INSTALL})"
        )
    from melt.runners.remote import AgentRunner

    return AgentRunner(device, python)
