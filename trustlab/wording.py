"""Counted nouns in messages and reports: "1 rater", "3 raters", "2 batches" (one home for the rule).

Torch-, gradio- and sqlalchemy-free, so the CLI, the analysis report and the app all use it.
"""

from __future__ import annotations

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
