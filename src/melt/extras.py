"""How a user installs melt or one of its optional parts: the one place install hints are made.

melt is published as the distribution `melt-bench` (the name `melt` on PyPI is an unrelated
package); the import package and the command stay `melt`. Every message that tells the user
to install something of melt's builds its text here, so no hint can name the wrong
distribution or an extra that pyproject.toml does not define (tests/test_install_hints.py
holds `EXTRAS` equal to pyproject's optional dependencies).
"""

from __future__ import annotations

DISTRIBUTION = "melt-bench"
# pyproject.toml's [project.optional-dependencies], by name
EXTRAS = frozenset(
    {
        "adb",
        "api",
        "convert",
        "fleet",
        "hub",
        "monsoon",
        "nvidia",
        "ort",
        "postgres",
        "report",
        "test",
    }
)


def install_hint(extra: str | None = None, *, upgrade: bool = False) -> str:
    """The command that installs melt (with `extra`), e.g. ``pip install 'melt-bench[ort]'``;
    `upgrade` makes it ``pip install -U ...``. An extra pyproject.toml does not define is a
    bug in the caller, not the user's mistake: it raises ValueError."""
    if extra is not None and extra not in EXTRAS:
        raise ValueError(f"{DISTRIBUTION} has no extra '{extra}' (extras: {sorted(EXTRAS)})")
    flag = "-U " if upgrade else ""
    if extra is None:
        return f"pip install {flag}{DISTRIBUTION}"
    return f"pip install {flag}'{DISTRIBUTION}[{extra}]'"
