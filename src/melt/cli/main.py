"""The `melt` command: user mistakes become one line on stderr and exit status 2."""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console
from rich.logging import RichHandler

from melt.cli import bench, devices, fleet, importer, models, profile, report, runs, workload
from melt.cli import compare as compare_cli
from melt.cli import eval as eval_cli
from melt.errors import MeltError
from melt.interrupts import Terminated, describe, install, restore
from melt.secrets import install_log_filter

try:  # typer ≥ 0.25 vendors click
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - older typer uses click itself
    from click.exceptions import ClickException, NoArgsIsHelpError, UsageError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

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
app.add_typer(workload.app, name="workload")
app.command("import")(importer.import_)
app.command("profile")(profile.profile)
app.command("report")(report.report)
app.command("compare")(compare_cli.compare_command)
app.command("agent")(fleet.agent)
app.add_typer(fleet.app, name="fleet")

stderr = Console(stderr=True)


@app.callback()
def main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug details to stderr."),
) -> None:
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


def _run() -> None:
    try:
        code = app(standalone_mode=False)  # typer turns Ctrl-C into exit code 130 here
    except Terminated as exc:
        stderr.print(f"melt: {describe(exc.signum)}; everything measured so far is in the store")
        sys.exit(exc.exit_code)
    except MeltError as exc:
        stderr.print(f"melt: error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(EXIT_USAGE)
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
        stderr.print("melt: interrupted; everything measured so far is in the store")
    if isinstance(code, int) and code:
        sys.exit(code)
