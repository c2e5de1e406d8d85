"""What every verb shares about output: results on stdout (text or ``--json``), logs on stderr,
``--quiet``/``--verbose``, and exit codes.

Exit codes: ``OK`` (0) done; ``INPUT_ERROR`` (1) an error in the input or the state, with a message
naming it; ``USAGE_ERROR`` (2) wrong usage (Click's own usage errors exit 2 too).

A verb::

    @app.command("thing")
    def thing(name: str, as_json: bool = JSON_OPTION) -> None:
        try:
            result = library_function(load_settings(), name=name)
        except KnownError as exc:
            raise fail(str(exc)) from None            # exit 1, "error: ..." on stderr
        emit(result, as_json=as_json, text=lambda: console.print(...))
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import logging
import math
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from trustlab import job_progress as progress

OK, INPUT_ERROR, USAGE_ERROR = 0, 1, 2
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET, NORMAL, VERBOSE = "quiet", "normal", "verbose"
# Levels of trustlab's logger on stderr for each verbosity.
LOG_LEVELS = {QUIET: logging.ERROR, NORMAL: logging.WARNING, VERBOSE: logging.DEBUG}

console = Console()  # results (stdout)
err_console = Console(stderr=True)  # logs, notes, warnings, errors (stderr)

JSON_OPTION = typer.Option(False, "--json", help="Print the result as one JSON value on stdout "
                           "(shapes: docs/cli.md).")
WIDE_OPTION = typer.Option(False, "--wide", help="Every column in one table, even when wider than "
                           "the terminal (default: the main columns, vertical when they do not fit).")

QUIET_HELP = "Results only: no progress bars, no notes."
VERBOSE_HELP = "Also trustlab's debug log (stderr)."

_state = {"verbosity": NORMAL}


def fail(message: str, code: int = INPUT_ERROR) -> typer.Exit:
    """Print ``error: message`` on stderr and return the Exit to raise (``raise fail(...)``).

    code: INPUT_ERROR (1) for bad input or state, USAGE_ERROR (2) for a usage mistake a verb detects
    itself (options that exclude each other, a malformed value Click cannot check)."""
    # The message is text: a name like "DSMB [safety]" must not be read as a style tag.
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False)
    return typer.Exit(code)


def usage_error(message: str) -> typer.Exit:
    """``fail(message, USAGE_ERROR)``."""
    return fail(message, USAGE_ERROR)


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types: dataclasses and mappings become objects, DataFrames lists of
    row objects, paths and dates strings, numpy scalars numbers, NaN and infinity null."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # a pandas DataFrame
        return [jsonable(row) for row in value.to_dict(orient="records")]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy arrays and scalars
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def to_json(value: Any) -> str:
    return json.dumps(jsonable(value), indent=2, allow_nan=False)


def emit(result: Any, *, as_json: bool, text: str | Callable[[], None] | None = None) -> None:
    """The verb's result: ``to_json(result)`` on stdout with ``--json``, else ``text`` (a line
    printed on stdout, or a function that prints the human-readable form)."""
    if as_json:
        typer.echo(to_json(result))
    elif callable(text):
        text()
    elif text is not None:
        console.print(text)


def info(message: str, *, markup: bool = False) -> None:
    """A log line for people (a note, a warning, where a file went): stderr, hidden by --quiet."""
    if _state["verbosity"] != QUIET:
        err_console.print(message, markup=markup, highlight=False)


def debug(message: str) -> None:
    """Shown with --verbose only."""
    if _state["verbosity"] == VERBOSE:
        err_console.print(message, markup=False, highlight=False)


def verbosity() -> str:
    return _state["verbosity"]


def set_verbosity(level: str) -> None:
    """QUIET: no progress, no notes, errors only; VERBOSE: trustlab's debug log on stderr too."""
    if level not in LOG_LEVELS:
        raise ValueError(f"verbosity {level!r} is not one of {', '.join(LOG_LEVELS)}")
    _state["verbosity"] = level
    progress.set_mode("off" if level == QUIET else None)
    configure_logging(logging.getLevelName(LOG_LEVELS[level]))


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time of the record (a test runner swaps it per call)."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging(level: str | int) -> None:
    """Send trustlab's log records at ``level`` and above to stderr (one handler, however often this
    runs)."""
    logger = logging.getLogger("trustlab")
    logger.setLevel(level if isinstance(level, int) else level.upper())
    if not any(getattr(h, "trustlab_cli", False) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler.trustlab_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)


def refresh_width() -> None:
    """Let COLUMNS (set by a shell, a test or a script) decide the width of the next tables."""
    columns = os.environ.get("COLUMNS", "")
    for target in (console, err_console):
        target.width = int(columns) if columns.isdigit() else None  # None: detect again


def _flag_callback(level: str) -> Callable[[bool], None]:
    def callback(value: bool) -> None:
        if value:  # only a given flag: the root callback already set the default for this run
            set_verbosity(level)
    return callback


def verbosity_options() -> list[Any]:
    """``--quiet/-q`` and ``--verbose/-v`` as Click options that every verb gets (see VerbGroup):
    made by Typer itself from a probe command, so they are Typer's own option objects."""
    probe = typer.Typer()

    @probe.command()
    def _probe(
        quiet: bool = typer.Option(False, "--quiet", "-q", is_eager=True, expose_value=False,
                                   callback=_flag_callback(QUIET), help=QUIET_HELP),
        verbose: bool = typer.Option(False, "--verbose", "-v", is_eager=True, expose_value=False,
                                     callback=_flag_callback(VERBOSE), help=VERBOSE_HELP),
    ) -> None:
        """Probe."""

    return [p for p in typer.main.get_command(probe).params if p.name in ("quiet", "verbose")]
