"""The `melt` command and its exit status (README: Exit status).

0: done. 1: something melt drove failed: a device or a server (one line on stderr), a run of
a fleet, a regression `compare --fail-on-regression` found. 2: the user's input is wrong (one
line naming it and the fix; nothing was measured). 128 + the signal on SIGINT (130),
SIGTERM (143), SIGHUP (129).
"""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console
from rich.logging import RichHandler

from melt.cli import (
    bench,
    devices,
    fleet,
    importer,
    models,
    profile,
    report,
    runs,
    runtimes,
    workload,
)
from melt.cli import compare as compare_cli
from melt.cli import eval as eval_cli
from melt.devices.base import DeviceError
from melt.errors import MeltError
from melt.frameworks.openai.client import ServerError
from melt.interrupts import Terminated, describe, install, restore
from melt.runtimes.build import BuildFailed
from melt.secrets import install_log_filter, mask_text
from melt.store import StoreUnavailable

try:  # typer ≥ 0.25 vendors click
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - older typer uses click itself
    from click.exceptions import ClickException, NoArgsIsHelpError, UsageError

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# One-line errors that are a fault of what melt drives, not of the user's input: they exit
# 1, as a fleet does when a device's run failed. Every other MeltError is the user's: 2.
FAULTS: tuple[type[MeltError], ...] = (DeviceError, ServerError, StoreUnavailable, BuildFailed)
# Commands that store what they measure as they go: an interrupt keeps it.
MEASURING = frozenset({"bench", "eval"})
KEPT = "everything measured so far is in the store"

app = typer.Typer(
    name="melt",
    help="Measure how well a large language model runs on a device.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("bench")(bench.bench)
app.command("eval")(eval_cli.eval_command)
app.add_typer(models.app, name="models")
app.add_typer(devices.app, name="devices")
app.add_typer(runs.app, name="runs")
app.add_typer(runtimes.app, name="runtimes")
app.add_typer(workload.app, name="workload")
app.command("import")(importer.import_)
app.command("profile")(profile.profile)
app.command("report")(report.report)
app.command("compare")(compare_cli.compare_command)
app.command("agent")(fleet.agent)
app.add_typer(fleet.app, name="fleet")

stderr = Console(stderr=True)


_invoked: list[str] = []  # the command this process runs (`bench`, `models`, ...)


@app.callback()
def main(
    ctx: typer.Context,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug details to stderr."),
) -> None:
    _invoked[:] = [ctx.invoked_subcommand or ""]
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=stderr, show_time=False, show_path=False)],
    )
    install_log_filter()  # no log line carries a URL password or a secret option's value


def run() -> None:
    previous = install()
    try:
        _run()
    finally:
        restore(previous)


def _stopped(why: str) -> str:
    """What melt says when a signal stops it: what it kept, where it measured anything."""
    return f"melt: {why}; {KEPT}" if set(_invoked) & MEASURING else f"melt: {why}"


def _run() -> None:
    _invoked.clear()
    try:
        code = app(standalone_mode=False)  # typer turns Ctrl-C into exit code 130 here
    except Terminated as exc:
        stderr.print(_stopped(describe(exc.signum)), markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except MeltError as exc:
        line = mask_text(str(exc))  # an error may quote a URL the user typed, password and all
        stderr.print(f"melt: error: {line}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(EXIT_FAILED if isinstance(exc, FAULTS) else EXIT_USAGE)
    except NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except UsageError as exc:
        stderr.print(f"melt: error: {exc.format_message()}", markup=False, soft_wrap=True)
        sys.exit(EXIT_USAGE)
    except ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        code = EXIT_INTERRUPTED
    if code == EXIT_INTERRUPTED:
        stderr.print(_stopped("interrupted"), markup=False, soft_wrap=True)
    if isinstance(code, int) and code:
        sys.exit(code)
