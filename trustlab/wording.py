"""Counted nouns in messages and reports: "1 rater", "3 raters", "2 batches" (one home for the rule).

Torch-, gradio- and sqlalchemy-free, so the CLI, the analysis report and the app all use it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# Nouns whose plural is not the regular one (abbreviations in progress units stay as they are).
IRREGULAR = {"img": "img", "expl": "expl", "it": "it", "analysis": "analyses"}


def plural_of(noun: str) -> str:
    """The plural of an English noun: batch -> batches, rater -> raters."""
    if noun in IRREGULAR:
        return IRREGULAR[noun]
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun in the number that ``n`` needs: ``counted(1, "rater")`` is "1 rater"."""
    return f"{n} {noun if n == 1 else (plural or plural_of(noun))}"


def suggest(name: str, known: Iterable[str], *, n: int = 1, cutoff: float = 0.6, quote: str = "`") -> str:
    """A "did you mean …? " hint for a misspelt ``name`` among ``known``, or "" when nothing is close.

    The one home of the hint that config errors, unknown methods and unknown names in the CLI print.
    """
    close = difflib.get_close_matches(name, list(known), n=n, cutoff=cutoff)
    if not close:
        return ""
    return "did you mean " + " or ".join(f"{quote}{c}{quote}" for c in close) + "? "
