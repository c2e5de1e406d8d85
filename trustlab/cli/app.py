"""The `trustlab` Typer application and its command groups; verb modules attach to these.

Every verb gets ``--quiet/-q`` and ``--verbose/-v`` from :class:`VerbGroup` (so both
``trustlab --quiet predict …`` and ``trustlab predict … --quiet`` work), results go to stdout and logs to
stderr (trustlab/cli/output.py), and tables go through trustlab/cli/tables.py."""

from __future__ import annotations

import typer
from typer.core import TyperGroup

from trustlab.cli.output import (
    NORMAL,
    QUIET,
    QUIET_HELP,
    VERBOSE,
    VERBOSE_HELP,
    console,
    err_console,
    fail,
    refresh_width,
    set_verbosity,
    verbosity_options,
)

__all__ = ["app", "console", "err_console", "fail"]


class VerbGroup(TyperGroup):
    """A command group whose verbs (including those other modules add later) all take --quiet and
    --verbose."""

    def __init__(self, **attrs) -> None:
        super().__init__(**attrs)
        _add_verbosity(self)


def _add_verbosity(group: TyperGroup) -> None:
    """Give every verb under ``group`` (sub-groups made with any class included) --quiet/--verbose."""
    for command in group.commands.values():
        if isinstance(command, TyperGroup):
            _add_verbosity(command)
            continue
        names = {p.name for p in command.params}
        command.params.extend(o for o in verbosity_options() if o.name not in names)


def _group(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, cls=VerbGroup)


app = typer.Typer(
    name="trustlab",
    help="Find out whether explanations of an image classifier actually help people.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    cls=VerbGroup,
)
db_app = _group("Database maintenance.")
study_app = _group("Design, open, close and export user studies.")
user_app = _group("Accounts: add, disable, enable.")
token_app = _group("Sign-in tokens: revoke, purge expired ones.")
labels_app = _group("Merge classes and export curated labels.")
app.add_typer(db_app, name="db")
app.add_typer(study_app, name="study")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(labels_app, name="labels")


@app.callback()
def root(
    quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
    verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP),
) -> None:
    """Find out whether explanations of an image classifier actually help people.

    Results go to stdout (``--json`` for scripts), progress and notes to stderr. Exit codes: 0 done,
    1 an error in the input or state (the message names it), 2 wrong usage."""
    if quiet and verbose:
        raise fail("--quiet and --verbose exclude each other: give one", 2)
    refresh_width()
    set_verbosity(QUIET if quiet else VERBOSE if verbose else NORMAL)
