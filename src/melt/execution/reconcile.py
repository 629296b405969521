"""`melt bench --reconcile`: llama.cpp's llama-bench, of the run's own llama.cpp build, run on
the run's device right after the run, at the run's settings and the shape of its turns.

The shape is read from the turns the run stored: `-p` the median prompt evaluated per turn,
`-d` the median depth (tokens reused from earlier turns, already in the KV cache), `-n` the
reply budget. llama-bench runs once the run's engine is closed, so the two never share the
device. Its rows are checked against what it was asked (`parse_rows`) before they are
stored in `tool_rows` beside the run; `report/reconcile.py` compares them with the run.
"""

from __future__ import annotations

import logging

from melt.config import RunSettings
from melt.devices.base import Device, DeviceError, DeviceFacts
from melt.devices.deploy import ensure_model
from melt.errors import MeltError
from melt.execution.request import BenchRequest
from melt.execution.tools import PlacedTool, place_tool, tool_path
from melt.frameworks.llamacpp.llama_bench import TOOL, BenchShape, bench_argv, parse_rows
from melt.frameworks.llamacpp.settings import LlamaCppKnobs
from melt.metrics.reconcile import Spread
from melt.models import Artifact
from melt.store import Store

log = logging.getLogger(__name__)

LLAMA_BENCH_TIMEOUT_S = 900.0


def check_reconcile(request: BenchRequest) -> None:
    """`--reconcile` needs a llama.cpp run (llama-bench measures llama.cpp)."""
    if not request.reconcile:
        return
    for cell in request.cells:
        if not isinstance(cell.settings.engine, LlamaCppKnobs):
            raise MeltError(
                f"--reconcile runs llama.cpp's llama-bench beside the run, and --framework "
                f"{request.framework} is not llama.cpp: use --framework llama.cpp or "
                f"llama-server, or drop --reconcile"
            )


class Reconciler:
    """llama-bench placed on one device, run after each of its runs."""

    def __init__(self, device: Device, tool: PlacedTool) -> None:
        self.device = device
        self.tool = tool

    @classmethod
    def for_device(
        cls, request: BenchRequest, device: Device, facts: DeviceFacts
    ) -> Reconciler | None:
        """The device's llama-bench (located and put there before any run), or None
        without `--reconcile`."""
        if not request.reconcile:
            return None
        options = request.framework_options
        path = tool_path(TOOL, request.framework, options, facts, device.on_controller, device.name)
        return cls(device, place_tool(device, TOOL, path))

    def after_run(
        self, store: Store, run_id: int, settings: RunSettings, artifact: Artifact
    ) -> None:
        """Measure the run's shape with llama-bench on the device and store its rows."""
        shape = run_shape(store, run_id, settings)
        if shape is None:
            log.warning("run %d: no measured turn with token counts; llama-bench not run", run_id)
            return
        model = ensure_model(self.device, artifact.path, artifact.sha256).path
        argv = bench_argv(self.tool.path, model, settings, shape)
        result = self.device.run(argv, timeout=LLAMA_BENCH_TIMEOUT_S)
        if not result.ok:
            tail = " | ".join(result.stderr.strip().splitlines()[-3:])
            raise DeviceError(
                f"{self.device.name}: {TOOL} exited with code {result.returncode}: {tail}"
            )
        rows = parse_rows(result.stdout, shape)
        binary = {"melt_tool_sha256": self.tool.sha256}  # which build measured the row
        columns = [{**row.as_columns(), "row": {**row.row, **binary}} for row in rows]
        store.add_tool_rows(run_id, TOOL, argv, columns)


def run_shape(store: Store, run_id: int, settings: RunSettings) -> BenchShape | None:
    """llama-bench's shape for a run: the median prompt and depth of its measured turns and
    its reply budget (None when no measured turn recorded its prompt)."""
    measured = [t for t in store.turns(run_id) if not t["warmup"]]
    prompt = Spread.of([t["prompt_tokens_evaluated"] for t in measured])
    depth = Spread.of([t["prompt_tokens_reused"] for t in measured])
    if prompt is None:
        return None
    return BenchShape(
        prompt_tokens=prompt.median,
        gen_tokens=settings.max_new_tokens,
        depth_tokens=0 if depth is None else depth.median,
    )
