from pathlib import Path

import pytest

from melt.cli.bench import build_experiment
from melt.config import Experiment, expand
from melt.config.model_defaults import GENERIC, defaults_for
from melt.errors import MeltError


def test_lists_form_a_cartesian_product() -> None:
    exp = Experiment(quants=["Q8_0", "q4_0"], threads=[1, 2], max_new_tokens=[16])
    cells = expand(exp)
    assert [(c.quant, c.settings.threads) for c in cells] == [
        ("q8_0", 1),
        ("q8_0", 2),
        ("q4_0", 1),
        ("q4_0", 2),
    ]
    assert {c.settings.max_new_tokens for c in cells} == {16}


def test_model_defaults_fill_what_the_experiment_leaves() -> None:
    smol = defaults_for("smollm2-135m-instruct")
    (cell,) = expand(Experiment(threads=[1]))
    assert cell.settings.sampling.temperature == smol.sampling.temperature
    assert cell.settings.sampling.top_p == smol.sampling.top_p
    assert cell.settings.ctx == smol.ctx
    (other,) = expand(Experiment(models=["/x/other.gguf"], threads=[1]))
    assert other.settings.sampling.temperature == GENERIC.sampling.temperature
    (over,) = expand(Experiment(threads=[1], sampling={"temperature": 0.0, "seed": 9}))
    assert over.settings.sampling.temperature == 0.0 and over.settings.sampling.seed == 9


def test_yaml_with_flag_overrides(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("name: sweep\nquants: [q8_0, q4_0]\nthreads: [1]\nsampling: {seed: 3}\n")
    exp = build_experiment(path, {"threads": [2], "sampling": {"temperature": 0.5}})
    assert exp.name == "sweep" and exp.quants == ["q8_0", "q4_0"] and exp.threads == [2]
    assert exp.sampling.seed == 3 and exp.sampling.temperature == 0.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("quants: [q8_0]\ncolour: blue\n", "unknown key 'colour'"),
        ("threads: two\n", "threads: input should be a valid list"),
        ("threads: [1, zero]\n", "threads[1]"),
        ("repeats: 0\n", "repeats: input should be greater than 0"),
        ("sampling: {temprature: 1}\n", "unknown key 'sampling.temprature'"),
        ("quants: [q8_0\n", "line 2"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("quants: [q8_0, q9]\n", "quants: value error, unknown quantization 'q9' (valid: f32,"),
    ],
)
def test_yaml_errors_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    with pytest.raises(MeltError) as info:
        build_experiment(path, {})
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_flag_errors_name_the_flag() -> None:
    with pytest.raises(MeltError, match="--max-new-tokens: input should be greater than 0"):
        build_experiment(None, {"max_new_tokens": [0]})


def test_missing_experiment_file(tmp_path: Path) -> None:
    with pytest.raises(MeltError, match="not found"):
        build_experiment(tmp_path / "nope.yaml", {})
