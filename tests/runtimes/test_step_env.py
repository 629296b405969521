"""A build step's environment (`step_env`), applied the same way here and on a board: the
shell's compiler flags unset, the C locale, ccache's relative paths."""

from __future__ import annotations

import subprocess

import pytest

from melt.runtimes.build import step_env
from melt.runtimes.places import env_prefix, local_environment

SHOW = 'echo "${CFLAGS-unset} ${LANG} ${CCACHE_BASEDIR} ${KEPT}"'


def test_the_step_env_unsets_the_shells_flags_and_sets_the_rest_in_both_places(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = step_env("/w/src")
    shell = {"CFLAGS": "-mno-amx-tile", "LANG": "C.UTF-8", "KEPT": "yes", "PATH": "/usr/bin:/bin"}
    for name, value in shell.items():
        monkeypatch.setenv(name, value)  # this machine's shell
    here = subprocess.run(
        ["sh", "-c", SHOW], env=local_environment(env), text=True,
        capture_output=True, check=True,
    )  # fmt: skip
    # a board: its own shell's environment, the step run through the `env` prefix
    there = subprocess.run(
        [*env_prefix(env), "sh", "-c", SHOW], env=shell, text=True, capture_output=True,
        check=True,
    )  # fmt: skip
    assert here.stdout == there.stdout == "unset C /w/src yes\n"
