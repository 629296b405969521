"""llama-server's command line for a run's settings."""

from __future__ import annotations

from melt.compute import ComputeAsk
from melt.config import RunSettings

# llama.cpp's log verbosity at which it says where the model went ("offloaded 31/31 layers
# to GPU", the model and KV buffers); the default level hides those lines.
LOAD_REPORT_VERBOSITY = "4"


def server_flags(settings: RunSettings) -> dict[str, str]:
    """llama-server's flags for a run's settings, as given on its command line (stored with
    the run). One slot and no memory fitting, so the context is what `--ctx` says;
    llama.cpp's knobs (flash attention, KV-cache types, affinity, poll, mmap) from the run's
    engine settings, defaults written out so the record says them; the prompt cache in host
    RAM is off (one conversation at a time). Offload as llama.cpp names it: `--gpu-layers`
    (0 by default: the CPU, with host-tensor op offload off too, so a GPU build's CPU run
    computes nothing on the GPU), `--split-mode`, `--main-gpu`, `--device`, and
    `--kv-offload`/`--no-kv-offload`. An empty value is a flag given alone."""
    s = settings.sampling
    knobs = settings.engine
    ask = ComputeAsk.of(knobs)
    affinity = {"--cpu-mask": knobs.cpu_mask} if knobs.cpu_mask else {}
    device = {"--device": knobs.accel_device} if knobs.accel_device else {}
    return {
        "--threads": str(settings.threads),
        "--threads-batch": str(settings.threads),
        "--ctx-size": str(settings.ctx),
        "--batch-size": str(settings.batch),
        "--ubatch-size": str(settings.batch),
        "--parallel": "1",
        "--fit": "off",
        "--flash-attn": knobs.flash_attn,
        "--cache-type-k": knobs.cache_type_k,
        "--cache-type-v": knobs.cache_type_v,
        **affinity,
        "--cpu-strict": "1" if knobs.cpu_strict else "0",
        "--poll": str(knobs.poll),
        "--load-mode": "mmap" if knobs.mmap else "none",
        "--cache-ram": "0",
        "--gpu-layers": str(knobs.gpu_layers),
        "--split-mode": knobs.split_mode,
        "--main-gpu": str(knobs.main_gpu),
        **device,
        "--kv-offload" if knobs.kv_offload else "--no-kv-offload": "",
        "--op-offload" if ask.offload else "--no-op-offload": "",
        "--seed": str(s.seed),
        "--temp": str(s.temperature),
        "--top-k": str(s.top_k),
        "--top-p": str(s.top_p),
        "--min-p": str(s.min_p),
        "--repeat-penalty": str(s.repeat_penalty),
        "--repeat-last-n": str(s.repeat_last_n),
        "--n-predict": str(settings.max_new_tokens),
    }


def server_argv(
    binary: str, model: str, port: int, settings: RunSettings, log_file: str | None = None
) -> list[str]:
    """The command line; with `log_file`, llama.cpp's load report is written there too (at
    the verbosity that has it) for the run's `ComputeUse`."""
    argv = [binary, "--model", model, "--host", "127.0.0.1", "--port", str(port)]
    for flag, value in server_flags(settings).items():
        argv += [flag, value] if value else [flag]
    if log_file is not None:
        argv += ["--log-verbosity", LOAD_REPORT_VERBOSITY, "--log-file", log_file]
    return [*argv, "--no-webui", "--slots"]
