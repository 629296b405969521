"""`melt eval` scores with the frameworks that declare a scorer; any other is one line."""

from collections.abc import Callable

import pytest

SCORING = "(frameworks that score: llama.cpp, onnxruntime-genai)"


@pytest.mark.parametrize(
    "args",
    [
        ("--framework", "llama-server"),
        ("--framework", "openai-http"),
        ("--quant", "q8_0,llama-server:q4_0"),
    ],
)
def test_a_framework_eval_cannot_score_with_is_one_line(
    melt: Callable[..., object], args: tuple[str, ...]
) -> None:
    result = melt("eval", *args, "--limit", "1", "--threads", "1")
    assert result.code == 2, result.err
    framework = args[1].split(",")[-1].split(":")[0]
    assert result.err.strip() == (
        f"melt: error: --framework {framework}: melt eval cannot score with it {SCORING}"
    )
