"""llama-server's command line for a run's settings."""

from __future__ import annotations

from melt.config import RunSettings


def server_flags(settings: RunSettings) -> dict[str, str]:
    """llama-server's flags for a run's settings, as given on its command line (stored with
    the run). One slot and no memory fitting, so the context is what `--ctx` says;
    llama.cpp's knobs (flash attention, KV-cache types, affinity, poll, mmap) from the run's
    engine settings, defaults written out so the record says them; the prompt cache in host
    RAM is off (one conversation at a time)."""
    s = settings.sampling
    knobs = settings.engine
    affinity = {"--cpu-mask": knobs.cpu_mask} if knobs.cpu_mask else {}
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
        "--seed": str(s.seed),
        "--temp": str(s.temperature),
        "--top-k": str(s.top_k),
        "--top-p": str(s.top_p),
        "--min-p": str(s.min_p),
        "--repeat-penalty": str(s.repeat_penalty),
        "--repeat-last-n": str(s.repeat_last_n),
        "--n-predict": str(settings.max_new_tokens),
    }


def server_argv(binary: str, model: str, port: int, settings: RunSettings) -> list[str]:
    argv = [binary, "--model", model, "--host", "127.0.0.1", "--port", str(port)]
    for flag, value in server_flags(settings).items():
        argv += [flag, value]
    return [*argv, "--no-webui", "--slots"]
