"""Framework settings of their own: each framework's knobs validated by its own model."""

import pytest

from melt.config import RunSettings
from melt.config.experiment import expand, experiment_from
from melt.config.settings import engine_knobs, engine_settings
from melt.errors import MeltError
from melt.frameworks.llama_server.framework import LlamaServerSettings
from melt.frameworks.llamacpp.settings import LlamaCppSettings
from melt.frameworks.ort_genai.settings import OrtGenAISettings

FLAGS = {"flash_attn": "--flash-attn", "cpu_mask": "--cpu-mask", "provider": "--provider"}


def test_each_framework_gets_its_own_settings_model() -> None:
    assert isinstance(engine_settings("llama.cpp", {"flash_attn": "on"}), LlamaCppSettings)
    ort = engine_settings("onnxruntime-genai", {"provider": "CPU"})
    assert isinstance(ort, OrtGenAISettings) and ort.provider == "cpu"


def test_a_knob_the_framework_does_not_have_is_one_line() -> None:
    with pytest.raises(MeltError) as err:
        engine_settings("onnxruntime-genai", {"flash_attn": "on"}, FLAGS)
    assert str(err.value) == (
        "--flash-attn is not a setting of onnxruntime-genai "
        "(its own settings: --provider, provider_options)"
    )
    with pytest.raises(MeltError, match=r"provider is not a setting of llama\.cpp"):
        engine_settings("llama.cpp", {"provider": "cpu"})
    with pytest.raises(MeltError) as err:
        engine_settings("openai-http", {"flash_attn": "on"}, FLAGS)
    assert str(err.value) == (
        "--flash-attn is not a setting of openai-http (it has no settings of its own)"
    )


def test_llama_server_has_llama_cpps_knobs() -> None:
    server = engine_settings("llama-server", {"flash_attn": "off", "cpu_mask": "0x1"}, FLAGS)
    assert isinstance(server, LlamaServerSettings)
    assert (server.flash_attn, server.cpu_mask, server.poll) == ("off", "0x1", 50)


def test_bad_values_name_the_flag() -> None:
    with pytest.raises(MeltError, match="--cpu-mask: value error, expected a non-zero hex"):
        engine_settings("llama.cpp", {"cpu_mask": "0x0"}, FLAGS)
    with pytest.raises(MeltError, match="--flash-attn: input should be 'on', 'off' or 'auto'"):
        engine_settings("llama.cpp", {"flash_attn": "yes"}, FLAGS)


def test_every_knob_is_in_the_settings_dump_and_the_changed_ones_are_shown() -> None:
    exp = experiment_from({"engine": {"flash_attn": "off", "poll": 0, "mmap": False}}, "t")
    settings = expand(exp)[0].settings
    dumped = settings.model_dump()["engine"]
    assert dumped["framework"] == "llama.cpp"
    assert set(LlamaCppSettings.model_fields) == set(dumped)
    assert engine_knobs(dumped) == "flash_attn=off, mmap=False, poll=0"
    assert engine_knobs(RunSettings(threads=1).model_dump()["engine"]) == "defaults"


def test_variant_names_follow_the_framework() -> None:
    exp = experiment_from({"framework": "onnxruntime-genai", "quants": ["INT4", "fp32"]}, "t")
    assert exp.quants == ["int4", "fp32"]
    with pytest.raises(MeltError, match=r"unknown quantization 'q4_0' \(valid: int4, fp32\)"):
        experiment_from({"framework": "onnxruntime-genai", "quants": ["q4_0"]}, "t")
    with pytest.raises(MeltError, match="unknown framework 'mlc'"):
        experiment_from({"framework": "mlc"}, "t")


def test_a_shared_setting_the_framework_has_no_knob_for_is_refused_when_set() -> None:
    ort = {"framework": "onnxruntime-genai", "threads": [1]}
    with pytest.raises(MeltError) as err:
        expand(experiment_from({**ort, "batch": [256]}, "t"), {"batch": "--batch"})
    assert str(err.value) == (
        "--batch is not a setting of onnxruntime-genai (its own settings: provider, "
        "provider_options)"
    )
    (cell,) = expand(experiment_from(ort, "t"))  # left unset, nothing to refuse
    assert isinstance(cell.settings.engine, OrtGenAISettings)
    (llama,) = expand(experiment_from({"batch": [256], "threads": [1]}, "t"))
    assert llama.settings.batch == 256  # llama.cpp applies it
