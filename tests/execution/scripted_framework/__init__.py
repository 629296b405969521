"""A framework the tests register to test orchestration with no model (run endings,
signals, retries): it goes through the real registry, runner, store and executor; only the
engine is made up, and every test using it says so. Registered by the `scripted` fixture:
`registry.PACKAGES["scripted"] = "tests.execution.scripted_framework"`."""

from melt.frameworks.registry import Declaration, Kind

FRAMEWORK = Declaration(
    name="scripted",
    summary="tests' scripted stand-in, no model",
    kind=Kind.IN_PROCESS,
    implementation="tests.execution.scripted_framework.engine:ScriptedFramework",
    settings="tests.execution.scripted_framework.engine:ScriptedSettings",
    formats=("scripted",),
)
