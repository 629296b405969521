"""Memory read bandwidth of the machine this runs on, for the roofline of decode.

Decode reads the weights and the KV cache; it writes little. So the figure is a read: the
dot product of a float64 vector much larger than the caches with itself (BLAS, SIMD loads,
with the BLAS library's default threads), timed again and again for `BUDGET_S` (at least
`MIN_REPEATS` times); the fastest repeat counts (the others lost time to the scheduler or to
other processes: on a shared machine a short measurement reads low). Bytes read = the
vector's size (the one vector is read once per product).

Only numpy and the standard library: melt can ship this file to a device and run it there.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

import numpy as np

BUFFER_BYTES = 64 * 1024 * 1024
MIN_REPEATS = 5
MAX_REPEATS = 200
BUDGET_S = 2.0


@dataclass(frozen=True, slots=True)
class Bandwidth:
    bytes_per_s: float
    method: str

    def as_fact(self) -> dict[str, object]:
        """The `memory_bandwidth` device fact."""
        return asdict(self)


def measure_bandwidth(buffer_bytes: int = BUFFER_BYTES, budget_s: float = BUDGET_S) -> Bandwidth:
    vector = np.ones(buffer_bytes // 8, dtype=np.float64)
    float(vector @ vector)  # fault the pages in before timing
    times: list[int] = []
    deadline = time.perf_counter_ns() + int(budget_s * 1e9)
    while len(times) < MIN_REPEATS or (
        time.perf_counter_ns() < deadline and len(times) < MAX_REPEATS
    ):
        start = time.perf_counter_ns()
        float(vector @ vector)
        times.append(max(time.perf_counter_ns() - start, 1))
    return Bandwidth(
        bytes_per_s=vector.nbytes / (min(times) / 1e9),
        method=(
            f"numpy dot of a {vector.nbytes // 2**20} MiB float64 vector with itself "
            f"(read-only, BLAS default threads), fastest of {len(times)} in {budget_s:g} s"
        ),
    )


if __name__ == "__main__":  # on a device: python bandwidth.py → one JSON line
    print(json.dumps(measure_bandwidth().as_fact()))
