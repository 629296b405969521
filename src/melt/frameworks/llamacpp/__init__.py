"""llama.cpp in melt's process through llama-cpp-python (`engine`), its ggml threadpool
(`threadpool`) and its settings (`settings`), declared here for the framework registry."""

from melt.frameworks.registry import Declaration, Kind, Knob, Needs

# llama.cpp's own knobs as `melt bench` flags; llama-server (llama.cpp underneath) has them too.
KNOBS = (
    Knob("flash_attn", "flash attention on, off or auto."),
    Knob("cache_type_k", "K cache type (f16, q8_0, ...)."),
    Knob("cache_type_v", "V cache type (f16, q8_0, ...)."),
    Knob("cpu_mask", "CPUs to run on, hex (0x3 = CPU 0, 1)."),
    Knob("cpu_strict", "pin one thread per mask CPU.", bool),
    Knob("mmap", "memory-map weights.", bool),
    Knob("poll", "threadpool busy-wait level 0-100 (50).", int),
    Knob(
        "gpu_layers",
        "layers to offload to the accelerator, N or all (llama-bench -ngl; default 0: CPU); "
        "a list such as 0,16,all sweeps.",
        sweep=True,
    ),
    Knob("split_mode", "how to split the model across GPUs: none, layer or row."),
    Knob("main_gpu", "the GPU index for split mode none (llama.cpp --main-gpu).", int),
    Knob("accel_device", "the backend device to offload to, e.g. Vulkan0 (llama.cpp --device)."),
    Knob("kv_offload", "keep the KV cache on the accelerator (--no-kv-offload: on the CPU).", bool),
)
FRAMEWORK = Declaration(
    name="llama.cpp",
    summary="in-process, default",
    kind=Kind.IN_PROCESS,
    implementation="melt.frameworks.llamacpp.engine:LlamaCpp",
    settings="melt.frameworks.llamacpp.settings:LlamaCppSettings",
    knobs=KNOBS,
    needs=Needs(
        python_module="llama_cpp",
        distribution="llama-cpp-python",
        requirement="llama-cpp-python==0.3.36",
    ),
    formats=("gguf",),
    variants="melt.models.quant_types:QUANT_TYPES",
    scorer="melt.accuracy.scorer:Scorer",
)
