"""ggml's CPU threadpool, bound with ctypes (llama-cpp-python does not bind it).

llama-bench creates one threadpool per context (`ggml_threadpool_new`) from its `--cpu-mask`,
`--cpu-strict`, `--poll` and thread count, and attaches it (`llama_attach_threadpool`). A
context without one makes a disposable threadpool inside every graph computation, i.e. once
per generated token. melt attaches one the way llama-bench does, so the same knobs mean the
same thing and a token costs what it costs in llama-bench.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any

import llama_cpp as llama

GGML_MAX_N_THREADS = 512


class ThreadpoolParams(ctypes.Structure):
    """`struct ggml_threadpool_params` (ggml.h)."""

    _fields_ = (
        ("cpumask", ctypes.c_bool * GGML_MAX_N_THREADS),
        ("n_threads", ctypes.c_int),
        ("prio", ctypes.c_int),
        ("poll", ctypes.c_uint32),
        ("strict_cpu", ctypes.c_bool),
        ("paused", ctypes.c_bool),
    )


def lib_dir() -> Path:
    """The directory libllama was loaded from: llama-cpp-python's `lib/`, or the one its
    `LLAMA_CPP_LIB_PATH` override names (a llama.cpp built as shared libraries)."""
    return Path(llama.llama_cpp._base_path)


def loaded_library(folder: Path, stem: str) -> Any:
    """The copy of `stem` (e.g. `libggml-cpu`) that libllama already loaded.

    A wheel cannot hold symlinks, so llama-cpp-python's `lib/` may hold `libggml-cpu.so`
    and `libggml-cpu.so.0` as two separate files; libllama loads the one its NEEDED entry
    names (the SONAME), and opening the other by path maps a second, uninitialised copy of
    ggml's CPU backend, whose threadpool crashes the first one's graph computation. So the
    library in use is found with RTLD_NOLOAD (which opens only what is already mapped);
    only where none is (no such copies, or another platform) is a file opened."""
    candidates = sorted(folder.glob(f"{stem}.*"), key=lambda p: (-len(p.name), p.name))
    for path in candidates:
        try:
            return ctypes.CDLL(str(path), mode=os.RTLD_NOLOAD | ctypes.RTLD_GLOBAL)
        except OSError:
            continue
    return ctypes.CDLL(str(folder / f"{stem}.so"))


def _libraries() -> tuple[Any, Any, Any]:
    folder = lib_dir()
    lib = llama.llama_cpp._lib  # loads libllama and, through it, the ggml it links
    base = loaded_library(folder, "libggml-base")
    cpu = loaded_library(folder, "libggml-cpu")
    base.ggml_threadpool_params_init.argtypes = (ctypes.POINTER(ThreadpoolParams), ctypes.c_int)
    base.ggml_threadpool_params_init.restype = None
    cpu.ggml_threadpool_new.argtypes = (ctypes.POINTER(ThreadpoolParams),)
    cpu.ggml_threadpool_new.restype = ctypes.c_void_p
    cpu.ggml_threadpool_free.argtypes = (ctypes.c_void_p,)
    cpu.ggml_threadpool_free.restype = None
    lib.llama_attach_threadpool.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
    lib.llama_attach_threadpool.restype = None
    return base, cpu, lib


_LIBS: list[tuple[Any, Any, Any]] = []


def _libs() -> tuple[Any, Any, Any]:
    if not _LIBS:
        _LIBS.append(_libraries())
    return _LIBS[0]


def mask_cpus(mask_hex: str) -> list[int]:
    """CPU indices set in a hex mask (bit i = CPU i), as llama.cpp's `parse_cpu_mask`."""
    value = int(mask_hex, 16)
    return [i for i in range(min(value.bit_length(), GGML_MAX_N_THREADS)) if value >> i & 1]


class Threadpool:
    """One ggml threadpool attached to a context for both prefill and decode."""

    def __init__(
        self, ctx: Any, threads: int, *, cpu_mask: str | None, strict: bool, poll: int
    ) -> None:
        base, cpu, lib = _libs()
        params = ThreadpoolParams()
        base.ggml_threadpool_params_init(ctypes.byref(params), threads)
        for index in mask_cpus(cpu_mask) if cpu_mask else []:
            params.cpumask[index] = True
        params.strict_cpu = strict
        params.poll = poll
        self._cpu = cpu
        self._pool = cpu.ggml_threadpool_new(ctypes.byref(params))
        if not self._pool:
            raise RuntimeError("ggml_threadpool_new failed")
        lib.llama_attach_threadpool(ctx, self._pool, self._pool)

    def free(self) -> None:
        """Free the pool; the context it was attached to must be freed first."""
        if self._pool:
            self._cpu.ggml_threadpool_free(self._pool)
            self._pool = None
