"""The compute devices of the llama.cpp build melt's process loaded, from ggml's backend
registry (llama-cpp-python does not bind it), and the model parameters that offload to them.

The registry is read from the ggml copy libllama itself loaded: llama-cpp-python's `lib/`,
or the directory `LLAMA_CPP_LIB_PATH` points it at (a llama.cpp built with a GPU backend as
shared libraries). It lists every device the build can use here (a Vulkan build whose only
device is hidden lists the CPU alone) and every backend built in.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any

import llama_cpp as llama

from melt.compute import GPU_LAYERS_ALL, ComputeDevice
from melt.frameworks.llamacpp.threadpool import lib_dir, loaded_library

# enum ggml_backend_dev_type (ggml-backend.h), as melt's kinds.
DEVICE_KINDS = {0: "cpu", 1: "gpu", 2: "igpu", 3: "accel"}
# enum llama_split_mode (llama.h).
SPLIT_MODES = {"none": 0, "layer": 1, "row": 2}


def _fn(lib: Any, name: str, restype: Any, *argtypes: Any) -> Any:
    function = getattr(lib, name)
    function.restype, function.argtypes = restype, argtypes
    return function


@functools.cache
def _registry() -> Any:
    """ggml's registry functions: enumeration in libggml, device properties in libggml-base."""
    llama.llama_cpp._lib  # noqa: B018 - loads libllama and, through it, the ggml it links
    folder = lib_dir()
    ggml, base = loaded_library(folder, "libggml"), loaded_library(folder, "libggml-base")
    p, s = ctypes.c_void_p, ctypes.c_size_t
    return {
        "dev_count": _fn(ggml, "ggml_backend_dev_count", s),
        "dev_get": _fn(ggml, "ggml_backend_dev_get", p, s),
        "dev_by_name": _fn(ggml, "ggml_backend_dev_by_name", p, ctypes.c_char_p),
        "reg_count": _fn(ggml, "ggml_backend_reg_count", s),
        "reg_get": _fn(ggml, "ggml_backend_reg_get", p, s),
        "reg_name": _fn(base, "ggml_backend_reg_name", ctypes.c_char_p, p),
        "dev_reg": _fn(base, "ggml_backend_dev_backend_reg", p, p),
        "name": _fn(base, "ggml_backend_dev_name", ctypes.c_char_p, p),
        "description": _fn(base, "ggml_backend_dev_description", ctypes.c_char_p, p),
        "type": _fn(base, "ggml_backend_dev_type", ctypes.c_int, p),
        "memory": _fn(
            base, "ggml_backend_dev_memory", None, p, ctypes.POINTER(s), ctypes.POINTER(s)
        ),
    }


def _text(value: bytes | None) -> str:
    return (value or b"").decode(errors="replace")


def backends() -> tuple[str, ...]:
    """The backends built in (`CPU`, `Vulkan`, ...), whether or not they found a device."""
    r = _registry()
    return tuple(_text(r["reg_name"](r["reg_get"](i))) for i in range(r["reg_count"]()))


def devices() -> tuple[ComputeDevice, ...]:
    """Every device the loaded build can use here, as ggml's registry reports it."""
    r = _registry()
    found = []
    for index in range(r["dev_count"]()):
        dev = r["dev_get"](index)
        free, total = ctypes.c_size_t(), ctypes.c_size_t()
        r["memory"](dev, ctypes.byref(free), ctypes.byref(total))
        kind = DEVICE_KINDS.get(r["type"](dev), "accel")
        found.append(
            ComputeDevice(
                kind=kind,
                api=_text(r["reg_name"](r["dev_reg"](dev))),
                name=_text(r["name"](dev)),
                description=_text(r["description"](dev)),
                memory_total_bytes=total.value or None,
                memory_free_bytes=free.value or None,
                unified_memory=True if kind in ("cpu", "igpu") else None,
            )
        )
    return tuple(found)


class Offload:
    """llama.cpp's offload knobs applied to its model parameters; keeps the device array
    (`devices`, NULL-terminated) alive for as long as the load needs it."""

    def __init__(self, knobs: Any) -> None:
        self.knobs = knobs
        self._devices: Any = None

    def apply(self, params: Any) -> None:
        layers = getattr(self.knobs, "gpu_layers", 0)
        params.n_gpu_layers = -1 if layers == GPU_LAYERS_ALL else int(layers)
        params.split_mode = SPLIT_MODES[getattr(self.knobs, "split_mode", "layer")]
        params.main_gpu = int(getattr(self.knobs, "main_gpu", 0))
        name = getattr(self.knobs, "accel_device", None)
        if name:
            dev = _registry()["dev_by_name"](name.encode())
            self._devices = (ctypes.c_void_p * 2)(dev, None)
            params.devices = ctypes.cast(self._devices, ctypes.c_void_p)
