"""Counted nouns in messages and reports: "1 rater", "3 raters", "2 batches" (one home for the rule).

Torch-, gradio- and sqlalchemy-free, so the CLI, the analysis report and the app all use it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

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
    return did_you_mean(difflib.get_close_matches(name, list(known), n=n, cutoff=cutoff), quote=quote)


def did_you_mean(candidates: Sequence[str], *, quote: str = "`") -> str:
    """The hint's wording for names already chosen (e.g. by a rule of their own): "did you mean
    `a`, `b` or `c`? ", or "" when there are none."""
    quoted = [f"{quote}{c}{quote}" for c in candidates]
    if not quoted:
        return ""
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"did you mean {listed}? "
