"""The `trustlab` command: one thin verb per library function (see DESIGN.md)."""

from __future__ import annotations

import importlib
import logging

from trustlab.cli.app import app

log = logging.getLogger(__name__)

# Each module attaches its verbs to `app`; one owner per module.
VERB_MODULES = (
    "dbcmd", "datacmd", "modelcmd", "explaincmd", "studycmd", "studyplancmd", "servecmd", "accesscmd",
    "relabelcmd", "democmd",
    "doctorcmd", "modelimportcmd", "participantscmd",
    "importcmd",
)


def _load_verbs() -> None:
    for name in VERB_MODULES:
        try:
            importlib.import_module(f"trustlab.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"trustlab.cli.{name}":
                raise
            log.debug("CLI verbs of trustlab.cli.%s are not available", name, exc_info=True)


def main() -> None:
    _load_verbs()
    app()
