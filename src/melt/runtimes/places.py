"""Where a runtime is built: this machine (`LocalPlace`) or an SSH board (`BoardPlace`,
`melt runtimes build --on BOARD`), behind the few operations a build needs.

A build step runs in its own process group (a terminal's Ctrl-C reaches melt alone); when melt
is interrupted (Ctrl-C, SIGTERM: `melt.interrupts` raises in the main thread) the build calls
`stop()`, which ends the step with its children before anything is cleaned up, so no compiler
keeps writing into a folder being removed, nor runs after melt has said it stopped.
"""

from __future__ import annotations

import os
import platform
import shlex
import shutil
import signal
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from melt.devices.base import Device, DeviceProcess
from melt.runtimes.cache import Runtime, file_sha256
from melt.runtimes.targets import Target

STOP_WAIT_S = 30.0
Files = dict[str, dict[str, dict[str, Any]]]


class Place(Protocol):
    name: str  # recorded as `built_on`
    key: str  # what of the place goes into a runtime's id: not this machine's hostname,
    # which changes between CI jobs that share one cache
    where: str  # for messages: "on this machine", "on device 'orin'"

    def which(self, command: str) -> bool: ...

    def version_line(self, compiler: str) -> str: ...

    def cflags(self, target: Target) -> str: ...

    def generator(self) -> list[str]: ...

    def receive_sources(self, tree: Path, runtime_id: str) -> str:
        """The path, where the build runs, of the (patched) source tree `tree`."""
        ...

    def run(self, argv: list[str], log: list[str], env: StepEnv) -> Iterator[str]:
        """The step's output lines (stdout and stderr), each also appended to `log`; `env`
        applied to the place's own environment for this step."""
        ...

    def returncode(self) -> int: ...

    def stop(self) -> None:
        """Stop the running step with its children (interrupted or failed meanwhile)."""
        ...

    def read_text(self, path: str) -> str | None: ...

    def collect(self, build_dir: str, tools: tuple[str, ...], rid: str, staging: Path) -> Files:
        """Put the built binaries and libraries where the runtime keeps them; their sha256."""
        ...

    def kept_at(self, runtime_id: str) -> dict[str, str]: ...

    def still_has(self, runtime: Runtime) -> bool:
        """The runtime's binaries are still where it keeps them."""
        ...

    def abandon(self, runtime_id: str) -> None: ...

    def cleanup(self, runtime_id: str) -> None: ...


# The library llama-cpp-python loads by name, and the file it is in a runtime.
IN_PROCESS_LIBRARY = "libllama.so"
IN_PROCESS_SONAME = "libllama.so.0"


def _libraries(bin_dir: Path) -> list[Path]:
    """The shared libraries the binaries load: each SONAME link (libggml.so.0, copied as
    the file it names) and each unversioned library no link names; not the `.so` links
    for linking nor the fully versioned files behind them."""
    entries = sorted(bin_dir.glob("lib*.so*"))
    named = {p.resolve().name for p in entries if p.is_symlink()}
    keep = []
    for entry in entries:
        if entry.is_symlink():
            if not Path(os.readlink(entry)).name.startswith(entry.name + "."):
                continue
            if (bin_dir / os.readlink(entry)).is_symlink():
                continue
            keep.append(entry)
        elif entry.name not in named:
            keep.append(entry)
    return keep


def _describe(path: Path) -> dict[str, Any]:
    return {"sha256": file_sha256(path), "size_bytes": path.stat().st_size}


# A build step's environment, as `build.step_env` gives it: a value to set, or None to unset.
StepEnv = dict[str, str | None]


def local_environment(env: StepEnv) -> dict[str, str]:
    """This process's environment with `env` applied."""
    merged = {**os.environ, **env}
    return {k: v for k, v in merged.items() if v is not None}


def env_prefix(env: StepEnv) -> list[str]:
    """`env` as an `env(1)` command prefix (POSIX `env`, busybox's too, for `-u`)."""
    unset = [arg for k, v in env.items() if v is None for arg in ("-u", k)]
    assigned = [f"{k}={v}" for k, v in env.items() if v is not None]
    return ["env", *unset, *assigned] if env else []


class LocalPlace:
    """This machine."""

    where = "on this machine"
    key = "here"

    def __init__(self) -> None:
        self.name = f"this machine ({platform.node()}, {platform.machine()})"
        self._proc: subprocess.Popen[str] | None = None

    def which(self, command: str) -> bool:
        return shutil.which(command) is not None

    def version_line(self, compiler: str) -> str:
        done = subprocess.run([compiler, "--version"], capture_output=True, text=True)
        return (done.stdout.splitlines() or [compiler])[0].strip()

    def cflags(self, target: Target) -> str:
        """The target's extra flags where this compiler knows them (gcc ≥ 11: -mno-amx-*)."""
        if not target.cflags:
            return ""
        argv = [target.cc, *target.cflags.split(), "-x", "c", "-c", "-o", os.devnull, "-"]
        done = subprocess.run(argv, input="", capture_output=True, text=True)
        return target.cflags if done.returncode == 0 else ""

    def generator(self) -> list[str]:
        return ["-G", "Ninja"] if self.which("ninja") else []

    def receive_sources(self, tree: Path, runtime_id: str) -> str:
        return str(tree)

    def run(self, argv: list[str], log: list[str], env: StepEnv) -> Iterator[str]:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
            env=local_environment(env),
        )
        self._proc = proc
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line.rstrip("\n"))
            yield log[-1]
        proc.wait()

    def returncode(self) -> int:
        assert self._proc is not None
        return self._proc.wait()

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            _stop_group(self._proc)

    def read_text(self, path: str) -> str | None:
        try:
            return Path(path).read_text()
        except OSError:
            return None

    def collect(self, build_dir: str, tools: tuple[str, ...], rid: str, staging: Path) -> Files:
        bin_dir = Path(build_dir) / "bin"  # where llama.cpp's CMakeLists puts them
        if not (bin_dir / tools[0]).is_file():
            bin_dir = Path(build_dir)
        staging.mkdir(parents=True)
        binaries, libraries = {}, {}
        for tool in tools:
            shutil.copy2(bin_dir / tool, staging / tool)
            binaries[tool] = _describe(staging / tool)
        for lib in _libraries(bin_dir):
            shutil.copy2(lib, staging / lib.name)  # follows the link: the file it names
            libraries[lib.name] = _describe(staging / lib.name)
        if IN_PROCESS_SONAME in libraries:
            # llama-cpp-python opens `libllama.so` in LLAMA_CPP_LIB_PATH: with this link the
            # in-process engine runs this very build (its Vulkan backend, say)
            (staging / IN_PROCESS_LIBRARY).symlink_to(IN_PROCESS_SONAME)
        return {"binaries": binaries, "libraries": libraries}

    def kept_at(self, runtime_id: str) -> dict[str, str]:
        return {}

    def still_has(self, runtime: Runtime) -> bool:
        return all(path.is_file() for path in runtime.files())

    def abandon(self, runtime_id: str) -> None:
        return None

    def cleanup(self, runtime_id: str) -> None:
        return None


def _stop_group(proc: subprocess.Popen[str]) -> None:
    """SIGTERM to the step's process group (cmake, ninja, the compilers), then SIGKILL."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, signum)
        except ProcessLookupError:
            return
        try:
            proc.wait(STOP_WAIT_S)
            return
        except subprocess.TimeoutExpired:
            continue


class BoardPlace:
    """An SSH board: the sources are sent as one archive into its workdir, built there
    with the board's own toolchain, and the runtime kept in `<workdir>/runtimes/<id>`."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.name = f"device '{device.name}'"
        self.where = f"on device '{device.name}'"
        self.key = f"device {device.name}"
        self._proc: DeviceProcess | None = None
        self._code: int | None = None

    def _root(self) -> str:
        return f"{self.device.workdir()}/runtimes"

    def _sh(self, script: str, timeout: float = 600.0) -> str:
        done = self.device.run(["sh", "-c", script], timeout=timeout)
        return done.stdout if done.ok else ""

    def which(self, command: str) -> bool:
        return bool(self._sh(f"command -v {shlex.quote(command)}").strip())

    def version_line(self, compiler: str) -> str:
        return (self._sh(f"{shlex.quote(compiler)} --version").splitlines() or [compiler])[0]

    def cflags(self, target: Target) -> str:
        if not target.cflags:
            return ""
        probe = f"echo | {target.cc} {target.cflags} -x c -c -o /dev/null - && echo ok"
        return target.cflags if self._sh(probe).strip() == "ok" else ""

    def generator(self) -> list[str]:
        return ["-G", "Ninja"] if self.which("ninja") else []

    def receive_sources(self, tree: Path, runtime_id: str) -> str:
        work = f"{self._root()}/.build-{runtime_id}"
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / "src.tar.gz"
            with tarfile.open(archive, "w:gz") as tar:
                tar.add(tree, arcname="src")
            self._sh(f"rm -rf {shlex.quote(work)} && mkdir -p {shlex.quote(work)}")
            self.device.push(archive, f"{work}/src.tar.gz")
        self._sh(f"cd {shlex.quote(work)} && tar -xzf src.tar.gz && rm src.tar.gz")
        return f"{work}/src"

    def run(self, argv: list[str], log: list[str], env: StepEnv) -> Iterator[str]:
        command = shlex.join([*env_prefix(env), *argv])
        proc = self.device.spawn(["sh", "-c", f"exec {command} 2>&1"])
        self._proc, self._code = proc, None
        for line in proc.lines():
            log.append(line)
            yield line
        self._code = proc.wait()

    def returncode(self) -> int:
        assert self._code is not None
        return self._code

    def stop(self) -> None:
        if self._proc is not None and self._code is None:
            self._proc.signal(signal.SIGTERM)  # the session's process group (devices/ssh.py)

    def read_text(self, path: str) -> str | None:
        try:
            return self.device.read_text(path)
        except OSError:
            return None

    def collect(self, build_dir: str, tools: tuple[str, ...], rid: str, staging: Path) -> Files:
        kept = f"{self._root()}/{rid}"
        q = shlex.quote
        bin_dir = f"{build_dir}/bin"  # where llama.cpp's CMakeLists puts them
        if not self.device.exists(f"{bin_dir}/{tools[0]}"):
            bin_dir = build_dir
        names = " ".join(q(tool) for tool in tools)
        self._sh(
            f"rm -rf {q(kept)} && mkdir -p {q(kept)} && cd {q(bin_dir)} && mv {names} {q(kept)}/"
            f' && for f in lib*.so*; do [ ! -e "$f" ] || mv "$f" {q(kept)}/; done'
        )
        sums = self._sh(f"cd {q(kept)} && find . -type f -exec sha256sum {{}} + && ls -l")
        sizes = {f[-1]: int(f[4]) for f in (ln.split() for ln in sums.splitlines()) if len(f) >= 9}
        binaries, libraries = {}, {}
        for line in sums.splitlines():
            fields = line.split()
            if len(fields) != 2 or not fields[1].startswith("./"):
                continue
            name = fields[1][2:]
            entry = {"sha256": fields[0], "size_bytes": sizes.get(name)}
            if name in tools:
                binaries[name] = entry
            elif name.startswith("lib"):
                libraries[name] = entry
        return {"binaries": binaries, "libraries": libraries}

    def kept_at(self, runtime_id: str) -> dict[str, str]:
        return {"device": self.device.name, "device_path": f"{self._root()}/{runtime_id}"}

    def still_has(self, runtime: Runtime) -> bool:
        paths = [runtime.binary(tool) for tool in runtime.provenance["binaries"]]
        return all(self.device.exists(path) for path in paths)

    def abandon(self, runtime_id: str) -> None:
        self._sh(f"rm -rf {shlex.quote(self._root() + '/' + runtime_id)}")

    def cleanup(self, runtime_id: str) -> None:
        self._sh(f"rm -rf {shlex.quote(self._root() + '/.build-' + runtime_id)}")
