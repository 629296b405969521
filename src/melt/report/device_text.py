"""What `melt eval --perplexity --device NAME` prints: each variant's perplexity and KL
divergence from the device's own llama-perplexity, against melt's reference on the
controller, and the runtime (binary sha256) that gave them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from melt.accuracy.llama_perplexity import DeviceText


def device_text_document(texts: Sequence[DeviceText], store: str) -> dict[str, Any]:
    return {
        "store": store,
        "variants": [
            {
                "model_sha256": t.artifact.sha256,
                "quant": t.artifact.quant,
                "device": t.device,
                "perplexity": t.scores.perplexity.value,
                "perplexity_stderr": t.scores.perplexity.stderr,
                "kld_nats": t.scores.divergence.kld_nats_mean,
                "kld_nats_stderr": t.scores.divergence.kld_nats_stderr,
                "top1_agreement": t.scores.divergence.top1_agreement,
                "reference_sha256": t.reference.sha256,
                "reference_perplexity_controller": t.reference_perplexity,
                "reference_perplexity_tool": t.scores.base_perplexity,
                "windows": t.scores.perplexity.windows,
                "window_tokens": t.scores.perplexity.window_tokens,
                "runtime": {
                    "tool": "llama-perplexity",
                    "path": t.tool_path,
                    "sha256": t.tool_sha256,
                },
            }
            for t in texts
        ],
    }


def device_text_table(texts: Sequence[DeviceText], store: str) -> Group:
    first = texts[0]
    title = (
        f"wiki.utf8 on '{first.device}' with its llama-perplexity (sha256 "
        f"{first.tool_sha256[:12]}), against {first.reference.quant} scored by melt here "
        f"(perplexity {first.reference_perplexity:.4f})"
    )
    table = Table(title=title, title_justify="left")
    for name in ("variant", "perplexity", "KLD nats", "same top-1", "windows"):
        table.add_column(name, justify="left" if name == "variant" else "right")
    for t in texts:
        ppl, div = t.scores.perplexity, t.scores.divergence
        table.add_row(
            Text(f"{t.artifact.name} {t.artifact.quant}"),
            Text(f"{ppl.value:.4f} ± {ppl.stderr:.4f}"),
            Text(f"{div.kld_nats_mean:.6f} ± {div.kld_nats_stderr:.6f}"),
            Text(f"{100 * div.top1_agreement:.3f}%"),
            Text(f"{ppl.windows} × {ppl.window_tokens}"),
        )
    return Group(table, Text(f"stored in {store}"))
