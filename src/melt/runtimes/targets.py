"""The targets a runtime is built for: an OS and an ABI, the compilers that build for it, and
the CMake flags that make its binaries run there.

`linux-x86_64` is this machine's own (native build, shared libraries with RPATH `$ORIGIN`, so
one directory holds the binaries and `libllama`/`libggml*`); `linux-arm64` and
`android-arm64` are cross builds with Debian's `g++-aarch64-linux-gnu`, linked fully static:
Android runs a static ELF from `/data/local/tmp` over adb shell, so a phone needs no NDK.
`--ndk PATH` builds the bionic binary instead (`ndk_flags`).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from pathlib import Path

from melt.errors import MeltError

# ggml's AMX kernels crash on some Sapphire Rapids machines (llama.cpp issue 20824); an
# explicit -mno-* wins over -march=native, so every x86-64 build melt makes leaves them out.
NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
ARM_ARCH = "armv8.2-a+dotprod"  # every arm64 phone since 2018 (Cortex-A55/A75) has dotprod


@dataclass(frozen=True)
class Target:
    """Where a runtime runs. `abis` are the device architectures that run it (a device's
    `facts().arch`: `uname -m` on Linux, the first of `ro.product.cpu.abilist` on a phone);
    `cc`/`cxx` the compilers and `package` the Debian package that has them (None: the
    machine's own `cc`/`c++`)."""

    name: str
    abis: tuple[str, ...]
    cmake_flags: tuple[str, ...]
    cc: str = "cc"
    cxx: str = "c++"
    package: str | None = None
    static: bool = False
    march: str = "native"
    cflags: str = ""
    host_machine: str | None = None  # a native target: the machine that can build it
    android: bool = False
    env: dict[str, str] = field(default_factory=dict)

    @property
    def cross(self) -> bool:
        return self.package is not None

    def ndk_flags(self, ndk: Path) -> tuple[str, ...]:
        """The CMake flags of a bionic build with the user's NDK (android targets only)."""
        toolchain = ndk / "build" / "cmake" / "android.toolchain.cmake"
        if not self.android:
            raise MeltError(f"--ndk is for android targets, not --target {self.name}")
        if not toolchain.is_file():
            raise MeltError(
                f"--ndk {ndk}: no build/cmake/android.toolchain.cmake there (pass the NDK's "
                "root directory, e.g. ~/Android/Sdk/ndk/27.0.12077973)"
            )
        return (
            f"-DCMAKE_TOOLCHAIN_FILE={toolchain}",
            "-DANDROID_ABI=arm64-v8a",
            "-DANDROID_PLATFORM=android-28",
            "-DGGML_NATIVE=OFF",
            f"-DGGML_CPU_ARM_ARCH={ARM_ARCH}",
            "-DGGML_OPENMP=OFF",
            "-DBUILD_SHARED_LIBS=OFF",
        )


_CROSS_ARM64 = (
    "-DCMAKE_SYSTEM_NAME=Linux",
    "-DCMAKE_SYSTEM_PROCESSOR=aarch64",
    "-DGGML_NATIVE=OFF",
    f"-DGGML_CPU_ARM_ARCH={ARM_ARCH}",
    "-DGGML_OPENMP=OFF",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DCMAKE_EXE_LINKER_FLAGS=-static",
    "-DLLAMA_CURL=OFF",
)

TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            name="linux-x86_64",
            abis=("x86_64",),
            cmake_flags=(
                "-DGGML_NATIVE=ON",
                "-DBUILD_SHARED_LIBS=ON",
                "-DCMAKE_BUILD_WITH_INSTALL_RPATH=ON",
                "-DCMAKE_INSTALL_RPATH=$ORIGIN",
            ),
            cflags=NO_AMX,
            host_machine="x86_64",
        ),
        Target(
            name="linux-arm64",
            abis=("aarch64", "arm64"),
            cmake_flags=_CROSS_ARM64,
            cc="aarch64-linux-gnu-gcc",
            cxx="aarch64-linux-gnu-g++",
            package="g++-aarch64-linux-gnu",
            static=True,
            march=ARM_ARCH,
        ),
        Target(
            name="android-arm64",
            abis=("arm64-v8a",),
            cmake_flags=_CROSS_ARM64,
            cc="aarch64-linux-gnu-gcc",
            cxx="aarch64-linux-gnu-g++",
            package="g++-aarch64-linux-gnu",
            static=True,
            march=ARM_ARCH,
            android=True,
        ),
    )
}


def target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise MeltError(
            f"unknown --target '{name}' (choose one of: {', '.join(TARGETS)})"
        ) from None


def target_for_abi(abi: str | None) -> Target | None:
    """The target whose binaries a device of architecture `abi` runs, if melt has one."""
    return next((t for t in TARGETS.values() if abi in t.abis), None)


def native_target() -> Target:
    """The target of this machine (what `melt runtimes build` makes by default)."""
    found = target_for_abi(platform.machine())
    if found is None or found.cross:
        raise MeltError(
            f"this machine ({platform.machine()}) has no native target: pass --target "
            f"(one of: {', '.join(TARGETS)})"
        )
    return found
