"""melt.api over a hand-made store: DataFrames with the stored rows and figures."""

from pathlib import Path

from tests.report.stores import sweep_store

import melt.api as melt


def test_runs_turns_samples_and_report_tables(tmp_path: Path) -> None:
    sweep_store(tmp_path / "s.db")
    results = melt.open_results(str(tmp_path / "s.db"))
    runs = results.runs()
    assert runs.id.tolist() == [1, 2, 3, 4]
    assert runs.model_quant.tolist() == ["Q8_0", "Q4_0", "Q8_0", "Q4_0"]
    assert set(runs.cpu_model) == {"Test CPU"}
    assert results.runs(experiment_id=2).id.tolist() == [3, 4]
    turns = results.turns([1])
    assert len(turns) == 5 and turns.prompt_tokens.tolist() == [50, 100, 150, 200, 250]
    samples = results.samples(1)
    assert samples.t_s.iloc[0] == 0.0 and set(samples.probe) == {
        "cpu",
        "thermal",
        "cpu_power_model",
    }
    assert set(samples[samples.probe == "cpu_power_model"].provenance) == {"estimated"}
    assert results.samples(2).empty
    assert results.scores().empty
    tables = results.report([1, 2])
    assert tables["summary"].run_id.tolist() == [1, 2]
    assert set(tables["qoe"].check) == {"reading", "responsiveness", "battery", "thermal"}


def test_the_example_notebook_runs_on_a_store(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    sweep_store(tmp_path / "s.db")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}
    done = subprocess.run(
        [sys.executable, str(root / "examples" / "notebook.py"), str(tmp_path / "s.db")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "faster than a person reads" in done.stdout
    assert "memory bandwidth unknown" in done.stdout
