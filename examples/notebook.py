# %% [markdown]
# # melt results in a notebook
# Run a small sweep first, e.g.
# `melt bench --quant q8_0,q4_0 --max-new-tokens 16 --conversations 1 --store melt-results/`
# then run this file cell by cell (VS Code / Jupyter "percent" format) or as a script:
# `python examples/notebook.py [STORE]`. Needs `pip install 'melt[api]'`.

# %%
import sys

import melt.api as melt

results = melt.open_results(sys.argv[1] if len(sys.argv) > 1 else None)
runs = results.runs()
print(runs[["id", "model_name", "model_quant", "threads", "decode_tok_per_s_median"]])

# %% Per-turn decode rate against the context depth, per variant
turns = results.turns(runs.id.tolist())
measured = turns[~turns.warmup].merge(
    runs[["id", "model_quant"]], left_on="run_id", right_on="id", suffixes=("", "_run")
)
print(measured.groupby("model_quant")[["ttft_s", "decode_tok_per_s"]].median())

# %% Probe samples of the newest run, one column per series
samples = results.samples(int(runs.id.iloc[-1]))
if not samples.empty:
    wide = samples.pivot_table(index="t_s", columns=["probe", "channel"], values="value")
    print(wide.describe().T[["mean", "max"]])

# %% The report's tables: QoE verdicts and the roofline line per run
tables = results.report(runs.id.tolist())
print(tables["qoe"][["run_id", "check", "verdict"]].to_string(index=False))
print(tables["roofline"][["run_id", "says"]].to_string(index=False))

# %% Accuracy, joined with speed on the model file's sha256
scores = results.scores()
if not scores.empty:
    speed = runs.groupby("model_sha256").decode_tok_per_s_median.median().rename("decode_tok_s")
    print(scores.join(speed, on="model_sha256")[["model_quant", "task", "value", "decode_tok_s"]])
