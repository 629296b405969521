"""A framework is one package plus one registry line: the fake framework (tests/fixtures/
fake_framework) gets its `melt bench` flag, its settings and its engine from that alone."""

import json
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from melt.config import RunSettings
from melt.errors import MeltError
from melt.frameworks import registry

FAKE = "tests.fixtures.fake_framework"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one registry line that adds the fake framework."""
    monkeypatch.setitem(registry.PACKAGES, "fake", FAKE)


def test_the_fake_frameworks_knob_is_a_bench_flag_with_its_help(
    fake: None, melt: Callable[..., object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    result = melt("bench", "--help")
    assert result.code == 0, result.err
    assert "--reply-word" in result.out
    assert "fake: the word every generated token decodes to." in result.out
    assert "fake (tests' stand-in, no model)" in result.out  # in --framework's help


def test_every_registered_knob_and_option_is_in_bench_help(
    melt: Callable[..., object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    out = melt("bench", "--help").out
    for knob, frameworks in registry.knobs().values():
        assert knob.flag_name in out and f"{', '.join(frameworks)}: {knob.help}" in out
    for option, frameworks in registry.options().values():
        assert option.flag in out and f"{', '.join(frameworks)}: {option.help}" in out


def test_the_fake_frameworks_knob_reaches_its_engine_and_the_store(
    fake: None, melt: Callable[..., object], tmp_path: Path
) -> None:
    model = tmp_path / "tiny.fake"
    model.write_bytes(b"no weights")
    workload = tmp_path / "w.json"
    workload.write_text(json.dumps([["Say hello.", "Again."]]))
    store = tmp_path / "melt.db"
    result = melt(
        "bench",
        "--framework",
        "fake",
        "--reply-word",
        "hello",
        "--model",
        str(model),
        "--workload",
        str(workload),
        "--max-new-tokens",
        "3",
        "--threads",
        "1",
        "--warmup",
        "0",
        "--store",
        str(store),
        "--json",
    )
    assert result.code == 0, result.err
    (cell,) = result.json()["cells"]
    assert cell["settings"]["engine"] == {"framework": "fake", "reply_word": "hello"}
    with sqlite3.connect(store) as db:
        replies = [r[0] for r in db.execute("select output_text from turns")]
    assert replies == ["hello hello hello"] * 2


def test_a_knob_of_another_framework_is_one_line(
    fake: None, melt: Callable[..., object], tmp_path: Path
) -> None:
    model = tmp_path / "tiny.fake"
    model.write_bytes(b"no weights")
    result = melt("bench", "--framework", "fake", "--model", str(model), "--flash-attn", "on")
    assert result.code == 2
    assert result.err.strip() == (
        "melt: error: --flash-attn is not a setting of fake (its own settings: --reply-word)"
    )


def test_run_settings_take_a_registered_frameworks_model(fake: None) -> None:
    from tests.fixtures.fake_framework.engine import FakeSettings

    settings = RunSettings.model_validate(
        {"threads": 1, "engine": {"framework": "fake", "reply_word": "x"}}
    )
    assert isinstance(settings.engine, FakeSettings)
    assert settings.model_dump()["engine"] == {"framework": "fake", "reply_word": "x"}
    assert RunSettings.model_validate(settings.model_dump()) == settings


def test_an_unregistered_framework_is_one_line_naming_the_known_ones() -> None:
    with pytest.raises(MeltError, match=r"unknown framework 'fake' \(known: llama-server, "):
        RunSettings.model_validate({"threads": 1, "engine": {"framework": "fake"}})


def test_each_declaration_matches_its_settings_model() -> None:
    for d in registry.declarations():
        model = d.settings_model()
        assert model.model_fields["framework"].default == d.name
        assert {k.name for k in d.knobs} <= set(model.model_fields) - {"framework"}


def test_frameworks_that_share_a_knob_must_declare_it_alike(
    fake: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    clash = registry.Knob("poll", "another poll.", str)
    declared = replace(registry.declaration("fake"), knobs=(clash,))
    monkeypatch.setitem(registry._LOADED, "fake", declared)
    with pytest.raises(RuntimeError, match="knob 'poll' of fake differs"):
        registry.knobs()


@pytest.mark.parametrize(
    ("framework", "quant"),
    [("llama.cpp", "q4_0"), ("llama-server", "q4_0"), ("onnxruntime-genai", "int4")],
)
def test_quant_takes_the_variant_names_a_framework_declares(framework: str, quant: str) -> None:
    from melt.config.experiment import experiment_from

    experiment = experiment_from({"framework": framework, "quants": [quant]}, "test")
    assert experiment.quants == [quant]
