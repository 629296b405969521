"""Every install hint names melt's real distribution (`melt-bench`; `melt` on PyPI is an
unrelated package) and an extra pyproject.toml defines: in the README, in the sources, and in
the messages melt prints when an optional part is missing."""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from melt.errors import MeltError
from melt.extras import DISTRIBUTION, EXTRAS, install_hint

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
DEFINED_EXTRAS = set(PYPROJECT["optional-dependencies"])
# `pip install [options] NAME[extras]`, the name quoted or not, across a line break
PIP_INSTALL = re.compile(r"pip install\s+(?:-{1,2}[\w-]+\s+)*['\"]?([A-Za-z0-9_.-]+)(\[[^\]]*\])?")
# `melt[x]` or `melt-bench[x]` wherever it is written (a docstring, a table cell)
EXTRA_SPEC = re.compile(r"(?<![\w-])(melt[\w-]*)\[([^\]]*)\]")


def hinted_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "src" / "melt").rglob("*.py"))]


def melt_hints() -> list[tuple[str, int, str, str]]:
    """(file, line, distribution, extras) of every hint that installs melt itself."""
    found = []
    for path in hinted_files():
        text = path.read_text()
        matches = [(m.start(), m.group(1), m.group(2) or "") for m in PIP_INSTALL.finditer(text)]
        matches += [(m.start(), m.group(1), f"[{m.group(2)}]") for m in EXTRA_SPEC.finditer(text)]
        for start, name, extras in matches:
            if name.lower().startswith("melt"):
                line = text.count("\n", 0, start) + 1
                found.append((str(path.relative_to(ROOT)), line, name, extras))
    return found


def test_the_distribution_is_the_one_pyproject_names() -> None:
    assert PYPROJECT["name"] == DISTRIBUTION == "melt-bench"
    assert PYPROJECT["scripts"] == {"melt": "melt.cli.main:run"}


def test_the_known_extras_are_pyprojects() -> None:
    assert EXTRAS == DEFINED_EXTRAS


def test_every_hint_names_the_distribution_and_a_defined_extra() -> None:
    hints = melt_hints()
    assert len(hints) >= 12  # the README's alone
    wrong = []
    for where, line, name, extras in hints:
        named = {e.strip() for e in extras.strip("[]").split(",") if e.strip()}
        if name != DISTRIBUTION or not named <= DEFINED_EXTRAS:
            wrong.append(f"{where}:{line}: {name}{extras}")
    assert wrong == []


def test_a_hint_for_an_undefined_extra_cannot_be_made() -> None:
    assert install_hint("fleet") == "pip install 'melt-bench[fleet]'"
    assert install_hint(upgrade=True) == "pip install -U melt-bench"
    with pytest.raises(ValueError, match="no extra 'ssh'"):
        install_hint("ssh")


def _ssh() -> Any:
    from melt.devices.ssh import _paramiko

    return _paramiko()


def _api() -> Any:
    from melt.api import _pandas

    return _pandas()


def _html() -> Any:
    from melt.report.html import _plotly_js

    return _plotly_js()


def _ray() -> Any:
    from melt.execution.ray_fleet import require_ray

    return require_ray()


def _ort() -> Any:
    from melt.frameworks.ort_genai.engine import import_og

    return import_og()


MISSING: dict[str, tuple[str, Callable[[], Any], str]] = {
    "paramiko": ("paramiko", _ssh, install_hint()),
    "pandas": ("pandas", _api, install_hint("api")),
    "plotly": ("plotly.offline", _html, install_hint("report")),
    "ray": ("ray", _ray, install_hint("fleet")),
    "onnxruntime-genai": ("onnxruntime_genai", _ort, install_hint("ort")),
}


@pytest.mark.parametrize("package", sorted(MISSING))
def test_a_missing_package_is_one_line_with_the_right_hint(
    package: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, call, hint = MISSING[package]
    monkeypatch.setitem(sys.modules, module, None)  # importing it now raises ImportError
    with pytest.raises(MeltError) as caught:
        call()
    message = str(caught.value)
    assert hint in message and "\n" not in message
    assert DISTRIBUTION in message
