"""What does serving through llama-server cost compared with llama.cpp in process?

On the local device, alternate (order swapped every round) melt's in-process llama.cpp
engine and `--framework llama-server` (the same llama.cpp, started by melt, driven over
HTTP), same model, settings (threads, greedy, seed) and fixed prompts, and print per round:

* server/in-process decode ratio by the server's own `timings` (its clock, on the device)
  and by token arrival times on the controller, each against the in-process engine's
  timestamp decode rate;
* controller-vs-server: (arrival-time decode − server's own decode) / server's own.

min / median / max over rounds. Targets: server-side decode ≥ 0.97× in-process; arrival-time
decode within 3 % of the server's own (loopback).

    python benchmarks/server_overhead.py --rounds 5 [--server-binary PATH]
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Iterable, Sequence

from melt.config import RunSettings, SamplingSettings
from melt.devices import LocalDevice
from melt.frameworks import Engine, FrameworkOptions, get_framework
from melt.models import resolve_model
from melt.runners.server_host import DeviceServerHost
from melt.traces import TurnTrace
from melt.workloads import Conversation

PROMPTS = (
    "Write a detailed, long story about a lighthouse keeper who finds a message in a bottle.",
    "Explain step by step, at length, how a bicycle gear system works and how to maintain it.",
    "Describe in detail a week-long walking tour of the Scottish Highlands, day by day.",
)


def arrival_rate(traces: Iterable[TurnTrace]) -> float:
    """Pooled (n − 1) / (last − first) over turns, in tok/s, from each trace's timestamps."""
    steps = span_ns = 0
    for t in traces:
        if t.generated_tokens > 1:
            steps += t.generated_tokens - 1
            span_ns += t.token_ns[-1] - t.token_ns[0]
    return steps / (span_ns / 1e9)


def server_rate(traces: Iterable[TurnTrace]) -> float:
    """Pooled decode steps / predicted_ms, the server's own figures, in tok/s."""
    steps = 0
    ms = 0.0
    for t in traces:
        if t.engine is not None and t.engine.decode_tokens and t.engine.decode_ms:
            steps += t.engine.decode_tokens
            ms += t.engine.decode_ms
    return steps / (ms / 1e3)


def play(engine: Engine, conversations: Sequence[Conversation]) -> list[TurnTrace]:
    return [t for i, c in enumerate(conversations) for t in engine.converse(c, i)]


def spread(values: Sequence[float]) -> str:
    return f"min {min(values):.4f}  median {statistics.median(values):.4f}  max {max(values):.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--server-binary", default=None)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    args = parser.parse_args()

    artifact = resolve_model(args.model)
    settings = RunSettings(
        threads=args.threads,
        ctx=1024,
        max_new_tokens=args.max_new_tokens,
        sampling=SamplingSettings(temperature=0.0, seed=0),
    )
    conversations = [Conversation(f"p{i}", (p,)) for i, p in enumerate(PROMPTS)]
    device = LocalDevice()
    in_process = get_framework("llama.cpp").load(artifact, settings)
    server_fw = get_framework(
        "llama-server", FrameworkOptions(DeviceServerHost(device), server_binary=args.server_binary)
    )
    server = server_fw.load(artifact, settings)
    print(f"model {artifact.name} ({artifact.sha256[:12]}), {server_fw.version()}")
    print(
        f"threads {args.threads}, greedy, max_new_tokens {args.max_new_tokens}, "
        f"{len(PROMPTS)} prompts per round, {args.rounds} rounds (order swapped each round)"
    )
    try:
        play(in_process, conversations[:1])  # warm both up once
        play(server, conversations[:1])
        own_ratio: list[float] = []
        arrival_ratio: list[float] = []
        controller_vs_server: list[float] = []
        for r in range(args.rounds):
            runs = {"in-process": in_process, "server": server}
            order = list(runs) if r % 2 == 0 else list(reversed(runs))
            traces = {name: play(runs[name], conversations) for name in order}
            base = arrival_rate(traces["in-process"])
            own = server_rate(traces["server"])
            arrival = arrival_rate(traces["server"])
            own_ratio.append(own / base)
            arrival_ratio.append(arrival / base)
            controller_vs_server.append((arrival - own) / own)
            tokens = sum(t.generated_tokens for t in traces["server"])
            print(
                f"round {r + 1} ({' then '.join(order)}): in-process {base:.1f} tok/s, "
                f"server own {own:.1f} tok/s, server arrival {arrival:.1f} tok/s "
                f"({tokens} server tokens)"
            )
        print(f"server own / in-process decode:      {spread(own_ratio)}  (target ≥ 0.97)")
        print(f"server arrival / in-process decode:  {spread(arrival_ratio)}")
        print(
            f"(arrival − server own) / server own:  {spread(controller_vs_server)}  "
            "(target within ±0.03)"
        )
    finally:
        server.close()
        in_process.close()
        device.close()


if __name__ == "__main__":
    main()
