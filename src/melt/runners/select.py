"""Which runner serves a device and framework, from the framework's declared kind: a server
framework's engine on the controller (its server on the device), else melt's own process
for the local device and melt's shipped runner for every other transport that has Python,
once the device has what the framework needs there (its declared Python module)."""

from __future__ import annotations

from melt.devices.base import Device, DeviceError, DeviceFacts
from melt.errors import MeltError
from melt.frameworks.base import FrameworkOptions
from melt.frameworks.registry import DEFAULT, Declaration, declaration
from melt.runners.base import Runner, RunOptions

# Transports whose devices have no Python: only server frameworks run there.
# Exit status 0 when the module named by the first argument can be imported.
_HAS_MODULE = "import importlib.util,sys; sys.exit(importlib.util.find_spec(sys.argv[1]) is None)"


def default_framework(device: Device) -> str:
    """The framework `melt devices check` prepares a runner for on this device."""
    return "llama-server" if device.no_runner else DEFAULT


def check_framework_on(device: Device, framework: str) -> None:
    """One line when the framework cannot run on the device's transport."""
    why = device.no_runner
    if why is not None and not declaration(framework).kind.is_server:
        raise MeltError(f"--framework {framework} on device '{device.name}': {why}")


def make_runner(
    device: Device,
    framework: str | None,
    facts: DeviceFacts,
    options: FrameworkOptions | None = None,
    run_options: RunOptions | None = None,
) -> Runner:
    """The runner for `framework` on `device`; None for melt's runner with no framework
    (probes and measurements only). `facts` are the device's, as the session read them."""
    spec = None if framework is None else declaration(framework)
    if spec is not None:
        check_framework_on(device, spec.name)
        if spec.kind.is_server:
            from melt.runners.controller import ControllerRunner

            return ControllerRunner(device, options, run_options)
    if device.on_controller:
        from melt.devices.local import LocalDevice
        from melt.runners.inprocess import InProcessRunner

        assert isinstance(device, LocalDevice)
        return InProcessRunner(device, options)
    from melt.runners.remote import check_remote_framework

    check_remote_framework(device, framework)
    python = getattr(device, "python", None)
    if python is None or facts.python is None:
        raise MeltError(
            f"device '{device.name}' ({device.transport}) has no Python for melt's runner; "
            "use a server framework there (--framework llama-server)"
        )
    if spec is not None:
        check_needs(device, python, spec)
    from melt.runners.remote import AgentRunner

    return AgentRunner(device, python)


def check_needs(device: Device, python: str, spec: Declaration) -> None:
    """One line when the device's Python lacks the module the framework declares it needs."""
    needs = spec.needs
    if needs.python_module is None:
        return
    if not device.run([python, "-c", _HAS_MODULE, needs.python_module], timeout=60.0).ok:
        raise DeviceError(
            f"device '{device.name}': {python} has no {needs.distribution or needs.python_module}"
            f"; install it there ({python} -m pip install '{needs.requirement}')"
        )
