"""Check a bench before anything is measured: the request, the framework, the model
variants, the workload, whether every turn fits the context, the store; then the device's
cores. Every bad input is found here, before the first row is written."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from melt.config import RunSettings
from melt.devices.base import Device, DeviceFacts
from melt.devices.inventory import ConnectOptions, find_entry, inventory_path, load_inventory
from melt.devices.inventory import open_device as open_inventory_device
from melt.errors import MeltError
from melt.execution.reconcile import check_reconcile
from melt.execution.request import BenchObserver, BenchRequest
from melt.frameworks import Framework, get_framework
from melt.frameworks.base import PromptCounter
from melt.models import Artifact
from melt.models.hf import LLAMA_CPP_DIR_ENV
from melt.store import Store, open_store
from melt.workloads import BUILTIN_WORKLOAD, Workload, load_workload

log = logging.getLogger(__name__)

DEFAULT_BUILTIN_CONVERSATIONS = 3


@dataclass(slots=True)
class SharedPlan:
    """What every run of one bench shares: checked once, before any device opens.
    `artifacts[i]` is the variant of `request.cells[i]`."""

    framework: Framework
    workload: Workload
    store: Store
    artifacts: list[Artifact]


def check_request(request: BenchRequest) -> None:
    if request.repeats < 1:
        raise MeltError(f"--repeats must be at least 1 (got {request.repeats})")
    if request.warmup_turns < 0:
        raise MeltError(f"--warmup must be 0 or more turns (got {request.warmup_turns})")
    if request.conversations is not None and request.conversations < 1:
        raise MeltError(f"--conversations must be at least 1 (got {request.conversations})")
    if not request.cells:
        raise MeltError("the experiment has nothing to run (no models)")
    if request.sustained_s is not None and request.sustained_s <= 0:
        raise MeltError(f"--sustained must be a positive duration (got {request.sustained_s} s)")
    check_reconcile(request)


def select_workload(request: BenchRequest) -> Workload:
    workload = load_workload(request.workload)
    wanted = request.conversations
    if wanted is None and request.workload == BUILTIN_WORKLOAD:
        wanted = DEFAULT_BUILTIN_CONVERSATIONS
    if wanted is not None and wanted > len(workload.conversations):
        log.warning(
            "workload has %d conversations; running all of them, not %d",
            len(workload.conversations),
            wanted,
        )
    return workload.take(wanted)


def check_fits(
    count: Callable[[Sequence[str]], int | None], workload: Workload, settings: RunSettings
) -> None:
    """Every single turn must fit the context with its reply budget (history may be cut)."""
    for conv in workload.conversations:
        for turn_index, text in enumerate(conv.turns):
            prompt = count([text])
            if prompt is None:
                log.warning(
                    "the framework cannot count prompt tokens (a server without a tokenizer "
                    "endpoint); not checking that every turn fits --ctx %d",
                    settings.ctx,
                )
                return
            needed = prompt + settings.max_new_tokens
            if needed > settings.ctx:
                raise MeltError(
                    f"--ctx {settings.ctx} is smaller than turn {turn_index} of conversation "
                    f"'{conv.id}' ({needed - settings.max_new_tokens} prompt tokens + "
                    f"{settings.max_new_tokens} new tokens); raise --ctx to at least {needed}"
                )


def prepare(
    request: BenchRequest, observer: BenchObserver, *, check_fit: bool = True
) -> SharedPlan:
    """Resolve and check everything but the device; nothing is written to the store here.
    A worker running a run planned elsewhere (Ray) resolves the variants again (cached) but
    does not repeat the driver's fit check."""
    check_request(request)
    if request.llama_cpp_dir is not None:  # for the converter this process may start
        os.environ[LLAMA_CPP_DIR_ENV] = str(request.llama_cpp_dir.expanduser())
    framework = get_framework(request.framework, request.framework_options)
    artifacts = [framework.variant(c.model, c.quant, observer.preparing) for c in request.cells]
    workload = select_workload(request)
    store = open_store(request.store, write=True)
    if check_fit:
        _check_every_cell_fits(request, framework, artifacts, workload)
    return SharedPlan(framework, workload, store, artifacts)


def _check_every_cell_fits(
    request: BenchRequest, framework: Framework, artifacts: list[Artifact], workload: Workload
) -> None:
    counters: dict[str, PromptCounter | None] = {}
    checked: set[tuple[str, int, int]] = set()
    for cell, artifact in zip(request.cells, artifacts, strict=True):
        key = (artifact.sha256, cell.settings.ctx, cell.settings.max_new_tokens)
        if key in checked:
            continue
        checked.add(key)
        if artifact.sha256 not in counters:
            counters[artifact.sha256] = framework.prompt_counter(artifact)
        counter = counters[artifact.sha256]
        if counter is None:  # no weight-free tokenizer: count with the loaded engine
            engine = framework.load(artifact, cell.settings)
            try:
                check_fits(engine.chat_prompt_tokens, workload, cell.settings)
            finally:
                engine.close()
            continue
        check_fits(counter, workload, cell.settings)


def open_device(request: BenchRequest, name: str) -> Device:
    """Device `name` from the request's inventory (`local` always exists)."""
    inventory = load_inventory(inventory_path(request.devices_file))
    entry = find_entry(inventory, name)
    root = None if request.probes.root == Path("/") else request.probes.root
    if root is not None and not entry.on_controller:
        raise MeltError("--sysfs-root works with a local device only (it replaces its /sys)")
    if root is not None and not root.is_dir():
        raise MeltError(f"--sysfs-root: '{root}' is not a directory")
    return open_inventory_device(
        entry, ConnectOptions(accept_new_host_key=request.accept_new_host_key, root=root)
    )


def check_threads(request: BenchRequest, facts: DeviceFacts) -> None:
    """More threads than the device has logical cores make no progress (llama.cpp spins
    them); more than physical cores is allowed but said."""
    logical, physical = facts.logical_cores, facts.physical_cores
    for cell in request.cells:
        threads = cell.settings.threads
        if logical and threads > logical and not request.allow_oversubscribe:
            raise MeltError(
                f"--threads {threads}: device '{facts.name}' has {logical} logical cores; "
                "use at most that many, or pass --allow-oversubscribe"
            )
        if physical and threads > physical:
            log.warning(
                "--threads %d exceeds the %d physical cores of device '%s'; decode usually "
                "slows down when threads share cores",
                threads,
                physical,
                facts.name,
            )
