"""Tables of the results database.

Rows are written as they are produced: a run row first (status ``running``), then one
``turns`` row and one ``token_timestamps`` row per turn, each committed on its own, then
the run's final status. `SCHEMA_VERSION` is stored in ``melt_meta`` and identifies a file
as a melt database; it is also the Alembic head revision (melt/store/migrations): changing a
table here means adding a migration that makes the same change, and a fixture store.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy import BigInteger as Big

SCHEMA_VERSION = "6"

metadata = MetaData()

melt_meta = Table(
    "melt_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

experiments = Table(
    "experiments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", String(40), nullable=False),
    Column("name", String(200), nullable=False),
    Column("command", Text, nullable=False),
    Column("config", JSON, nullable=False),
)

environments = Table(
    "environments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("fingerprint", String(64), nullable=False, unique=True),
    Column("host", String(200)),
    Column("cpu_model", String(200)),
    Column("physical_cores", Integer),
    Column("logical_cores", Integer),
    Column("ram_bytes", Big),
    Column("os", String(200)),
    Column("kernel", String(200)),
    Column("arch", String(40)),
    Column("python", String(40)),
    Column("facts", JSON, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("experiment_id", ForeignKey("experiments.id"), nullable=False),
    Column("environment_id", ForeignKey("environments.id"), nullable=False),
    Column("repeat_index", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("error", Text),
    Column("started_at", String(40), nullable=False),
    Column("ended_at", String(40)),
    Column("device", String(200), nullable=False),
    Column("framework", String(40), nullable=False),
    Column("framework_version", String(80), nullable=False),
    Column("framework_system_info", Text),
    Column("model_name", String(200), nullable=False),
    Column("model_path", Text, nullable=False),
    Column("model_sha256", String(64), nullable=False),
    Column("model_quant", String(40), nullable=False),
    Column("model_size_bytes", Big, nullable=False),
    Column("model_source", String(40), nullable=False),
    Column("workload_name", Text, nullable=False),
    Column("workload_sha256", String(64), nullable=False),
    Column("workload_conversations", Integer, nullable=False),
    Column("threads", Integer),  # NULL: unknown (imported runs)
    Column("ctx", Integer),  # NULL: unknown (imported runs)
    Column("batch", Integer),  # NULL: unknown (imported runs)
    Column("max_new_tokens", Integer),  # NULL: unknown (imported runs)
    Column("seed", Integer),  # NULL: unknown (imported runs)
    Column("warmup_turns", Integer),  # NULL: unknown (imported runs)
    Column("settings", JSON, nullable=False),
    Column("load_time_s", Float),
    Column("model_bytes", Big),
    Column("model_rss_bytes", Big),
    Column("peak_rss_bytes", Big),
    Column("decode_consistency_rel_diff", Float),
    Column("summary", JSON),
    # Where the model ran, from the engine's own report (melt.compute.ComputeUse.record);
    # NULL: not recorded (runs before schema 6, imported runs).
    Column("compute", JSON),
    # The llama.cpp runtime melt built and ran (melt.runtimes: id, target, backend, sha256
    # of each binary); NULL: none of melt's (in process, a user's binary, a remote server).
    Column("runtime", JSON),
    # The process writing the run and when it last wrote (store/liveness.py).
    Column("pid", Integer),
    Column("host", String(200)),
    Column("heartbeat_at", String(40)),
)

turns = Table(
    "turns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id"), nullable=False, index=True),
    Column("conversation_index", Integer, nullable=False),
    Column("conversation_id", String(200), nullable=False),
    Column("turn_index", Integer, nullable=False),
    Column("warmup", Boolean, nullable=False),
    Column("wall_anchor_ns", Big),  # NULL: not recorded (imported runs)
    Column("submit_ns", Big),  # NULL: not recorded (imported runs)
    Column("prefill_start_ns", Big),
    Column("prefill_done_ns", Big),
    Column("first_token_ns", Big),
    Column("last_token_ns", Big),
    Column("end_ns", Big),  # NULL: not recorded (imported runs)
    Column("prompt_tokens", Integer),  # NULL: not reported
    Column("prompt_tokens_evaluated", Integer),  # NULL: not reported
    Column("prompt_tokens_reused", Integer),  # NULL: not reported
    Column("generated_tokens", Integer, nullable=False),
    Column("stop_reason", String(40), nullable=False),
    Column("history_turns_dropped", Integer, nullable=False),
    Column("cpu_time_s", Float),
    Column("rss_bytes", Big),
    Column("engine_timers", JSON),
    Column("ttft_s", Float),
    Column("prefill_s", Float),
    Column("prefill_tok_per_s", Float),
    Column("decode_s", Float),
    Column("decode_tok_per_s", Float),
    Column("e2e_s", Float),
    Column("output_text", Text),
)

token_timestamps = Table(
    "token_timestamps",
    metadata,
    Column("turn_id", ForeignKey("turns.id"), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("encoding", String(40), nullable=False),
    Column("data", LargeBinary, nullable=False),
)

op_timings = Table(
    "op_timings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id"), nullable=False, index=True),
    Column("graph_index", Integer, nullable=False),
    Column("node_index", Integer),
    Column("op", Text, nullable=False),
    Column("shape", Text, nullable=False),
    Column("calls", Integer, nullable=False),
    Column("wall_us", Float, nullable=False),
    Column("cpu_us", Float),
)

event_intervals = Table(
    "event_intervals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("start_ns", Big, nullable=False),
    Column("end_ns", Big),  # NULL: not recorded (imported runs)
)

energy_figures = Table(
    "energy_figures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id"), nullable=False, index=True),
    Column("window", String(200), nullable=False),
    Column("rail", String(100), nullable=False),
    Column("mode", String(20), nullable=False),
    Column("energy_mwh", Float, nullable=False),
    Column("charge_mah", Float),
    Column("samples", Integer, nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("source", Text, nullable=False),
    Column("provenance", String(20), nullable=False),
)

samples = Table(
    "samples",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id"), nullable=False, index=True),
    Column("t_ns", Big, nullable=False),
    Column("probe", String(40), nullable=False),
    Column("channel", String(120), nullable=False),
    Column("value", Float, nullable=False),
    Column("unit", String(20), nullable=False),
    Column("provenance", String(20), nullable=False),
)

sampling = Table(
    "sampling",
    metadata,
    Column("run_id", ForeignKey("runs.id"), primary_key=True),
    Column("target_hz", Float, nullable=False),
    Column("achieved_hz", Float),
    Column("wall_anchor_ns", Big, nullable=False),
    Column("started_ns", Big, nullable=False),
    Column("stopped_ns", Big, nullable=False),
    Column("ticks", Integer, nullable=False),
    Column("dropped", Integer, nullable=False),
    Column("cpu_s", Float),  # None: not measured
    Column("cpu_s_per_s", Float),
    Column("probes", JSON, nullable=False),
    Column("unavailable", JSON, nullable=False),
    Column("read_errors", JSON, nullable=False),
    Column("windows", JSON, nullable=False),
)

scores = Table(
    "scores",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", String(40), nullable=False),
    Column("model_name", String(200), nullable=False),
    Column("model_sha256", String(64), nullable=False, index=True),
    Column("model_quant", String(40), nullable=False),
    Column("model_path", Text, nullable=False),
    Column("task", String(200), nullable=False),
    Column("task_source", Text, nullable=False),
    Column("metric", String(40), nullable=False),
    Column("unit", String(40), nullable=False),
    Column("value", Float, nullable=False),
    Column("stderr", Float),
    Column("n", Integer, nullable=False),
    Column("item_limit", Integer),
    Column("sample_seed", Integer),
    Column("selection_sha256", String(64)),
    Column("num_fewshot", Integer, nullable=False),
    Column("reference_sha256", String(64)),
    Column("framework", String(40), nullable=False),
    Column("framework_version", String(80), nullable=False),
    Column("duration_s", Float),
    Column("items_per_s", Float),
    Column("settings", JSON, nullable=False),
)

# A row of llama.cpp's own tool run beside a run on the same device (`melt bench
# --reconcile`: llama-bench at the run's settings), verbatim in `row`, its key figures in
# columns.
tool_rows = Table(
    "tool_rows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id"), nullable=False, index=True),
    Column("tool", String(40), nullable=False),
    Column("test", String(40), nullable=False),  # llama-bench's: "pp32", "tg16", "pp32 @ d64"
    Column("n_prompt", Integer),
    Column("n_gen", Integer),
    Column("n_depth", Integer),
    Column("avg_tok_per_s", Float),
    Column("stddev_tok_per_s", Float),
    Column("argv", JSON, nullable=False),
    Column("row", JSON, nullable=False),
)

# A saved name for a run or experiment reference (``12`` or ``exp:3``): report/selection.py.
run_names = Table(
    "run_names",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("reference", String(40), nullable=False),
    Column("created_at", String(40), nullable=False),
)
