"""Runtimes: llama.cpp's own binaries (llama-server, llama-bench, llama-perplexity) built by
melt for a target and a backend from the llama.cpp melt pins, content-addressed and recorded
with their provenance (DESIGN: Compute backends and runtimes).

One concept per module: `targets` (where a runtime runs), `backends` (what ggml is built
with), `sources` (where llama.cpp comes from), `patches` (what melt changes in it), `places`
(where it is built), `build` (the CMake build), `cache` (where runtimes are kept), `choice`
(which runtime a device's run uses).
"""
