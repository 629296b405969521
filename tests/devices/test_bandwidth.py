"""The bandwidth measurement, run for real (in process and as a standalone script)."""

import json
import math
import subprocess
import sys
from pathlib import Path

import melt.devices.bandwidth as bandwidth_module
from melt.devices.bandwidth import measure_bandwidth


def test_measures_a_finite_rate_and_names_its_method() -> None:
    bw = measure_bandwidth(buffer_bytes=8 * 1024 * 1024, budget_s=0.2)
    assert math.isfinite(bw.bytes_per_s) and bw.bytes_per_s > 1e8  # any machine beats 100 MB/s
    assert bw.method.startswith("numpy dot of a 8 MiB float64 vector with itself")
    assert bw.as_fact() == {"bytes_per_s": bw.bytes_per_s, "method": bw.method}


def test_runs_as_a_script_with_only_numpy_and_the_standard_library(tmp_path: Path) -> None:
    # copied out of the package, as melt would push it to a device: no melt import possible
    script = tmp_path / "bandwidth.py"
    script.write_text(Path(bandwidth_module.__file__).read_text())
    done = subprocess.run(
        [sys.executable, "-I", str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    fact = json.loads(done.stdout)
    assert fact["bytes_per_s"] > 1e8 and "numpy dot" in fact["method"]
