"""ONNX Runtime GenAI in melt's process (`engine`) and its settings (`settings`), declared
here for the framework registry."""

from melt.frameworks.registry import Declaration, Kind, Knob, Needs

FRAMEWORK = Declaration(
    name="onnxruntime-genai",
    summary="in-process",
    kind=Kind.IN_PROCESS,
    implementation="melt.frameworks.ort_genai.engine:OrtGenAI",
    settings="melt.frameworks.ort_genai.settings:OrtGenAISettings",
    knobs=(
        Knob("provider", "execution provider (cpu)."),
        Knob(
            "provider_options",
            "provider option KEY=VALUE (repeatable).",
            repeatable=True,
            flag="--provider-option",
        ),
    ),
    needs=Needs(
        python_module="onnxruntime_genai",
        distribution="onnxruntime-genai",
        requirement="onnxruntime-genai>=0.18",
        local_only="its engine needs numpy, pydantic and onnxruntime-genai in the device's "
        "Python and its model is an export folder, which melt's runner does not deploy",
    ),
    formats=("ort-genai",),
    variants="melt.models.ort_export:PRECISIONS",
    scorer="melt.accuracy.ort_scorer:OrtScorer",
)
